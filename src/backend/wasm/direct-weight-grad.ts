/**
 * The weight gradient of a stride-1 convolution without padding, dilation or groups (where
 * direct-conv.ts runs the forward), as a GEMM whose unrolled input is read from x in place:
 *
 *   dw[o, k] = Σ_{n,i,j} x[n, c, i+p, j+q] · ct[n, o, i, j]      k = (c*KH + p)*KW + q
 *
 * is the im2col GEMM dwᵀ [K, O] = cols [K, N*P] @ ctᵀ [N*P, O] (conv-gemm.ts), with cols[k, (n,i,j)] =
 * x at a constant offset per tap from the (n, i, j) position. A tile is 4 taps (rows of cols) times a few
 * vectors of output channels (columns of ctᵀ, which the caller transposes as the GEMM path does): per
 * step (n, i, j) it splats 4 elements of x and loads the vectors of ctᵀ's row, like the GEMM's 4 x 2
 * micro-kernel; steps walk output rows, so x's pointer skips W - OW at the end of each. Every output is
 * summed from zero over the steps in order with the GEMM's multiply-add, so the result has the bits of
 * the im2col GEMM, without writing and reading the K copies of x.
 *
 * The last tap tile is moved back to end at K (it recomputes a few taps with the same bits). Chunks are
 * (tap tile, group of channel vectors); threaded kernels share them with the workers of threads.ts.
 */
import { type ConvGeometry, tapOffset } from "../conv-geometry.js";
import { importPlanMemory } from "../plan-memory.js";
import { elementOps, type GemmDType } from "./gemm.js";
import { type FunctionBuilder, type Local, ModuleBuilder } from "./module-writer.js";
import { advance, emitPrepare, repeat } from "./move-support.js";

/** The exports of a weight gradient module; addresses are byte offsets in the plan memory. */
export interface DirectWeightGradExports {
  /** Records x [N, C, H, W], ctᵀ [N*OH*OW, O] (read up to a vector past its end) and dw [O, C, KH, KW]. */
  prepare(x: number, ctT: number, dw: number): void;
  /** Computes chunk `chunk` (a tap tile times a group of channel vectors); `thread` is unused. */
  rows(chunk: number, thread: number): void;
}

const CONTROL = { counter: 0, x: 1, ct: 2, dw: 3 } as const;
export const DIRECT_WEIGHT_GRAD_CONTROL_BYTES = 16;

/** Taps per tile and channel vectors per tile: the GEMM's 4 x 2 micro-kernel (8 accumulators). */
const TILE_TAPS = 4;
const TILE_VECTORS = 2;

/** The first tap of every tile: tiles of TILE_TAPS, the last moved back to end at K. */
function tapTiles(K: number): number[] {
  if (K <= TILE_TAPS) return [0];
  const starts: number[] = [];
  for (let k = 0; k + TILE_TAPS <= K; k += TILE_TAPS) starts.push(k);
  if (starts[starts.length - 1]! + TILE_TAPS < K) starts.push(K - TILE_TAPS);
  return starts;
}

/** How the gradient is tiled: tap tiles, and groups of channel vectors (the last may have fewer). */
export function weightGradTiling(g: ConvGeometry, lanes: number) {
  const K = g.inChannels * g.kernelHeight * g.kernelWidth;
  const vectors = Math.ceil(g.outChannels / lanes);
  const taps = tapTiles(K);
  const groups = Math.ceil(vectors / TILE_VECTORS);
  return { K, vectors, taps, groups, chunks: taps.length * groups };
}

/** Elements of ctᵀ a kernel may read past its end (the lanes of the last vector beyond O). */
export function weightGradSlack(g: ConvGeometry, lanes: number): number {
  return Math.ceil(g.outChannels / lanes) * lanes - g.outChannels;
}

export function emitDirectWeightGrad(
  g: ConvGeometry,
  dtype: GemmDType,
  options: { relaxedSimd: boolean; shared: boolean; control: number },
): Uint8Array {
  const { control } = options;
  const ops = elementOps(dtype, options.relaxedSimd);
  const es = ops.bytes;
  const lanes = ops.lanes;
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, outChannels: O } = g;
  const { outHeight: OH, outWidth: OW } = g;
  const { K, vectors, taps, groups, chunks } = weightGradTiling(g, lanes);
  const rowsPerTile = Math.min(TILE_TAPS, K);
  const module = new ModuleBuilder();
  importPlanMemory(module, options.shared);

  /**
   * tile(x, ct, dw): taps at element offsets `offsets` from x (the tile's first tap at (0, 0, 0)), times
   * `tileVectors` vectors of channels from `ct` (ctᵀ at the group's first channel), into dw at (the
   * group's first channel, the tile's first tap); `channels` of the group's lanes are stored.
   */
  const tileFunctions = new Map<string, FunctionBuilder>();
  const tileFunction = (
    offsets: readonly number[],
    tileVectors: number,
    channels: number,
  ): FunctionBuilder => {
    const key = `${offsets.join(",")}:${tileVectors}:${channels}`;
    const existing = tileFunctions.get(key);
    if (existing) return existing;
    const fn = module.function(null, ["i32", "i32", "i32"], []);
    tileFunctions.set(key, fn);
    const [x, ct, dw] = [fn.param(0), fn.param(1), fn.param(2)];
    const bRow = Array.from({ length: tileVectors }, () => fn.local("v128"));
    const splat = fn.local("v128");
    // v128 locals start at zero, the sum's initial value.
    const acc: Local[][] = offsets.map(() => bRow.map(() => fn.local("v128")));
    const [xAt, ctAt] = [fn.local("i32"), fn.local("i32")];
    fn.localGet(x).localSet(xAt);
    fn.localGet(ct).localSet(ctAt);
    repeat(fn, N, () => {
      repeat(fn, OH, () => {
        repeat(fn, OW, () => {
          for (let v = 0; v < tileVectors; v++)
            fn.localGet(ctAt)
              .v128Load({ offset: v * lanes * es, align: 0 })
              .localSet(bRow[v]!);
          for (let r = 0; r < offsets.length; r++) {
            fn.localGet(xAt);
            ops.loadSplat(fn, { offset: offsets[r]! * es });
            fn.localSet(splat);
            for (let v = 0; v < tileVectors; v++) ops.multiplyAdd(fn, acc[r]![v]!, splat, bRow[v]!);
          }
          advance(fn, xAt, es);
          advance(fn, ctAt, O * es);
        });
        advance(fn, xAt, (W - OW) * es);
      });
      advance(fn, xAt, (C * H - OH) * W * es);
    });
    // dw[o, k]: lane l of vector v is channel v*lanes + l of the group, at stride K.
    for (let r = 0; r < offsets.length; r++)
      for (let v = 0; v < tileVectors; v++)
        for (let l = 0; l < lanes && v * lanes + l < channels; l++) {
          fn.localGet(dw).localGet(acc[r]![v]!);
          ops.extractLane(fn, l);
          ops.storeScalar(fn, { offset: ((v * lanes + l) * K + r) * es });
        }
    return fn;
  };

  // ---- prepare(x, ct, dw): the control block's words 1 to 3 (CONTROL)
  emitPrepare(module, control);

  // ---- rows(chunk, thread): tap tile chunk / groups, channel group chunk % groups
  const fn = module.function("rows", ["i32", "i32"], []);
  const chunk = fn.param(0);
  const [tile, group] = fn.locals("i32", 2);
  fn.localGet(chunk).i32Const(groups).i32DivU().localSet(tile);
  fn.localGet(chunk).i32Const(groups).i32RemU().localSet(group);
  const word = (slot: number): void => void fn.i32Const(control).i32Load({ offset: slot * 4 });
  if (chunks > 0) {
    taps.forEach((k0, t) => {
      const base = tapOffset(g, k0);
      const offsets = Array.from({ length: rowsPerTile }, (_, r) => tapOffset(g, k0 + r) - base);
      fn.localGet(tile).i32Const(t).i32Eq();
      fn.if();
      for (let q = 0; q < groups; q++) {
        const firstVector = q * TILE_VECTORS;
        const tileVectors = Math.min(TILE_VECTORS, vectors - firstVector);
        const channels = Math.min(tileVectors * lanes, O - firstVector * lanes);
        const call = (): void => {
          word(CONTROL.x);
          fn.i32Const(base * es).i32Add();
          word(CONTROL.ct);
          fn.i32Const(firstVector * lanes * es).i32Add();
          word(CONTROL.dw);
          fn.i32Const((firstVector * lanes * K + k0) * es).i32Add();
          fn.call(tileFunction(offsets, tileVectors, channels));
        };
        if (groups === 1) call();
        else {
          fn.localGet(group).i32Const(q).i32Eq();
          fn.if();
          call();
          fn.end();
        }
      }
      fn.end();
    });
  }
  return module.toBytes();
}
