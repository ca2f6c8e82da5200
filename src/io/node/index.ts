/**
 * Everything of `tracegrad`'s `io`, and files (Node): checkpoints (`load`, `save`) and MNIST
 * (`mnist.loadBundled`, `mnist.loadIdxFiles`).
 * @module
 */

export * from "../index.js";
export { type IoError, load, save } from "./checkpoint.js";
export * as mnist from "./mnist.js";
