/**
 * tracegrad/testing: its `testing` is `tracegrad`'s `testing` with `arb` added, the fast-check
 * arbitraries for arrays, broadcastable pairs and pytrees. It imports fast-check, an optional peer
 * dependency of tracegrad (`npm install --save-dev fast-check`); `tracegrad`'s `testing` (`checkGrads`,
 * `assertAllClose`, `propertyParameters`) does not need it.
 *
 * ```ts
 * import * as fc from "fast-check";
 * import { testing } from "tracegrad/testing";
 * fc.assert(fc.property(testing.arb.array({ shape: [3] }), (x) => x.shape[0] === 3));
 * ```
 * @module
 */

export * as testing from "./testing/all.js";
