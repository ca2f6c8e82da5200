/**
 * Data loading: MNIST (the bundled digits and IDX files) and shuffled mini-batches.
 * @module
 */

export { type Batch, type BatchOptions, batches } from "./batches.js";
export { load, save } from "./checkpoint.js";
export * as mnist from "./mnist.js";
export * as safetensors from "./safetensors.js";
