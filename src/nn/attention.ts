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

/**
 * The weights of `multiHeadAttention`, as the arguments of torch's F.multi_head_attention_forward: either
 * the packed `inProjWeight` (query, key and value of one size E) or the three separate `qProjWeight`,
 * `kProjWeight` and `vProjWeight` (nn.MultiheadAttention with kdim or vdim other than E).
 */
export interface MultiHeadAttentionWeights {
  /** The packed query, key and value projections [3E, E] (PyTorch's `in_proj_weight`). */
  inProjWeight?: NdArray | null;
  /** The query projection [E, E] (`q_proj_weight`), instead of inProjWeight. */
  qProjWeight?: NdArray | null;
  /** The key projection [E, kdim] (`k_proj_weight`), instead of inProjWeight. */
  kProjWeight?: NdArray | null;
  /** The value projection [E, vdim] (`v_proj_weight`), instead of inProjWeight. */
  vProjWeight?: NdArray | null;
  /** The query, key and value biases [3E] (`in_proj_bias`); none by default. */
  inProjBias?: NdArray | null;
  /** The output projection [E, E] (`out_proj.weight`). */
  outProjWeight: NdArray;
  /** Its bias [E] (`out_proj.bias`); none by default. */
  outProjBias?: NdArray | null;
  /** A learned key [1, 1, E] appended to the projected keys of every sequence (`bias_k`, add_bias_kv). */
  biasK?: NdArray | null;
  /** A learned value [1, 1, E] appended to the projected values (`bias_v`); given with biasK. */
  biasV?: NdArray | null;
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
  /**
   * Apply the causal mask (query i sees keys 0..i). PyTorch 2 reads is_causal as a hint that attnMask is
   * the causal mask (and needs the mask too); here it applies the causal mask itself, with attnMask as
   * well when given (both apply).
   */
  isCausal?: boolean;
  /** Append a zero key and value to every head's sequence (PyTorch's add_zero_attn; default false). */
  addZeroAttn?: boolean;
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
  "addZeroAttn",
  "dropoutP",
  "key",
  "batchFirst",
] as const;

const MHA_WEIGHT_KEYS = [
  "inProjWeight",
  "qProjWeight",
  "kProjWeight",
  "vProjWeight",
  "inProjBias",
  "outProjWeight",
  "outProjBias",
  "biasK",
  "biasV",
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

/** `x` with `extra` zeros appended along its last axis (masks over the keys, for appended keys). */
function padLastAxis(x: NdArray, extra: number): NdArray {
  return np.concatenate([x, np.zeros([...x.shape.slice(0, -1), extra], { dtype: x.dtype })], { axis: -1 });
}

/**
 * Multi-head attention, as torch.nn.functional.multi_head_attention_forward: `query` [L, N, E], `key`
 * [S, N, kdim] and `value` [S, N, vdim] ([N, L, E] and [N, S, *] with `batchFirst`; [L, E] and [S, *]
 * unbatched) are projected by the rows of `inProjWeight` (query, key, value in that order; kdim = vdim = E)
 * or by `qProjWeight`, `kProjWeight` and `vProjWeight`, optionally extended by `biasK`/`biasV` and a zero
 * key (`addZeroAttn`), split into `numHeads` heads of E / numHeads features, attended with scores scaled
 * by 1 / sqrt(E / numHeads), concatenated and projected by `outProjWeight`. Returns `[output, weights]`:
 * the output shaped as `query`, and the attention weights (after dropout, as PyTorch) [N, L, S] averaged
 * over heads, [N, numHeads, L, S] without averaging ([L, S] and [numHeads, L, S] unbatched; S counts the
 * appended keys), or null when `needWeights` is false. A query that may attend to no key gets zero weights
 * (PyTorch: NaN).
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
  checkOptions(`${op}: weights`, weights, MHA_WEIGHT_KEYS);
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
  const packed = weights.inProjWeight != null;
  const separate = [weights.qProjWeight, weights.kProjWeight, weights.vProjWeight].filter((w) => w != null);
  if (packed ? separate.length !== 0 : separate.length !== 3) {
    throw new TypeError(
      `${op}: weights must hold either inProjWeight or all of qProjWeight, kProjWeight and vProjWeight, got ${MHA_WEIGHT_KEYS.slice(
        0,
        4,
      )
        .filter((k) => weights[k] != null)
        .join(", ")}`,
    );
  }
  const heads = options.numHeads;
  if (!Number.isInteger(heads) || heads < 1 || e % heads !== 0) {
    throw new ShapeError(
      `${op}: numHeads must be a positive integer dividing the embedding size ${e}, got ${heads}`,
    );
  }
  let wq: NdArray;
  let wk: NdArray;
  let wv: NdArray;
  if (packed) {
    checkWeight(op, "inProjWeight", weights.inProjWeight!, [3 * e, e]);
    [wq, wk, wv] = np.split(weights.inProjWeight!, 3, { axis: 0 }) as [NdArray, NdArray, NdArray];
  } else {
    [wq, wk, wv] = [weights.qProjWeight!, weights.kProjWeight!, weights.vProjWeight!];
    checkWeight(op, "qProjWeight", wq, [e, e]);
    checkWeight(op, "kProjWeight", wk, [e, wk.ndim === 2 ? wk.shape[1]! : -1]);
    checkWeight(op, "vProjWeight", wv, [e, wv.ndim === 2 ? wv.shape[1]! : -1]);
  }
  // The key and value sizes are the projections' input sizes (E when packed).
  const kdim = wk.shape[1]!;
  const vdim = wv.shape[1]!;
  if (
    k0.shape[0] !== n ||
    v0.shape[0] !== n ||
    k0.shape[2] !== kdim ||
    v0.shape[2] !== vdim ||
    v0.shape[1] !== s
  ) {
    throw new ShapeError(
      `${op}: key and value must have the query's batch size, one sequence length and ${packed ? "the embedding size" : "the key and value projections' input sizes"} (E = ${e}, kdim = ${kdim}, vdim = ${vdim}), got query ${fmtShape(query.shape)}, key ${fmtShape(key.shape)}, value ${fmtShape(value.shape)}`,
    );
  }
  checkWeight(op, "outProjWeight", weights.outProjWeight, [e, e]);
  const inBias = weights.inProjBias ?? null;
  const outBias = weights.outProjBias ?? null;
  if (inBias !== null) checkWeight(op, "inProjBias", inBias, [3 * e]);
  if (outBias !== null) checkWeight(op, "outProjBias", outBias, [e]);
  const biasK = weights.biasK ?? null;
  const biasV = weights.biasV ?? null;
  if ((biasK === null) !== (biasV === null))
    throw new TypeError(`${op}: weights biasK and biasV come together (add_bias_kv), got only one`);
  if (biasK !== null) checkWeight(op, "biasK", biasK, [1, 1, e]);
  if (biasV !== null) checkWeight(op, "biasV", biasV, [1, 1, e]);
  const dropoutP = options.dropoutP ?? 0;
  checkDropoutRate(op, dropoutP);

  const [bq, bk, bv] =
    inBias === null ? [null, null, null] : (np.split(inBias, 3) as [NdArray, NdArray, NdArray]);
  const hd = e / heads;
  // [N, T, E] -> [N, heads, T, hd]
  const splitHeads = (x: NdArray): NdArray =>
    np.transpose(np.reshape(x, [n, x.shape[1]!, heads, hd]), [0, 2, 1, 3]);
  let kProjected = project(k0, wk, bk);
  let vProjected = project(v0, wv, bv);
  if (biasK !== null && biasV !== null) {
    // One more key and value per sequence, the same for every batch entry (PyTorch's bias_k.repeat).
    kProjected = np.concatenate([kProjected, np.broadcastTo(biasK, [n, 1, e])], { axis: 1 });
    vProjected = np.concatenate([vProjected, np.broadcastTo(biasV, [n, 1, e])], { axis: 1 });
  }
  const q = splitHeads(project(q0, wq, bq));
  let k = splitHeads(kProjected);
  let v = splitHeads(vProjected);
  if (options.addZeroAttn ?? false) {
    k = padSequence(k);
    v = padSequence(v);
  }
  // Keys appended after the S given ones: attended by every query, masks padded with "allowed".
  const appended = k.shape[2]! - s;
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
  let bias = biases.length === 0 ? null : biases.reduce((a, b) => np.add(a, b));
  if (bias !== null && appended > 0) bias = padLastAxis(bias, appended);

  const [attended, attnWeights] = attend(scores, bias, v, dropoutP, options.key, op);
  // [N, heads, L, hd] -> [N, L, E], then the output projection.
  const merged = np.reshape(np.transpose(attended, [0, 2, 1, 3]), [n, l, e]);
  const projected = project(merged, weights.outProjWeight, outBias);
  const output = unbatched ? np.squeeze(projected, 0) : batchFirst ? projected : np.swapaxes(projected, 0, 1);
  if (!(options.needWeights ?? true)) return [output, null];
  const averaged = (options.averageAttnWeights ?? true) ? np.mean(attnWeights, { axis: 1 }) : attnWeights;
  return [output, unbatched ? np.squeeze(averaged, 0) : averaged];
}

/** [N, heads, T, hd] with one zero step appended along T (PyTorch's add_zero_attn). */
function padSequence(x: NdArray): NdArray {
  const [n, heads, , hd] = x.shape as [number, number, number, number];
  return np.concatenate([x, np.zeros([n, heads, 1, hd], { dtype: x.dtype })], { axis: 2 });
}
