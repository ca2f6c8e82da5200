/** The fast-check arbitraries and the property parameters taken from LAWS_RUNS / LAWS_SEED. */
import * as fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { broadcastShapes } from "../../src/core/shape.js";
import { NdArray, np, tree } from "../../src/index.js";
import { DEFAULT_RUNS } from "../../src/testing/properties.js";
import { testing } from "../../src/testing.js";

const { arb, propertyParameters } = testing;
const runs = propertyParameters();

describe("arb.shape", () => {
  it("respects rank and dimension bounds", () => {
    fc.assert(
      fc.property(arb.shape({ minRank: 1, maxRank: 4, minDim: 2, maxDim: 5 }), (s) => {
        expect(s.length).toBeGreaterThanOrEqual(1);
        expect(s.length).toBeLessThanOrEqual(4);
        for (const d of s) expect(d >= 2 && d <= 5).toBe(true);
      }),
      runs,
    );
  });
});

describe("arb.array", () => {
  it("gives arrays of the requested shape, dtype and range", () => {
    fc.assert(
      fc.property(arb.array({ shape: [2, 3], dtype: "float32", min: -1, max: 3 }), (x) => {
        expect(x.shape).toEqual([2, 3]);
        expect(x.dtype).toBe("float32");
        for (const v of x.toTypedArray()) expect(v >= -1 && v <= 3).toBe(true);
      }),
      runs,
    );
  });

  it("keeps a margin from the avoided values", () => {
    fc.assert(
      fc.property(arb.array({ avoid: [0, 1], margin: 0.1, min: -2, max: 2 }), (x) => {
        for (const v of x.toTypedArray()) {
          expect(Math.abs(v)).toBeGreaterThanOrEqual(0.1);
          expect(Math.abs(v - 1)).toBeGreaterThanOrEqual(0.1 - 1e-12);
          expect(v >= -2 && v <= 2).toBe(true);
        }
      }),
      runs,
    );
  });

  it("gives distinct elements on request", () => {
    fc.assert(
      fc.property(
        arb.array({ shape: arb.shape({ minRank: 1, minDim: 1 }), distinct: true, avoid: [0] }),
        (x) => {
          const values = [...x.toTypedArray()].sort((a, b) => a - b);
          const gap = 4 / (5 * x.size);
          for (let i = 1; i < values.length; i++)
            expect(values[i]! - values[i - 1]!).toBeGreaterThanOrEqual(gap * 0.9);
        },
      ),
      runs,
    );
  });

  it("gives integer and bool arrays", () => {
    fc.assert(
      fc.property(arb.array({ dtype: "int32", min: -3, max: 3 }), arb.array({ dtype: "bool" }), (i, b) => {
        expect(i.dtype).toBe("int32");
        for (const v of i.toTypedArray()) expect(Number.isInteger(v) && v >= -3 && v <= 3).toBe(true);
        expect(b.dtype).toBe("bool");
      }),
      runs,
    );
  });
});

describe("arb.broadcastablePair", () => {
  it("gives arrays that broadcast together", () => {
    fc.assert(
      fc.property(arb.broadcastablePair(), ([a, b]) => {
        const shape = broadcastShapes("test", a.shape, b.shape);
        expect(np.add(a, b).shape).toEqual(shape);
      }),
      runs,
    );
  });
});

describe("arb.tree", () => {
  it("gives pytrees whose leaves come from the leaf arbitrary", () => {
    fc.assert(
      fc.property(arb.tree(arb.array({ shape: [2] })), (t) => {
        const [leaves, def] = tree.flatten(t);
        for (const l of leaves) expect(l).toBeInstanceOf(NdArray);
        // Rebuilding gives the same structure with the very same leaves.
        const [again, againDef] = tree.flatten(tree.unflatten(def, leaves));
        expect(tree.treeDefEquals(def, againDef)).toBe(true);
        again.forEach((l, i) => expect(l).toBe(leaves[i]));
      }),
      runs,
    );
  });
});

describe("propertyParameters", () => {
  const saved = { runs: process.env.LAWS_RUNS, seed: process.env.LAWS_SEED };
  afterEach(() => {
    for (const [name, value] of [
      ["LAWS_RUNS", saved.runs],
      ["LAWS_SEED", saved.seed],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it("reads the number of runs and the seed from the environment", () => {
    process.env.LAWS_RUNS = "7";
    process.env.LAWS_SEED = "42";
    expect(propertyParameters()).toEqual({ numRuns: 7, seed: 42 });
    expect(propertyParameters({ scale: 0.5 })).toEqual({ numRuns: 4, seed: 42 });
  });

  it("defaults to a few runs and a fresh seed", () => {
    delete process.env.LAWS_RUNS;
    delete process.env.LAWS_SEED;
    expect(propertyParameters()).toEqual({ numRuns: DEFAULT_RUNS });
  });

  it("a failing property reports its seed, which replays it", () => {
    const property = fc.property(fc.integer(), (n) => n < 1000);
    let message = "";
    try {
      fc.assert(property, { seed: 1234, numRuns: 1000 });
    } catch (e) {
      message = String(e);
    }
    expect(message).toContain("seed: 1234");
  });

  it("rejects a malformed value", () => {
    process.env.LAWS_RUNS = "many";
    expect(() => propertyParameters()).toThrow(/LAWS_RUNS/);
  });
});
