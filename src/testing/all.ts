/**
 * The `testing` of `tracegrad/testing`: everything of `tracegrad`'s `testing`, and `arb`, the
 * fast-check arbitraries for arrays and pytrees (fast-check is an optional peer dependency of tracegrad).
 * @module
 */

export type {
  ArrayOptions,
  BroadcastOptions,
  ElementOptions,
  ShapeOptions,
  TreeOptions,
} from "./arbitraries.js";
export * as arb from "./arbitraries.js";
export * from "./index.js";
