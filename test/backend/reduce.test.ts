import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { outStridesFor, type ReduceOp, reduceInto } from "../../src/backend/js/reduce.js";
import { sizeOf } from "../../src/core/shape.js";

/** Reference: visit every input element by its coordinates, in input order. */
function naiveReduce(op: ReduceOp, x: Float64Array, shape: number[], axes: number[]): number[] {
  const keptShape = shape.filter((_, i) => !axes.includes(i));
  const init = { sum: 0, prod: 1, max: -Infinity, min: Infinity, and: 1, or: 0 }[op];
  const acc = new Array<number>(sizeOf(keptShape)).fill(init);
  for (let flat = 0; flat < x.length; flat++) {
    let rest = flat;
    const coord = shape.map(() => 0);
    for (let d = shape.length - 1; d >= 0; d--) {
      coord[d] = rest % shape[d]!;
      rest = Math.floor(rest / shape[d]!);
    }
    let o = 0;
    coord.forEach((c, d) => {
      if (!axes.includes(d)) o = o * shape[d]! + c;
    });
    const v = x[flat]!;
    const a = acc[o]!;
    if (op === "sum") acc[o] = a + v;
    else if (op === "prod") acc[o] = a * v;
    else if (op === "max") acc[o] = v > a || Number.isNaN(v) ? v : a;
    else if (op === "min") acc[o] = v < a || Number.isNaN(v) ? v : a;
    else if (op === "and") acc[o] = v ? a : 0;
    else acc[o] = v ? 1 : a;
  }
  return acc;
}

describe("reduction kernel (JS)", () => {
  it("equals an element-by-element reference on random shapes, axes and ops, NaN included", () => {
    const ops: ReduceOp[] = ["sum", "prod", "max", "min", "and", "or"];
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 0, maxLength: 5 }),
        fc.array(fc.boolean(), { minLength: 5, maxLength: 5 }),
        fc.constantFrom(...ops),
        fc.integer({ min: 0, max: 1e6 }),
        (shape, reduced, op, seed) => {
          const axes = shape.map((_, i) => i).filter((i) => reduced[i]);
          const n = sizeOf(shape);
          const x = new Float64Array(n);
          for (let i = 0; i < n; i++) {
            const r = ((seed + i * 7919) % 23) - 11;
            x[i] = r === 11 ? Number.NaN : op === "and" || op === "or" ? Number(r > 0) : r / 4;
          }
          const want = naiveReduce(op, x, shape, axes);
          const out = new Float64Array(want.length);
          reduceInto(op, x, shape, out, new Float64Array(want.length), outStridesFor(shape, axes));
          // Same order of accumulation: the results are identical, NaN for NaN.
          expect([...out]).toEqual(want);
        },
      ),
      { numRuns: 300 },
    );
  });
});
