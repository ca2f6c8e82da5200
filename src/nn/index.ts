/**
 * PyTorch-style functional ops (like torch.nn.functional): activations, losses, conv and pooling,
 * normalization, embedding, dropout and attention.
 * @module
 */
export * from "./activations.js";
export * from "./attention.js";
export { avgPool2d, conv2d, convTranspose2d, maxPool2d } from "./conv.js";
export { type DropoutOptions, dropout } from "./dropout.js";
export { type EmbeddingOptions, embedding } from "./embedding.js";
export * from "./losses.js";
export * from "./normalization.js";
