/**
 * The data movement around the convolution GEMMs (conv-gemm.ts) in WebAssembly, emitted for one geometry
 * (every bound a constant): im2col ("gather", zero where taps fall in the padding, each cell written
 * once), col2im ("scatter-add"), the [N, O, P] <-> [O, N, P] swaps and the small transposes. Rows of
 * stride-1 taps are vector copies (or memory.copy when long) with scalar tails; other strides move
 * element by element. Functions take byte addresses in the plan memory.
 */
import { type ConvGeometry, tapRanges } from "../conv-geometry.js";
import { importPlanMemory } from "../plan-memory.js";
import type { FunctionBuilder, Local } from "./module-writer.js";
import { ModuleBuilder } from "./module-writer.js";
import {
  addRun,
  advance,
  copyRun,
  type Elements,
  elements,
  type MoveDType,
  repeat,
  zeroRun,
} from "./move-support.js";

/** The exports of a conv moves module; every argument is a byte address. */
export interface ConvMoves {
  /** cols (one group, [K, N*P]) from x, given x's address at the group's first channel. */
  gather(x: number, cols: number): void;
  /** x += col2im(cols), x at the group's first channel. */
  scatter(x: number, cols: number): void;
  /** [N, O, P] -> [O, N, P]. */
  toONP(src: number, dst: number): void;
  /** [O, N, P] -> [N, O, P]. */
  toNOP(src: number, dst: number): void;
  /** One group's weight [Og, K] -> [K, Og]. */
  transposeW(src: number, dst: number): void;
  /** ctT[n*P + p, o] = ct[n, o, p] for the Og channels of one group (src at its first channel). */
  transposeCt(src: number, dst: number): void;
  /** [K, Og] -> one group's [Og, K]. */
  transposeDw(src: number, dst: number): void;
  /** Zeroes an input-shaped array. */
  zeroInput(dst: number): void;
}

/** Elements moved one by one: unrolled up to this many, else a loop. */
const UNROLL_ELEMENTS = 64;

export function emitConvMoves(g: ConvGeometry, dtype: MoveDType, shared: boolean): Uint8Array {
  const el = elements(dtype);
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  emitTaps(module.function("gather", ["i32", "i32"], []), el, g, true);
  emitTaps(module.function("scatter", ["i32", "i32"], []), el, g, false);
  const Og = g.outChannels / g.groups;
  const Cg = g.inChannels / g.groups;
  const K = Cg * g.kernelHeight * g.kernelWidth;
  const P = g.outHeight * g.outWidth;
  const { batch: N, outChannels: O } = g;
  emitBlockSwap(module.function("toONP", ["i32", "i32"], []), el, N, O, P);
  emitBlockSwap(module.function("toNOP", ["i32", "i32"], []), el, O, N, P);
  emitTranspose(module.function("transposeW", ["i32", "i32"], []), el, Og, K, 1, 0, 0);
  emitTranspose(module.function("transposeCt", ["i32", "i32"], []), el, Og, P, N, O * P, P * Og);
  emitTranspose(module.function("transposeDw", ["i32", "i32"], []), el, K, Og, 1, 0, 0);
  const zero = module.function("zeroInput", ["i32"], []);
  zeroRun(zero, zero.param(0), 0, N * g.inChannels * g.inHeight * g.inWidth * el.bytes);
  return module.toBytes();
}

/** The gather (cols from x) or scatter-add (x += cols) of one group's taps. */
function emitTaps(fn: FunctionBuilder, el: Elements, g: ConvGeometry, gather: boolean): void {
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, kernelHeight: KH, kernelWidth: KW } = g;
  const { outHeight: OH, outWidth: OW, strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  const { dilationH: dh, dilationW: dw } = g;
  const es = el.bytes;
  const Cg = C / g.groups;
  const P = OH * OW;
  const NP = N * P;
  const [x, cols] = [fn.param(0), fn.param(1)];
  const [xc, cc, dst, src, rowCols, rowX] = [0, 1, 2, 3, 4, 5].map(() => fn.local("i32")) as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ];
  const [walkX, walkCols] = [fn.local("i32"), fn.local("i32")];
  /** One row of taps: cols at rowCols (+ jLo), x at rowX (the first valid tap). */
  const row = (jLo: number, jHi: number): void => {
    const L = jHi - jLo;
    if (gather) zeroRun(fn, rowCols, 0, jLo * es);
    if (sw === 1) {
      if (gather) copyRun(fn, rowCols, jLo * es, rowX, 0, L * es);
      else addRun(fn, el, rowX, 0, rowCols, jLo * es, L);
    } else {
      const move = (xp: Local, xOff: number, cp: Local, cOff: number): void => {
        if (gather) {
          fn.localGet(cp).localGet(xp);
          el.load(fn, xOff);
          el.store(fn, cOff);
        } else {
          fn.localGet(xp).localGet(xp);
          el.load(fn, xOff);
          fn.localGet(cp);
          el.load(fn, cOff);
          el.add(fn);
          el.store(fn, xOff);
        }
      };
      if (L <= UNROLL_ELEMENTS) {
        for (let j = 0; j < L; j++) move(rowX, j * sw * es, rowCols, (jLo + j) * es);
      } else {
        fn.localGet(rowX).localSet(walkX);
        fn.localGet(rowCols).localSet(walkCols);
        repeat(fn, L, () => {
          move(walkX, 0, walkCols, jLo * es);
          advance(fn, walkX, sw * es);
          advance(fn, walkCols, es);
        });
      }
    }
    if (gather) zeroRun(fn, rowCols, jHi * es, (OW - jHi) * es);
  };

  const taps = tapRanges(g);
  fn.localGet(x).localSet(xc);
  fn.localGet(cols).localSet(cc);
  repeat(fn, Cg, () => {
    for (let p = 0; p < KH; p++) {
      const { lo: iLo, hi: iHi } = taps.rows[p]!;
      for (let q = 0; q < KW; q++) {
        const { lo: jLo, hi: jHi } = taps.cols[q]!;
        const tapRow = (p * KW + q) * NP * es;
        if (iHi === iLo || jHi === jLo) {
          if (gather) zeroRun(fn, cc, tapRow, NP * es); // every tap of this (p, q) is padding
          continue;
        }
        fn.localGet(cc).i32Const(tapRow).i32Add().localSet(dst);
        const first = ((iLo * sh - pt + p * dh) * W + jLo * sw + q * dw - pl) * es;
        fn.localGet(xc).i32Const(first).i32Add().localSet(src);
        repeat(fn, N, () => {
          if (gather) zeroRun(fn, dst, 0, iLo * OW * es);
          fn.localGet(dst)
            .i32Const(iLo * OW * es)
            .i32Add()
            .localSet(rowCols);
          fn.localGet(src).localSet(rowX);
          repeat(fn, iHi - iLo, () => {
            row(jLo, jHi);
            advance(fn, rowCols, OW * es);
            advance(fn, rowX, sh * W * es);
          });
          if (gather) zeroRun(fn, dst, iHi * OW * es, (OH - iHi) * OW * es);
          advance(fn, dst, P * es);
          advance(fn, src, C * H * W * es);
        });
      }
    }
    advance(fn, xc, H * W * es);
    advance(fn, cc, KH * KW * NP * es);
  });
}

/** [A, B, P] -> [B, A, P]: A*B copies of P contiguous elements. */
function emitBlockSwap(fn: FunctionBuilder, el: Elements, A: number, B: number, P: number): void {
  const [src, dst] = [fn.param(0), fn.param(1)];
  const [s, d, dRow] = [fn.local("i32"), fn.local("i32"), fn.local("i32")];
  const block = P * el.bytes;
  fn.localGet(src).localSet(s);
  fn.localGet(dst).localSet(dRow);
  repeat(fn, A, () => {
    fn.localGet(dRow).localSet(d);
    repeat(fn, B, () => {
      copyRun(fn, d, 0, s, 0, block);
      advance(fn, s, block);
      advance(fn, d, A * block);
    });
    advance(fn, dRow, block);
  });
}

/**
 * dst[c*rows + r] = src[r*cols + c] for `batch` matrices (src and dst advancing by the given element
 * strides). The smaller dimension is unrolled when it is small.
 */
function emitTranspose(
  fn: FunctionBuilder,
  el: Elements,
  rows: number,
  cols: number,
  batch: number,
  srcBatch: number,
  dstBatch: number,
): void {
  const es = el.bytes;
  const [src, dst] = [fn.param(0), fn.param(1)];
  const [s, d, sb, db] = [fn.local("i32"), fn.local("i32"), fn.local("i32"), fn.local("i32")];
  const [si, di] = [fn.local("i32"), fn.local("i32")];
  const move = (sp: Local, sOff: number, dp: Local, dOff: number): void => {
    fn.localGet(dp).localGet(sp);
    el.load(fn, sOff);
    el.store(fn, dOff);
  };
  fn.localGet(src).localSet(sb);
  fn.localGet(dst).localSet(db);
  repeat(fn, batch, () => {
    fn.localGet(sb).localSet(s);
    fn.localGet(db).localSet(d);
    if (rows <= cols && rows <= 32) {
      // for each column c: the `rows` elements of src column c into dst row c
      repeat(fn, cols, () => {
        for (let r = 0; r < rows; r++) move(s, r * cols * es, d, r * es);
        advance(fn, s, es);
        advance(fn, d, rows * es);
      });
    } else if (cols <= 32) {
      // for each row r: src row r into dst column r
      repeat(fn, rows, () => {
        for (let c = 0; c < cols; c++) move(s, c * es, d, c * rows * es);
        advance(fn, s, cols * es);
        advance(fn, d, es);
      });
    } else {
      repeat(fn, cols, () => {
        fn.localGet(s).localSet(si);
        fn.localGet(d).localSet(di);
        repeat(fn, rows, () => {
          move(si, 0, di, 0);
          advance(fn, si, cols * es);
          advance(fn, di, es);
        });
        advance(fn, s, es);
        advance(fn, d, rows * es);
      });
    }
    advance(fn, sb, srcBatch * es);
    advance(fn, db, dstBatch * es);
  });
}

/** Compile-time key of a geometry's moves module. */
export function convMovesKey(g: ConvGeometry, dtype: MoveDType): string {
  return `conv moves ${dtype} ${JSON.stringify(g)}`;
}
