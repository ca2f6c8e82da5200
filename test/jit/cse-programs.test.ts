import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, scan } from "../../src/index.js";

// Equations whose params hold programs (scan, while, switch bodies) are merged by common-subexpression
// elimination only when they hold the same program: two bodies that print alike (no equations, outputs
// wired differently) are different computations.
describe("jit: common-subexpression elimination and program-valued params", () => {
  it("keeps two scans whose empty bodies wire their carries differently", () => {
    const f = (x: NdArray, y: NdArray) => {
      const [same] = scan((c: [NdArray, NdArray]) => [c, null], [x, y], null, { length: 1 });
      const [swapped] = scan((c: [NdArray, NdArray]) => [[c[1], c[0]], null], [x, y], null, {
        length: 1,
      });
      return [same, swapped];
    };
    const x = np.array([1, 2]);
    const y = np.array([3, 4]);
    const eager = f(x, y);
    const jitted = jit(f)(x, y);
    expect(jitted[1][0].toArray()).toEqual([3, 4]);
    expect(jitted[1][0].toArray()).toEqual(eager[1][0].toArray());
    expect(jitted[0][0].toArray()).toEqual([1, 2]);
  });
});
