/**
 * tracegrad/node: what needs Node (a file system). Its `io` is `tracegrad`'s `io` with files added:
 * `io.load` and `io.save` of checkpoints, `io.mnist.loadBundled` (the digits of the optional peer
 * dependency `mnist`) and `io.mnist.loadIdxFiles`. Everything else comes from `tracegrad`, which runs
 * on any JavaScript platform.
 *
 * ```ts
 * import { np } from "tracegrad";
 * import { io } from "tracegrad/node";
 * const { train, test } = io.mnist.loadBundled();
 * ```
 * @module
 */

export * as io from "./io/node/index.js";
