import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, scan } from "../../src/index.js";

type Pair = [NdArray, NdArray];

// Equations whose params hold programs (scan, while, switch bodies) are merged by common-subexpression
// elimination only when they hold the same program: two bodies that print alike (no equations, outputs
// wired differently) are different computations.
describe("jit: common-subexpression elimination and program-valued params", () => {
  it("keeps two scans whose empty bodies wire their carries differently", () => {
    const f = (x: NdArray, y: NdArray): [Pair, Pair] => {
      const [same] = scan((c: Pair): [Pair, null] => [c, null], [x, y] as Pair, null, { length: 1 });
      const [swapped] = scan((c: Pair): [Pair, null] => [[c[1], c[0]], null], [x, y] as Pair, null, {
        length: 1,
      });
      return [same, swapped];
    };
    const x = np.array([1, 2]);
    const y = np.array([3, 4]);
    const [eagerSame, eagerSwapped] = f(x, y);
    const [same, swapped] = jit(f)(x, y);
    expect(swapped[0].toArray()).toEqual([3, 4]);
    expect(swapped[0].toArray()).toEqual(eagerSwapped[0].toArray());
    expect(same[0].toArray()).toEqual([1, 2]);
    expect(same[0].toArray()).toEqual(eagerSame[0].toArray());
  });
});
