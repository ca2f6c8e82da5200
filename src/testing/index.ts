/**
 * Testing tools (public API): gradient checking against finite differences, fast-check arbitraries for
 * arrays and pytrees, tree comparison with a readable diff, and property-run parameters.
 * @module
 */

export type { Tree } from "../tree/fp.js";
export { AllCloseError, type AllCloseOptions, assertAllClose } from "./all-close.js";
export type {
  ArrayOptions,
  BroadcastOptions,
  ElementOptions,
  ShapeOptions,
  TreeOptions,
} from "./arbitraries.js";
export * as arb from "./arbitraries.js";
export {
  type CheckGradsOptions,
  checkGrads,
  GradientCheckError,
  type GradientCheckReport,
  type GradientMismatch,
  type GradMode,
} from "./check-grads.js";
export { type PropertyOptions, propertyParameters } from "./properties.js";
