/** Data loading: MNIST (the bundled digits and IDX files) and shuffled mini-batches. */
export * as mnist from "./mnist.js";
export { type Batch, type BatchOptions, batches } from "./batches.js";
