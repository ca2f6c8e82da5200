/**
 * Attention as functions: scaled dot-product attention (torch 2's F.scaled_dot_product_attention) and
 * multi-head attention with packed input projections (F.multi_head_attention_forward), written with
 * existing primitives. The softmax subtracts each row's maximum, and a row that may attend to no key
 * gives zero weights (and a zero output) where PyTorch gives NaN.
 */
import type { NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { broadcastShapes, fmtShape, ShapeError, shapeEquals } from "../core/shape.js";
import * as np from "../np.js";
import type { Key } from "../random/index.js";
import { checkDropoutRate, dropout } from "./dropout.js";

/** Options of `scaledDotProductAttention`, as torch.nn.functional.scaled_dot_product_attention's. */
export interface ScaledDotProductAttentionOptions {
  /**
   * Which keys each query may attend to, broadcastable to [..., L, S]: a bool mask is true where attending
   * is allowed (PyTorch's convention here); a float mask is added to the scores.
   */
  mask?: NdArray | null;
  /** Query i attends to keys 0..i only (the lower triangle of [L, S], top-left aligned as PyTorch). */
  isCausal?: boolean;
  /** Dropout probability of the attention weights (default 0); above 0 it needs `key`. */
  dropoutP?: number;
  /** The key that draws the dropout mask. */
  key?: Key;
  /** The factor of the scores q·k (default 1 / sqrt(E), E the query's last axis). */
  scale?: number | null;
}

function checkFloat(op: string, what: string, x: NdArray): void {
  if (!isFloat(x.dtype)) throw new TypeError(`${op}: ${what} must be a float array, got ${x.dtype}`);
}

/**
 * The softmax over the last axis of scores in which -inf marks a key that may not be attended to. Each
 * row's maximum is subtracted first (without a gradient: the result does not depend on it); a row of
 * only -inf gives zeros, and so its gradient is zero too.
 */
function maskedSoftmax(scores: NdArray): NdArray {
  const rowMax = np.max(np.stopGradient(scores), { axis: -1, keepdims: true });
  const shift = np.where(np.isfinite(rowMax), rowMax, 0);
  const unnormalized = np.exp(np.subtract(scores, shift));
  const total = np.sum(unnormalized, { axis: -1, keepdims: true });
  return np.divide(unnormalized, np.where(np.equal(total, 0), 1, total));
}

/** A mask as an additive bias in `dtype`: a bool mask's `blocked` entries -inf, a float mask as it is. */
function maskBias(
  op: string,
  what: string,
  mask: NdArray,
  blockedWhen: boolean,
  dtype: NdArray["dtype"],
): NdArray {
  if (mask.dtype === "bool") {
    const blocked = blockedWhen ? mask : np.logicalNot(mask);
    return np.where(blocked, Number.NEGATIVE_INFINITY, np.zeros([], { dtype }));
  }
  if (!isFloat(mask.dtype))
    throw new TypeError(`${op}: ${what} must be a bool or float array, got ${mask.dtype}`);
  return mask.dtype === dtype ? mask : np.astype(mask, dtype);
}

/** Throws unless `mask` broadcasts to `target` without enlarging it. */
function checkMaskShape(
  op: string,
  what: string,
  mask: NdArray,
  target: readonly number[],
  expected: string,
): void {
  let ok = mask.ndim <= target.length;
  if (ok) {
    try {
      ok = shapeEquals(broadcastShapes(op, mask.shape, target), target);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new ShapeError(
      `${op}: ${what} of shape ${fmtShape(mask.shape)} does not broadcast to the attention scores ${fmtShape(target)} (expected ${expected})`,
    );
  }
}

/** The causal keep-mask [L, S]: query i sees keys j <= i. */
function causalMask(l: number, s: number): NdArray {
  return np.tril(np.ones([l, s], { dtype: "bool" }));
}

/**
 * softmax(scores + bias) @ v with optional dropout on the weights: the weights come back too (after
 * dropout, as PyTorch's multi-head attention returns them).
 */
function attend(
  scores: NdArray,
  bias: NdArray | null,
  v: NdArray,
  dropoutP: number,
  key: Key | undefined,
  op: string,
): [NdArray, NdArray] {
  let weights = maskedSoftmax(bias === null ? scores : np.add(scores, bias));
  if (dropoutP > 0) {
    if (key === undefined)
      throw new TypeError(`${op}: dropoutP ${dropoutP} > 0 needs a key to draw the dropout mask`);
    weights = dropout(key, weights, dropoutP);
  }
  return [np.matmul(weights, v), weights];
}

/**
 * Scaled dot-product attention, as torch.nn.functional.scaled_dot_product_attention (PyTorch 2):
 * `softmax(q kᵀ · scale + mask) v` for `q` [..., L, E], `k` [..., S, E] and `v` [..., S, Ev], giving
 * [..., L, Ev] (the leading axes broadcast). A bool `mask` is true where attending is allowed, a float one
 * is added to the scores; `isCausal` keeps the lower triangle (with a mask as well, both apply). The softmax
 * is stable for any scores, and a query row that may attend to no key gets zero weights and a zero output
 * (PyTorch gives NaN there). `dropoutP` drops attention weights (inverted dropout) with `key`.
 */
export function scaledDotProductAttention(
  q: NdArray,
  k: NdArray,
  v: NdArray,
  options: ScaledDotProductAttentionOptions = {},
): NdArray {
  const op = "scaledDotProductAttention";
  checkOptions(op, options, ["mask", "isCausal", "dropoutP", "key", "scale"]);
  for (const [what, x] of [
    ["q", q],
    ["k", k],
    ["v", v],
  ] as const) {
    checkFloat(op, what, x);
    if (x.ndim < 2)
      throw new ShapeError(`${op}: ${what} must be [..., seq, features], got ${fmtShape(x.shape)}`);
  }
  const e = q.shape[q.ndim - 1]!;
  const s = k.shape[k.ndim - 2]!;
  if (k.shape[k.ndim - 1] !== e || v.shape[v.ndim - 2] !== s) {
    throw new ShapeError(
      `${op}: expected q [..., L, E], k [..., S, E] and v [..., S, Ev], got q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`,
    );
  }
  const dropoutP = options.dropoutP ?? 0;
  checkDropoutRate(op, dropoutP);
  const scale = options.scale ?? 1 / Math.sqrt(e);
  if (typeof scale !== "number" || !Number.isFinite(scale))
    throw new RangeError(`${op}: scale must be a finite number, got ${String(scale)}`);
  const scores = np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), scale);
  const l = q.shape[q.ndim - 2]!;
  let bias: NdArray | null = null;
  if (options.mask != null) {
    checkMaskShape(op, "mask", options.mask, scores.shape, `[..., ${l}, ${s}]`);
    bias = maskBias(op, "mask", options.mask, false, scores.dtype);
  }
  if (options.isCausal ?? false) {
    const causal = maskBias(op, "causal mask", causalMask(l, s), false, scores.dtype);
    bias = bias === null ? causal : np.add(bias, causal);
  }
  return attend(scores, bias, v, dropoutP, options.key, op)[0];
}

/** The weights of `multiHeadAttention`, as the arguments of torch's F.multi_head_attention_forward. */
export interface MultiHeadAttentionWeights {
  /** The packed query, key and value projections [3E, E] (PyTorch's `in_proj_weight`). */
  inProjWeight: NdArray;
  /** Their biases [3E] (`in_proj_bias`); none by default. */
  inProjBias?: NdArray | null;
  /** The output projection [E, E] (`out_proj.weight`). */
  outProjWeight: NdArray;
  /** Its bias [E] (`out_proj.bias`); none by default. */
  outProjBias?: NdArray | null;
}

/** Options of `multiHeadAttention`, as F.multi_head_attention_forward's. */
export interface MultiHeadAttentionOptions {
  /** The number of heads; it must divide the embedding size E. */
  numHeads: number;
  /**
   * PyTorch's `attn_mask`, [L, S] or [N * numHeads, L, S]: a bool mask is true where attending is NOT
   * allowed (PyTorch's convention for this function, the opposite of scaledDotProductAttention's); a
   * float one is added to the scores.
   */
  attnMask?: NdArray | null;
  /** [N, S] ([S] unbatched): a bool mask true at keys to ignore (padding); a float one is added. */
  keyPaddingMask?: NdArray | null;
  /** Return the attention weights too (default true, as PyTorch). */
  needWeights?: boolean;
  /** Average the returned weights over the heads (default true): [N, L, S], else [N, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Apply the causal mask (query i sees keys 0..i); with attnMask as well, both apply. */
  isCausal?: boolean;
  /** Dropout probability of the attention weights (default 0); above 0 it needs `key`. */
  dropoutP?: number;
  /** The key that draws the dropout mask. */
  key?: Key;
  /** Inputs and output are [N, L, E] (torch's batch_first) instead of [L, N, E] (default false). */
  batchFirst?: boolean;
}

const MHA_KEYS = [
  "numHeads",
  "attnMask",
  "keyPaddingMask",
  "needWeights",
  "averageAttnWeights",
  "isCausal",
  "dropoutP",
  "key",
  "batchFirst",
] as const;

/** x @ wᵀ + b. */
function project(x: NdArray, w: NdArray, b: NdArray | null): NdArray {
  const y = np.matmul(x, np.swapaxes(w, 0, 1));
  return b === null ? y : np.add(y, b);
}

function checkWeight(op: string, what: string, w: NdArray, expected: readonly number[]): void {
  checkFloat(op, what, w);
  if (!shapeEquals(w.shape, expected)) {
    throw new ShapeError(`${op}: ${what} must have shape ${fmtShape(expected)}, got ${fmtShape(w.shape)}`);
  }
}

/**
 * Multi-head attention, as torch.nn.functional.multi_head_attention_forward with packed input projections
 * (no bias_k/bias_v, no add_zero_attn): `query` [L, N, E], `key` and `value` [S, N, E] ([N, L, E] and
 * [N, S, E] with `batchFirst`; [L, E] and [S, E] unbatched) are projected by the rows of `inProjWeight`
 * (query, key, value in that order), split into `numHeads` heads of E / numHeads features, attended with
 * scores scaled by 1 / sqrt(E / numHeads), concatenated and projected by `outProjWeight`. Returns
 * `[output, weights]`: the output shaped as `query`, and the attention weights (after dropout, as
 * PyTorch) [N, L, S] averaged over heads, [N, numHeads, L, S] without averaging, or null when
 * `needWeights` is false. A query that may attend to no key gets zero weights (PyTorch: NaN).
 */
export function multiHeadAttention(
  query: NdArray,
  key: NdArray,
  value: NdArray,
  weights: MultiHeadAttentionWeights,
  options: MultiHeadAttentionOptions,
): [NdArray, NdArray | null] {
  const op = "multiHeadAttention";
  checkOptions(op, options, MHA_KEYS);
  checkOptions(`${op}: weights`, weights, ["inProjWeight", "inProjBias", "outProjWeight", "outProjBias"]);
  const batchFirst = options.batchFirst ?? false;
  const unbatched = query.ndim === 2;
  for (const [what, x] of [
    ["query", query],
    ["key", key],
    ["value", value],
  ] as const) {
    checkFloat(op, what, x);
    if (x.ndim !== query.ndim || (x.ndim !== 2 && x.ndim !== 3)) {
      throw new ShapeError(
        `${op}: query, key and value must all be ${batchFirst ? "[N, L, E]" : "[L, N, E]"} (or [L, E] unbatched), got query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`,
      );
    }
  }
  // Work batch-first: [N, L, E].
  const toBatchFirst = (x: NdArray): NdArray =>
    unbatched ? np.expandDims(x, 0) : batchFirst ? x : np.swapaxes(x, 0, 1);
  const q0 = toBatchFirst(query);
  const k0 = toBatchFirst(key);
  const v0 = toBatchFirst(value);
  const [n, l, e] = q0.shape as [number, number, number];
  const s = k0.shape[1]!;
  if (k0.shape[0] !== n || v0.shape[0] !== n || k0.shape[2] !== e || v0.shape[2] !== e || v0.shape[1] !== s) {
    throw new ShapeError(
      `${op}: key and value must have the query's batch size and embedding size and one sequence length, got query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`,
    );
  }
  const heads = options.numHeads;
  if (!Number.isInteger(heads) || heads < 1 || e % heads !== 0) {
    throw new ShapeError(
      `${op}: numHeads must be a positive integer dividing the embedding size ${e}, got ${heads}`,
    );
  }
  checkWeight(op, "inProjWeight", weights.inProjWeight, [3 * e, e]);
  checkWeight(op, "outProjWeight", weights.outProjWeight, [e, e]);
  const inBias = weights.inProjBias ?? null;
  const outBias = weights.outProjBias ?? null;
  if (inBias !== null) checkWeight(op, "inProjBias", inBias, [3 * e]);
  if (outBias !== null) checkWeight(op, "outProjBias", outBias, [e]);
  const dropoutP = options.dropoutP ?? 0;
  checkDropoutRate(op, dropoutP);

  const [wq, wk, wv] = np.split(weights.inProjWeight, 3, { axis: 0 }) as [NdArray, NdArray, NdArray];
  const [bq, bk, bv] =
    inBias === null ? [null, null, null] : (np.split(inBias, 3) as [NdArray, NdArray, NdArray]);
  const hd = e / heads;
  // [N, T, E] -> [N, heads, T, hd]
  const splitHeads = (x: NdArray, t: number): NdArray =>
    np.transpose(np.reshape(x, [n, t, heads, hd]), [0, 2, 1, 3]);
  const q = splitHeads(project(q0, wq, bq), l);
  const k = splitHeads(project(k0, wk, bk), s);
  const v = splitHeads(project(v0, wv, bv), s);
  const scores = np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), 1 / Math.sqrt(hd));

  const scoreShape = [n, heads, l, s];
  const biases: NdArray[] = [];
  if (options.attnMask != null) {
    const mask = options.attnMask;
    let shaped: NdArray;
    if (mask.ndim === 2 && shapeEquals(mask.shape, [l, s])) shaped = mask;
    else if (mask.ndim === 3 && shapeEquals(mask.shape, [n * heads, l, s]))
      shaped = np.reshape(mask, scoreShape);
    else {
      throw new ShapeError(
        `${op}: attnMask must be [${l}, ${s}] or [${n * heads}, ${l}, ${s}] (N * numHeads, L, S), got ${fmtShape(mask.shape)}`,
      );
    }
    biases.push(maskBias(op, "attnMask", shaped, true, scores.dtype));
  }
  if (options.keyPaddingMask != null) {
    const mask = options.keyPaddingMask;
    const expected = unbatched ? [s] : [n, s];
    if (!shapeEquals(mask.shape, expected)) {
      throw new ShapeError(
        `${op}: keyPaddingMask must be ${fmtShape(expected)}, got ${fmtShape(mask.shape)}`,
      );
    }
    biases.push(maskBias(op, "keyPaddingMask", np.reshape(mask, [n, 1, 1, s]), true, scores.dtype));
  }
  if (options.isCausal ?? false)
    biases.push(maskBias(op, "causal mask", causalMask(l, s), false, scores.dtype));
  const bias = biases.length === 0 ? null : biases.reduce((a, b) => np.add(a, b));

  const [attended, attnWeights] = attend(scores, bias, v, dropoutP, options.key, op);
  // [N, heads, L, hd] -> [N, L, E], then the output projection.
  const merged = np.reshape(np.transpose(attended, [0, 2, 1, 3]), [n, l, e]);
  const projected = project(merged, weights.outProjWeight, outBias);
  const output = unbatched ? np.squeeze(projected, 0) : batchFirst ? projected : np.swapaxes(projected, 0, 1);
  if (!(options.needWeights ?? true)) return [output, null];
  const averaged = (options.averageAttnWeights ?? true) ? np.mean(attnWeights, { axis: 1 }) : attnWeights;
  return [output, unbatched ? np.squeeze(averaged, 0) : averaged];
}
