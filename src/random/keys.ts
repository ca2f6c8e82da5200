/**
 * Keys: `key(seed)`, `split(key, num)`, `foldIn(key, data)` and raw `bits(key, shape)`. Randomness is
 * explicit, as in JAX: the same key gives the same numbers, and a key is used once then split.
 */
import { ConcreteArray, fmtAval, NdArray } from "../core/array.js";
import { checkShape, fmtShape, ShapeError } from "../core/shape.js";
import { scalar } from "../ops/creation.js";
import { foldInPrim, randomBitsPrim } from "./threefry.js";

/** A PRNG key: int32[2] holding the two uint32 words of a threefry2x32 key. */
export type Key = NdArray;

/** Checks that `key` is a single key (int32[2]); errors name the calling function. */
export function checkKey(fn: string, key: unknown): asserts key is Key {
  if (!(key instanceof NdArray)) {
    throw new TypeError(
      `${fn}: expected a key (an int32[2] array from random.key or random.split), got ${describe(key)}`,
    );
  }
  if (key.dtype !== "int32" || key.ndim !== 1 || key.shape[0] !== 2) {
    const hint =
      key.dtype === "int32" && key.ndim === 2 && key.shape[1] === 2 ? "; for a batch of keys use vmap" : "";
    throw new ShapeError(
      `${fn}: expected a key of shape [2] and dtype int32 (from random.key or random.split), got ${fmtAval(key)}${hint}`,
    );
  }
}

function describe(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a JS array (keys are arrays made by random.key)";
  return typeof x;
}

/** Validates a sample shape; errors name the calling function. */
export function checkSampleShape(fn: string, shape: unknown): readonly number[] {
  if (!Array.isArray(shape))
    throw new TypeError(`${fn}: shape must be an array of non-negative integers, got ${String(shape)}`);
  try {
    checkShape(fn, shape);
  } catch {
    throw new ShapeError(`${fn}: shape must be an array of non-negative integers, got ${fmtShape(shape)}`);
  }
  return shape;
}

/**
 * A key from an integer seed, as `jax.random.PRNGKey(seed)` in JAX's default 32-bit mode: [0, seed mod 2^32]
 * (so -1 gives [0, 4294967295], as JAX). Any safe integer is accepted; seeds equal modulo 2^32 give the same key.
 */
export function key(seed: number): Key {
  if (typeof seed !== "number" || !Number.isSafeInteger(seed)) {
    throw new TypeError(`random.key: seed must be an integer (a safe JS integer), got ${String(seed)}`);
  }
  const low = Number(BigInt.asUintN(32, BigInt(seed)));
  return new ConcreteArray([2], "int32", Int32Array.from([0, low | 0]));
}

/**
 * `num` new keys from one, as an array of shape [num, 2] (or [...num, 2] for a shape). The subkeys are
 * JAX's: threefry over the counters 0 .. 2*num-1.
 */
export function split(key: Key, num: number | readonly number[] = 2): NdArray {
  checkKey("random.split", key);
  const shape = typeof num === "number" ? [num] : [...num];
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new TypeError(
      `random.split: num must be a non-negative integer (or a shape), got ${JSON.stringify(num)}`,
    );
  }
  return randomBitsPrim.bind1([key], { shape: [...shape, 2] });
}

/**
 * A new key from `key` and an integer (e.g. a step or a layer index): JAX's `fold_in`. `data` is a JS
 * integer (taken modulo 2^32) or an int32 scalar array, which may be traced.
 */
export function foldIn(key: Key, data: number | NdArray): Key {
  checkKey("random.foldIn", key);
  let d: NdArray;
  if (typeof data === "number") {
    if (!Number.isSafeInteger(data))
      throw new TypeError(`random.foldIn: data must be an integer, got ${data}`);
    d = scalar(Number(BigInt.asIntN(32, BigInt(data))), "int32");
  } else if (data instanceof NdArray && data.dtype === "int32" && data.ndim === 0) {
    d = data;
  } else {
    throw new TypeError(
      `random.foldIn: data must be an integer or an int32 scalar array, got ${data instanceof NdArray ? fmtAval(data) : typeof data}`,
    );
  }
  return foldInPrim.bind1([key, d], {});
}

/** Uniformly random 32-bit words of `shape`: uint32 bits stored as int32 (`x >>> 0` reads them). */
export function bits(key: Key, shape: readonly number[] = []): NdArray {
  checkKey("random.bits", key);
  return randomBitsPrim.bind1([key], { shape: [...checkSampleShape("random.bits", shape)] });
}
