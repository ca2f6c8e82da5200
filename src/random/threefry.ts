/**
 * The counter-based bit generator: threefry2x32 with 20 rounds (Salmon et al., "Parallel Random Numbers:
 * As Easy as 1, 2, 3", SC'11), arranged exactly as JAX's `threefry_2x32`, `_threefry_random_bits_original`,
 * `_threefry_split_original` and `_threefry_fold_in` (jax/_src/prng.py), so keys, splits and bits agree
 * with JAX bit for bit (with `jax_threefry_partitionable=False`, JAX's default before 0.5).
 *
 * A key is an int32[2] array holding the two uint32 words of JAX's raw uint32[2] key (same bits; int32
 * because that is the integer dtype we have). Bits come out the same way: uint32 values stored as int32.
 */
import { ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { type BatchDim, type Primitive, primitive } from "../core/primitive.js";
import { checkShape, fmtShape, type Shape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import { alignBatched } from "../ops/elementwise-kit.js";
import { moveAxisTo0 } from "../ops/layout.js";
import { foldInToOnnx, randomBitsToOnnx } from "./threefry-onnx.js";

const KS_PARITY = 0x1bd11bda;

/** Random123's rotation constants R_32x2: the first four for even blocks of rounds, the last four for odd. */
const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24];

/**
 * One threefry2x32-20 block on int32-represented words, written into `out[i0]`, `out[i1]`: five blocks of
 * four rounds, each followed by a key injection (as JAX's unrolled `_threefry2x32_lowering`).
 * `| 0` keeps every sum in int32, which has the same bits as uint32 arithmetic modulo 2^32.
 */
function hashInto(
  k0: number,
  k1: number,
  x0: number,
  x1: number,
  out: Int32Array,
  i0: number,
  i1: number,
): void {
  const k2 = k0 ^ k1 ^ KS_PARITY;
  x0 = (x0 + k0) | 0;
  x1 = (x1 + k1) | 0;
  for (let block = 0; block < 5; block++) {
    const base = (block & 1) * 4;
    for (let r = 0; r < 4; r++) {
      const rot = ROTATIONS[base + r]!;
      x0 = (x0 + x1) | 0;
      x1 = ((x1 << rot) | (x1 >>> (32 - rot))) ^ x0;
    }
    // Injection s: words (s+1) mod 3 and (s+2) mod 3 of [k0, k1, k2], plus s+1 on the second.
    const phase = block % 3;
    x0 = (x0 + (phase === 0 ? k1 : phase === 1 ? k2 : k0)) | 0;
    x1 = (x1 + (phase === 0 ? k2 : phase === 1 ? k0 : k1) + block + 1) | 0;
  }
  out[i0] = x0;
  out[i1] = x1;
}

/**
 * The threefry2x32-20 block function on uint32 words: key (k0, k1), counter (x0, x1) → two uint32 words.
 * Exposed for known-answer tests and for anyone who wants the raw hash.
 */
export function threefry2x32(
  key: readonly [number, number],
  counter: readonly [number, number],
): [number, number] {
  const out = new Int32Array(2);
  hashInto(key[0] | 0, key[1] | 0, counter[0] | 0, counter[1] | 0, out, 0, 1);
  return [out[0]! >>> 0, out[1]! >>> 0];
}

/**
 * JAX's `threefry_2x32(key, iota(size))` written into `out` at `offset`: the counter list is padded to even
 * length, cut into halves, and block i hashes (counts[i], counts[half + i]); the outputs are the first
 * halves' words followed by the second halves', with the padding dropped.
 */
function iotaBitsInto(k0: number, k1: number, size: number, out: Int32Array, offset: number): void {
  const half = Math.ceil(size / 2);
  const pair = new Int32Array(2);
  for (let i = 0; i < half; i++) {
    const j = half + i;
    // For odd sizes the last count of the second half is the zero padding.
    hashInto(k0, k1, i, j < size ? j : 0, pair, 0, 1);
    out[offset + i] = pair[0]!;
    if (j < size) out[offset + j] = pair[1]!;
  }
}

function checkKeyAval(op: string, key: { shape: Shape; dtype: string }): void {
  if (key.dtype !== "int32" || key.shape.length === 0 || key.shape[key.shape.length - 1] !== 2) {
    throw new ShapeError(
      `${op}: expected keys of shape [..., 2] and dtype int32, got ${key.dtype}${fmtShape(key.shape)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// random_bits

export interface RandomBitsParams {
  /** The shape of the bits drawn from each key. */
  shape: Shape;
}

// JAX splits larger requests into blocks of 2^32 - 1 counters; arrays that large do not fit in memory here.
const MAX_BITS = 2 ** 32 - 1;

/**
 * `random_bits(key) -> int32[...keyBatch, ...shape]`: uniformly random 32-bit words (uint32 bits stored as
 * int32). The key may carry leading batch axes (`[..., 2]`), which is how the batching rule works.
 */
export const randomBitsPrim: Primitive<RandomBitsParams, [key: unknown], [out: unknown]> = primitive({
  name: "random_bits",
  abstractEval([key], { shape }) {
    checkKeyAval("random_bits", key);
    checkShape("random_bits", shape);
    if (sizeOf(shape) > MAX_BITS)
      throw new ShapeError(`random_bits: shape ${fmtShape(shape)} has too many elements`);
    return [{ shape: [...key.shape.slice(0, -1), ...shape], dtype: "int32" }];
  },
  impl([key], { shape }) {
    const numKeys = key.size / 2;
    const size = sizeOf(shape);
    const out = new Int32Array(numKeys * size);
    const k = key.storage;
    for (let i = 0; i < numKeys; i++) iotaBitsInto(k[2 * i]!, k[2 * i + 1]!, size, out, i * size);
    return [new ConcreteArray([...key.shape.slice(0, -1), ...shape], "int32", out)];
  },
  // Integer output: no tangent.
  jvp: ([key], _t, params) => ({ primalsOut: [randomBitsPrim.bind1([key], params)], tangentsOut: [] }),
  batch: ([key], [dim], params) => [[randomBitsPrim.bind1([moveAxisTo0(key, dim)], params)], [0]],
  onnx: (g, [key], { shape }, _inAvals, [out]) => [randomBitsToOnnx(g, key!, sizeOf(shape), out!.shape)],
  formatParams: ({ shape }) => `shape=${fmtShape(shape)}`,
});

// ---------------------------------------------------------------------------------------------------
// random_fold_in

/**
 * `random_fold_in(key, data) -> key'`: JAX's `_threefry_fold_in`, the hash of the counter pair (0, data).
 * `key` is `[..., 2]`, `data` an int32 array of the key's batch shape (uint32 bits).
 */
export const foldInPrim: Primitive<
  Record<string, never>,
  [key: unknown, data: unknown],
  [out: unknown]
> = primitive({
  name: "random_fold_in",
  abstractEval([key, data]) {
    checkKeyAval("random_fold_in", key);
    const batch = key.shape.slice(0, -1);
    if (data.dtype !== "int32" || !shapeEquals(data.shape, batch)) {
      throw new ShapeError(
        `random_fold_in: data must be int32${fmtShape(batch)} to match keys ${fmtAval(key)}, got ${fmtAval(data)}`,
      );
    }
    return [key];
  },
  impl([key, data]) {
    const out = new Int32Array(key.size);
    const k = key.storage;
    const d = data.storage;
    for (let i = 0; i < d.length; i++) hashInto(k[2 * i]!, k[2 * i + 1]!, 0, d[i]!, out, 2 * i, 2 * i + 1);
    return [new ConcreteArray(key.shape, "int32", out)];
  },
  jvp: ([key, data], _t, params) => ({
    primalsOut: [foldInPrim.bind1([key, data], params)],
    tangentsOut: [],
  }),
  batch: (args: readonly NdArray[], dims: readonly BatchDim[], params) => [
    [foldInPrim.bind1(alignBatched(args, dims), params)],
    [0],
  ],
  onnx: (g, [key, data]) => [foldInToOnnx(g, key!, data!)],
});
