/**
 * The weight gradient of a stride-1 convolution without padding, dilation or groups, vectorized over
 * output columns, for rows that are whole vectors (OW a multiple of the lanes; kernel-choice.ts
 * `columnOrderWeightGrad`):
 *
 *   dw[o, k] = Σ_{n,i,j} x[n, c, i+p, j+q] · ct[n, o, i, j]      k = (c*KH + p)*KW + q
 *
 * Each output's accumulator holds one partial sum per lane (columns j ≡ lane mod lanes), summed across
 * lanes at the end. Both operands are read in place in NCHW: ct's vectors along a row, and x's at a constant
 * offset per tap. direct-weight-grad.ts instead puts output channels in the lanes, after transposing ct;
 * with few channels (LeNet's conv1: 6 in 8 lanes, and 25 taps in tiles of 4) a third of its lanes are
 * padding and the transpose costs a quarter of its time, so conv1's weight gradient runs here.
 *
 * A tile is a block of output channels times a block of taps, its accumulators in v128 locals. The
 * last block of each is moved back to end at O and K: its outputs that the block before also computes
 * come out with the same bits. Each output is summed by one tile in a fixed order (per lane over n, i, j
 * in turn, then lanes 0, 1, ... in turn), so the chunks give the same bits on any threads (conv-gemm.ts
 * shares them with the workers only for many taps, and says why). They are not the bits of the im2col
 * GEMM, which sums every product in one sequence; the JS backend's kernel for these geometries
 * (conv-gemm.ts) sums in this order too.
 */
import { type ConvGeometry, tapOffset } from "../conv-geometry.js";
import { importPlanMemory } from "../plan-memory.js";
import { elementOps, type GemmDType } from "./gemm.js";
import { type FunctionBuilder, type Local, ModuleBuilder } from "./module-writer.js";
import { advance, emitPrepare, repeat } from "./move-support.js";

const CONTROL = { counter: 0, x: 1, ct: 2, dw: 3 } as const;
export const COLUMN_WEIGHT_GRAD_CONTROL_BYTES = 16;

/** Most v128 values a tile keeps live (accumulators, ct vectors, x vectors): within V8's 16 xmm registers. */
const TILE_REGISTERS = 15;
/** Accumulators a tile needs so the multiply-adds do not wait on each other's latency (direct-conv.ts). */
const LATENCY_ACCUMULATORS = 8;

/** Block starts of `size` in blocks of `block`, the last moved back to end at `size`. */
function blockStarts(size: number, block: number): number[] {
  const starts: number[] = [];
  for (let s = 0; s + block <= size; s += block) starts.push(s);
  if (starts.length === 0 || starts[starts.length - 1]! + block < size)
    starts.push(Math.max(0, size - block));
  return starts;
}

/** How the gradient is tiled: channel blocks times tap blocks, a chunk each. */
export interface ColumnWeightGradTiling {
  readonly channelBlock: number;
  readonly tapBlock: number;
  readonly channelStarts: readonly number[];
  readonly tapStarts: readonly number[];
  readonly chunks: number;
}

/**
 * The tile with the least estimated work: outputs computed (recomputed ones included) times
 * max(accumulators, LATENCY_ACCUMULATORS) / accumulators, plus the tile's loads at a third each.
 */
export function columnWeightGradTiling(g: ConvGeometry): ColumnWeightGradTiling {
  const O = g.outChannels;
  const K = g.inChannels * g.kernelHeight * g.kernelWidth;
  let best: { cost: number; channelBlock: number; tapBlock: number } | null = null;
  for (let channelBlock = 1; channelBlock <= Math.min(O, 8); channelBlock++) {
    for (let tapBlock = 1; tapBlock <= Math.min(K, 8); tapBlock++) {
      const accumulators = channelBlock * tapBlock;
      if (accumulators + channelBlock + tapBlock > TILE_REGISTERS) continue;
      const tiles = blockStarts(O, channelBlock).length * blockStarts(K, tapBlock).length;
      const cost = tiles * (Math.max(accumulators, LATENCY_ACCUMULATORS) + (channelBlock + tapBlock) / 3);
      if (!best || cost < best.cost - 1e-9) best = { cost, channelBlock, tapBlock };
    }
  }
  const { channelBlock, tapBlock } = best ?? { channelBlock: 1, tapBlock: 1 };
  const channelStarts = blockStarts(O, channelBlock);
  const tapStarts = blockStarts(K, tapBlock);
  return {
    channelBlock,
    tapBlock,
    channelStarts,
    tapStarts,
    chunks: channelStarts.length * tapStarts.length,
  };
}

/**
 * The module of one geometry, over the imported plan memory (`shared` when threaded), exporting
 * prepare(x, ct, dw) (x [N, C, H, W], ct [N, O, OH, OW], dw [O, C, KH, KW], byte addresses) and
 * rows(chunk, thread) (one tile: channel block chunk / tap blocks, tap block chunk % tap blocks).
 */
export function emitColumnWeightGrad(
  g: ConvGeometry,
  dtype: GemmDType,
  options: { relaxedSimd: boolean; shared: boolean; control: number; tiling: ColumnWeightGradTiling },
): Uint8Array {
  const { control, tiling } = options;
  const ops = elementOps(dtype, options.relaxedSimd);
  const { bytes: es, lanes } = ops;
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, outChannels: O } = g;
  const { kernelHeight: KH, kernelWidth: KW, outHeight: OH, outWidth: OW } = g;
  const K = C * KH * KW;
  const module = new ModuleBuilder();
  importPlanMemory(module, options.shared);

  /** tile(x, ct, dw) for the taps from k0: x at (0, 0, 0, 0), ct at (0, o0), dw at (o0, k0). */
  const tileFunction = (k0: number): FunctionBuilder => {
    const fn = module.function(null, ["i32", "i32", "i32"], []);
    const [x, ct, dw] = [fn.param(0), fn.param(1), fn.param(2)];
    const { channelBlock: cb, tapBlock: tb } = tiling;
    const ctVectors = Array.from({ length: cb }, () => fn.local("v128"));
    const xVectors = Array.from({ length: tb }, () => fn.local("v128"));
    // v128 locals start at zero, the sums' initial value.
    const acc: Local[][] = ctVectors.map(() => xVectors.map(() => fn.local("v128")));
    const [xAt, ctAt] = [fn.local("i32"), fn.local("i32")];
    fn.localGet(x).localSet(xAt);
    fn.localGet(ct).localSet(ctAt);
    repeat(fn, N, () => {
      repeat(fn, OH, () => {
        repeat(fn, OW / lanes, () => {
          for (let a = 0; a < cb; a++)
            fn.localGet(ctAt)
              .v128Load({ offset: a * OH * OW * es, align: 0 })
              .localSet(ctVectors[a]!);
          for (let b = 0; b < tb; b++)
            fn.localGet(xAt)
              .v128Load({ offset: tapOffset(g, k0 + b) * es, align: 0 })
              .localSet(xVectors[b]!);
          for (let a = 0; a < cb; a++)
            for (let b = 0; b < tb; b++) ops.multiplyAdd(fn, acc[a]![b]!, ctVectors[a]!, xVectors[b]!);
          advance(fn, xAt, lanes * es);
          advance(fn, ctAt, lanes * es);
        });
        advance(fn, xAt, (W - OW) * es);
      });
      // x: from image n's row OH to image n + 1's row 0; ct: from image n's channel o0 + 1 to n + 1's o0
      advance(fn, xAt, (C * H - OH) * W * es);
      advance(fn, ctAt, (O - 1) * OH * OW * es);
    });
    for (let a = 0; a < cb; a++)
      for (let b = 0; b < tb; b++) {
        fn.localGet(dw);
        for (let l = 0; l < lanes; l++) {
          fn.localGet(acc[a]![b]!);
          ops.extractLane(fn, l);
          if (l > 0) dtype === "float32" ? fn.f32Add() : fn.f64Add();
        }
        ops.storeScalar(fn, { offset: (a * K + b) * es });
      }
    return fn;
  };

  // ---- prepare(x, ct, dw): the control block's words 1 to 3 (CONTROL)
  emitPrepare(module, control);

  // ---- rows(chunk, thread): channel block chunk / tap blocks, tap block chunk % tap blocks
  const tapBlocks = tiling.tapStarts.length;
  const fn = module.function("rows", ["i32", "i32"], []);
  const chunk = fn.param(0);
  const [channelIndex, tapIndex, o0] = fn.locals("i32", 3);
  fn.localGet(chunk).i32Const(tapBlocks).i32DivU().localSet(channelIndex);
  fn.localGet(chunk).i32Const(tapBlocks).i32RemU().localSet(tapIndex);
  // o0 = channelStarts[channelIndex]: blocks of channelBlock, the last moved back
  const lastStart = tiling.channelStarts[tiling.channelStarts.length - 1]!;
  fn.localGet(channelIndex).i32Const(tiling.channelBlock).i32Mul();
  fn.i32Const(lastStart);
  fn.localGet(channelIndex).i32Const(tiling.channelBlock).i32Mul().i32Const(lastStart).i32LtU();
  fn.op("select").localSet(o0);
  const word = (slot: number): void => void fn.i32Const(control).i32Load({ offset: slot * 4 });
  tiling.tapStarts.forEach((k0, t) => {
    const tile = tileFunction(k0);
    fn.localGet(tapIndex).i32Const(t).i32Eq();
    fn.if();
    word(CONTROL.x);
    word(CONTROL.ct);
    fn.localGet(o0)
      .i32Const(OH * OW * es)
      .i32Mul()
      .i32Add();
    word(CONTROL.dw);
    fn.localGet(o0)
      .i32Const(K * es)
      .i32Mul()
      .i32Add()
      .i32Const(k0 * es)
      .i32Add();
    fn.call(tile);
    fn.end();
  });
  return module.toBytes();
}
