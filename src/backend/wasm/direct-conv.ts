/**
 * A direct convolution in WebAssembly SIMD for stride-1 convolutions without padding, dilation or groups
 * (LeNet's layers), emitted for one geometry: y[n, o, i, j] = Σ_{c,p,q} w[o, c, p, q] · x[n, c, i+p, j+q].
 *
 * There is no unrolled input: the im2col GEMM (conv-gemm.ts) writes and reads K = C*KH*KW copies of the
 * input and then swaps [O, N, P] to [N, O, P]; here each output row is computed in place, in NCHW. A tile
 * is a block of output channels times a few vectors of adjacent output columns of one row, its
 * accumulators in v128 locals; for every tap the tile's input vectors are loaded once (unaligned, at a
 * constant offset) and multiplied by each channel's weight, splat from memory. The last vectors of a row
 * are moved back to end at the row's end, so they recompute a few columns of the one before (same bits).
 *
 * The taps are summed from zero in k = (c*KH + p)*KW + q order with the GEMM's multiply-add (gemm.ts
 * elementOps), so every output has the bits of the im2col GEMM, which sums the same products in the same
 * order.
 *
 * Registers: V8 on x64 has 16 xmm registers, and TurboFan issues a loop body's loads before its
 * arithmetic, so the tap loop's body is one tap, and a tile's accumulators, input vectors and splats stay
 * within TILE_REGISTERS (wider tiles spill; with a body of KW taps, or a fully unrolled one, they all did).
 *
 * Work is split in chunks of (image, band of output rows); a threaded kernel's chunks are taken by the
 * calling thread and the workers of threads.ts from a counter in the kernel's control block.
 */
import type { ConvGeometry } from "../conv-geometry.js";
import { importPlanMemory } from "../plan-memory.js";
import { elementOps, type GemmDType } from "./gemm.js";
import { type FunctionBuilder, type Local, ModuleBuilder } from "./module-writer.js";
import { advance, emitPrepare, repeat } from "./move-support.js";

/** The exports of a direct convolution module; addresses are byte offsets in the plan memory. */
export interface DirectConvExports {
  /** Records x [N, C, H, W], w [O, C, KH, KW] and y [N, O, OH, OW] for `rows`, and resets the counter. */
  prepare(x: number, w: number, y: number): void;
  /** Computes chunk `chunk` (one band of output rows of one image); `thread` is unused. */
  rows(chunk: number, thread: number): void;
}

/** Control block words: the chunk counter (threads.ts), then the operand addresses. */
const CONTROL = { counter: 0, x: 1, w: 2, y: 3 } as const;
export const DIRECT_CONV_CONTROL_BYTES = 16;

/** How a geometry's output is tiled and chunked. */
export interface DirectConvTiling {
  /** Output channels per tile (the last block of a layer may have fewer). */
  readonly channelBlock: number;
  /** Output vectors per tile. */
  readonly tileVectors: number;
  /** Output rows per chunk. */
  readonly bandRows: number;
}

/**
 * Most v128 values a tile keeps live: accumulators, its input vectors and its channels' splats (TurboFan
 * loads every splat of a tap before the multiply-adds). Measured on conv2 of LeNet (16 channels, 3
 * vectors a row; Zen 5, one thread, float32): 3 x 3 tiles 0.386 ms, 2 x 3 0.447, 4 x 2 0.475, 3 x 2 0.64,
 * 2 x 2 0.84 and 8 x 1 0.90.
 */
const TILE_REGISTERS = 15;
/** Most accumulators per tile. */
const TILE_ACCUMULATORS = 10;
/**
 * Independent accumulators a tile needs to keep the FMA units busy: fewer wait on the multiply-add's
 * latency (4 cycles on two pipes, as the GEMM's 4 x 2 micro-kernel has 8). With 6, LeNet's layers got 6 x 1
 * (conv1) and 2 x 3 (conv2) tiles; with 8 they get 2 x 4 and 3 x 3, measured 21% and 13% faster on one
 * thread (0.264 -> 0.209 ms and 0.465 -> 0.406 ms at batch 32, medians of 5 alternated rounds).
 */
const LATENCY_ACCUMULATORS = 8;

/**
 * The first column of every output vector of a row: consecutive vectors, the last one moved back to end
 * at the row's end. Empty when the row is narrower than one vector.
 */
export function vectorStarts(outWidth: number, lanes: number): number[] {
  const starts: number[] = [];
  for (let j = 0; j + lanes <= outWidth; j += lanes) starts.push(j);
  if (starts.length > 0 && starts[starts.length - 1]! + lanes < outWidth) starts.push(outWidth - lanes);
  return starts;
}

/** The row's tiles: `vectors` consecutive starts each, the last tile moved back to end with the row. */
function rowTiles(starts: readonly number[], vectors: number): number[][] {
  const tiles: number[][] = [];
  for (let s = 0; s < starts.length; s += vectors) {
    const end = Math.min(starts.length, s + vectors);
    tiles.push(starts.slice(Math.max(0, end - vectors), end));
  }
  return tiles;
}

/**
 * The tile shape with the least estimated time per output row: a tap costs a tile about
 * max(multiply-adds, LATENCY_ACCUMULATORS) cycles plus its loads (input vectors and splats) at a third each.
 */
export function chooseTiling(g: ConvGeometry, lanes: number, threadedChunks: number): DirectConvTiling {
  const O = g.outChannels;
  const starts = vectorStarts(g.outWidth, lanes);
  let best: { cost: number; channelBlock: number; tileVectors: number } | null = null;
  for (let tileVectors = 1; tileVectors <= Math.min(4, starts.length); tileVectors++) {
    for (let channelBlock = 1; channelBlock <= Math.min(O, TILE_ACCUMULATORS); channelBlock++) {
      const accumulators = channelBlock * tileVectors;
      if (accumulators > TILE_ACCUMULATORS || accumulators + tileVectors + channelBlock > TILE_REGISTERS)
        continue;
      const tiles = rowTiles(starts, tileVectors).length;
      const blocks = [...Array(Math.floor(O / channelBlock)).fill(channelBlock)];
      if (O % channelBlock) blocks.push(O % channelBlock);
      let cost = 0;
      for (const b of blocks)
        cost += tiles * (Math.max(b * tileVectors, LATENCY_ACCUMULATORS) + (b + tileVectors) / 3);
      if (!best || cost < best.cost - 1e-9) best = { cost, channelBlock, tileVectors };
    }
  }
  const { channelBlock, tileVectors } = best ?? { channelBlock: 1, tileVectors: 1 };
  // Threaded: enough bands that every thread takes several chunks.
  const bands = threadedChunks > 0 ? Math.min(g.outHeight, Math.ceil(threadedChunks / g.batch)) : 1;
  return { channelBlock, tileVectors, bandRows: Math.ceil(g.outHeight / bands) };
}

/** Chunks of a tiling: images times bands of `bandRows` output rows. */
export function directConvChunks(g: ConvGeometry, tiling: DirectConvTiling): number {
  return g.batch * Math.ceil(g.outHeight / tiling.bandRows);
}

/**
 * The module of one geometry, over the imported plan memory (`shared` when threaded), with its control
 * block at byte `control`.
 */
export function emitDirectConv(
  g: ConvGeometry,
  dtype: GemmDType,
  options: { relaxedSimd: boolean; shared: boolean; control: number; tiling: DirectConvTiling },
): Uint8Array {
  const { tiling, control } = options;
  const ops = elementOps(dtype, options.relaxedSimd);
  const es = ops.bytes;
  const { inChannels: C, inHeight: H, inWidth: W, outChannels: O } = g;
  const { kernelHeight: KH, kernelWidth: KW, outHeight: OH, outWidth: OW } = g;
  const K = C * KH * KW;
  const tiles = rowTiles(vectorStarts(OW, ops.lanes), tiling.tileVectors);
  const module = new ModuleBuilder();
  importPlanMemory(module, options.shared);

  /**
   * tile(x, w, y): `channels` output channels at the columns `columns` (relative to the tile's first) of
   * one row; x at (c 0, row i, column j0), w at the block's first channel, y at (block's channel, i, j0).
   */
  const tileFunctions = new Map<string, FunctionBuilder>();
  const tileFunction = (channels: number, columns: readonly number[]): FunctionBuilder => {
    const key = `${channels}:${columns.join(",")}`;
    const existing = tileFunctions.get(key);
    if (existing) return existing;
    const fn = module.function(null, ["i32", "i32", "i32"], []);
    tileFunctions.set(key, fn);
    const [x, w, y] = [fn.param(0), fn.param(1), fn.param(2)];
    const inputs = columns.map(() => fn.local("v128"));
    const splat = fn.local("v128");
    // v128 locals start at zero, the sum's initial value.
    const acc: Local[][] = Array.from({ length: channels }, () => columns.map(() => fn.local("v128")));
    const [xRow, wRow] = [fn.local("i32"), fn.local("i32")];
    fn.localGet(x).localSet(xRow);
    fn.localGet(w).localSet(wRow);
    // One tap per iteration, over c, p and q: w's taps are consecutive, x's rows W apart, planes H*W.
    repeat(fn, C, () => {
      repeat(fn, KH, () => {
        repeat(fn, KW, () => {
          for (let v = 0; v < columns.length; v++)
            fn.localGet(xRow)
              .v128Load({ offset: columns[v]! * es, align: 0 })
              .localSet(inputs[v]!);
          for (let o = 0; o < channels; o++) {
            fn.localGet(wRow);
            ops.loadSplat(fn, { offset: o * K * es });
            fn.localSet(splat);
            for (let v = 0; v < columns.length; v++) ops.multiplyAdd(fn, acc[o]![v]!, splat, inputs[v]!);
          }
          advance(fn, xRow, es);
          advance(fn, wRow, es);
        });
        advance(fn, xRow, (W - KW) * es);
      });
      advance(fn, xRow, (H - KH) * W * es);
    });
    for (let o = 0; o < channels; o++)
      for (let v = 0; v < columns.length; v++)
        fn.localGet(y)
          .localGet(acc[o]![v]!)
          .v128Store({ offset: (o * OH * OW + columns[v]!) * es, align: 0 });
    return fn;
  };

  const fullBlocks = Math.floor(O / tiling.channelBlock);
  const lastBlock = O % tiling.channelBlock;
  const bands = Math.ceil(OH / tiling.bandRows);
  const lastBand = OH - (bands - 1) * tiling.bandRows;

  // ---- prepare(x, w, y): the control block's words 1 to 3 (CONTROL)
  emitPrepare(module, control);

  // ---- rows(chunk, thread): the band chunk % bands of image chunk / bands
  const fn = module.function("rows", ["i32", "i32"], []);
  const chunk = fn.param(0);
  const [image, band, xRow, yRow, wBlock, yBlock, count] = fn.locals("i32", 7);
  fn.localGet(chunk).i32Const(bands).i32DivU().localSet(image);
  fn.localGet(chunk).i32Const(bands).i32RemU().localSet(band);
  const rowOffset = (slot: number, imageBytes: number, rowBytes: number, target: Local): void => {
    fn.i32Const(control).i32Load({ offset: slot * 4 });
    fn.localGet(image).i32Const(imageBytes).i32Mul().i32Add();
    fn.localGet(band)
      .i32Const(tiling.bandRows * rowBytes)
      .i32Mul()
      .i32Add()
      .localSet(target);
  };
  rowOffset(CONTROL.x, C * H * W * es, W * es, xRow);
  rowOffset(CONTROL.y, O * OH * OW * es, OW * es, yRow);
  if (lastBand === tiling.bandRows) fn.i32Const(lastBand).localSet(count);
  else {
    fn.localGet(band)
      .i32Const(bands - 1)
      .i32Eq();
    fn.if("i32").i32Const(lastBand).else().i32Const(tiling.bandRows).end().localSet(count);
  }
  fn.loop();
  {
    fn.i32Const(control)
      .i32Load({ offset: CONTROL.w * 4 })
      .localSet(wBlock);
    fn.localGet(yRow).localSet(yBlock);
    const block = (channels: number): void => {
      for (const columns of tiles) {
        const j0 = columns[0]!;
        const tile = tileFunction(
          channels,
          columns.map((j) => j - j0),
        );
        fn.localGet(xRow)
          .i32Const(j0 * es)
          .i32Add();
        fn.localGet(wBlock);
        fn.localGet(yBlock)
          .i32Const(j0 * es)
          .i32Add();
        fn.call(tile);
      }
      advance(fn, wBlock, channels * K * es);
      advance(fn, yBlock, channels * OH * OW * es);
    };
    repeat(fn, fullBlocks, () => block(tiling.channelBlock));
    if (lastBlock) block(lastBlock);
    advance(fn, xRow, W * es);
    advance(fn, yRow, OW * es);
    fn.localGet(count).i32Const(1).i32Sub().localTee(count).brIf(0);
  }
  fn.end();
  return module.toBytes();
}
