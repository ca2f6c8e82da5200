/** torch.nn.Embedding as a layer: a table `weight` [numEmbeddings, embeddingDim] looked up by int32 indices. */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { embedding as embeddingFn, normalizePaddingIdx } from "../nn/embedding.js";
import { equal, where } from "../ops/binary.js";
import { arange } from "../ops/creation.js";
import { expandDims } from "../ops/layout.js";
import { normal } from "../random/index.js";
import { withLayerContext } from "./basic.js";
import { defineLayer, type Layer, spec } from "./layer.js";

/** The parameters of an embedding layer: the table, PyTorch's `weight`. */
export type EmbeddingParams = { weight: NdArray };

/** Options of `embedding`, as torch.nn.Embedding's. */
export interface EmbeddingLayerOptions {
  /** A row (negative counts from the end) that starts at zeros and gets no gradient: a padding token's. */
  paddingIdx?: number | null;
}

/**
 * torch.nn.Embedding: `apply(params, indices)` gives `weight[indices]` ([...indices.shape, embeddingDim])
 * for int32 indices. The table starts N(0, 1), as PyTorch's, with the `paddingIdx` row zero.
 */
export function embedding(
  numEmbeddings: number,
  embeddingDim: number,
  options: EmbeddingLayerOptions = {},
): Layer<EmbeddingParams, null> {
  checkOptions("embedding", options, ["paddingIdx"]);
  for (const [what, n] of [
    ["numEmbeddings", numEmbeddings],
    ["embeddingDim", embeddingDim],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`embedding: ${what} must be a positive integer, got ${n}`);
  }
  const paddingIdx = normalizePaddingIdx("embedding", options.paddingIdx, numEmbeddings);
  const shape = [numEmbeddings, embeddingDim];
  const name = `embedding ${numEmbeddings}x${embeddingDim}`;
  return defineLayer<EmbeddingParams>({
    name,
    repr: `Embedding(${numEmbeddings}, ${embeddingDim}${paddingIdx === null ? "" : `, padding_idx=${paddingIdx}`})`,
    paramSpec: (dtype) => ({ weight: spec(shape, dtype) }),
    init(key, dtype) {
      const weight = normal(key, shape, { dtype });
      if (paddingIdx === null) return { weight };
      const isPadding = expandDims(equal(arange(numEmbeddings), paddingIdx), 1);
      return { weight: where(isPadding, 0, weight) };
    },
    forward: (params, state, x, ctx) => ({
      y: withLayerContext(name, ctx, () => embeddingFn(params.weight, x, { paddingIdx })),
      state,
    }),
  });
}
