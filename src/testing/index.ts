/**
 * Testing tools (public API): gradient checking against finite differences, tree comparison with a
 * readable diff, and property-run parameters. The fast-check arbitraries for arrays and pytrees
 * (`testing.arb`) are in the `testing` of `tracegrad/testing`, as they need the optional peer
 * dependency fast-check.
 * @module
 */

export type { Tree } from "../tree/fp.js";
export { AllCloseError, type AllCloseOptions, assertAllClose } from "./all-close.js";
export {
  type CheckGradsOptions,
  checkGrads,
  GradientCheckError,
  type GradientCheckReport,
  type GradientMismatch,
  type GradMode,
} from "./check-grads.js";
export { type PropertyOptions, type PropertyParameters, propertyParameters } from "./properties.js";
