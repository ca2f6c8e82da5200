/**
 * Data and checkpoints as bytes, on every platform: MNIST (IDX bytes, the `mnist` package's digits),
 * shuffled mini-batches, safetensors, and checkpoint bytes. Files (`load`, `save`,
 * `mnist.loadBundled`, `mnist.loadIdxFiles`) are in `tracegrad/node`'s `io`.
 * @module
 */

export { type Batch, type BatchOptions, batches } from "./batches.js";
export { decodeCheckpoint, encodeCheckpoint, type SaveOptions } from "./checkpoint.js";
export * as mnist from "./mnist.js";
export * as safetensors from "./safetensors.js";
