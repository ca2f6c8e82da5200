/**
 * Eager valueAndGrad on a cached compiled plan (src/transforms/eager-compile.ts): a structure seen
 * `compileAfter` times runs as one jit plan. The plan's value and gradients have the tape's bits; the
 * function still runs once per call, sees its own closure and reads its own values; and a call whose
 * structure differs (another branch, another captured number) never gets another call's plan.
 */
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import {
  backend,
  customVjp,
  debug,
  type EagerCompileOptions,
  grad,
  type Array as NdArray,
  nn,
  np,
  setBackend,
  setEagerCompile,
  valueAndGrad,
  vmap,
} from "../../src/index.js";
import { eagerCompileCounts } from "../../src/transforms/eager-compile.js";
import { seededArray } from "../helpers/numeric.js";

const defaults = setEagerCompile({});
afterEach(() => {
  setEagerCompile(defaults);
});

/** The leaves' bits, to compare the compiled road with the tape exactly. */
function bits(tree: unknown): number[][] {
  if (Array.isArray(tree)) return tree.flatMap(bits);
  if (tree !== null && typeof tree === "object" && !("shape" in tree))
    return Object.values(tree as Record<string, unknown>).flatMap(bits);
  const x = tree as NdArray;
  return [[...x.astype("float64").toTypedArray()]];
}

/** Runs `call` on the tape only, then with compilation from the first call; returns both results. */
function tapeAndCompiled<T>(call: () => T): { tape: T; compiled: T } {
  setEagerCompile({ enabled: false });
  const tape = call();
  setEagerCompile({ enabled: true, compileAfter: 1 });
  const before = eagerCompileCounts.compiled;
  const compiled = call();
  expect(eagerCompileCounts.compiled).toBeGreaterThan(before);
  return { tape, compiled };
}

const mlp = {
  w1: seededArray([6, 5], 1),
  b1: seededArray([5], 2),
  w2: seededArray([5, 3], 3),
};
const x = seededArray([4, 6], 4);
const y = seededArray([4, 3], 5);
type Mlp = typeof mlp;
const mlpLoss = (p: Mlp, xb: NdArray, yb: NdArray) =>
  nn.mseLoss(np.matmul(nn.relu(np.matmul(xb, p.w1).add(p.b1)), p.w2), yb);

describe("eager valueAndGrad on a compiled plan", () => {
  it("gives the tape's bits: an MLP, float32 and float64", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const p = { w1: mlp.w1.astype(dtype), b1: mlp.b1.astype(dtype), w2: mlp.w2.astype(dtype) };
      const xs = x.astype(dtype);
      const ys = y.astype(dtype);
      const { tape, compiled } = tapeAndCompiled(() => valueAndGrad(mlpLoss)(p, xs, ys));
      expect(bits(compiled)).toEqual(bits(tape));
      expect(compiled[0].dtype).toBe(dtype);
    }
  });

  it("gives the tape's bits with argnums, hasAux and allowInt", () => {
    const f = (a: NdArray, b: NdArray, n: NdArray) => {
      const h = np.tanh(a.mul(b)).mul(n.astype("float32"));
      return [h.sum(), { mean: h.mean(), n }] as const;
    };
    const a = seededArray([3, 2], 6);
    const b = seededArray([3, 2], 7);
    const n = np.array([1, 2], { dtype: "int32" });
    const { tape, compiled } = tapeAndCompiled(() =>
      valueAndGrad(f, { argnums: [0, 1, 2], hasAux: true, allowInt: true })(a, b, n),
    );
    expect(bits(compiled)).toEqual(bits(tape));
    expect(compiled[1][2].dtype).toBe("int32");
    expect(compiled[0][1].n.dtype).toBe("int32");
  });

  it("matches the tape on random MLP parameters (property)", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
        const p = {
          w1: seededArray([6, 5], seed),
          b1: seededArray([5], seed + 1),
          w2: seededArray([5, 3], seed + 2),
        };
        const compiled = valueAndGrad(mlpLoss)(p, x, y);
        setEagerCompile({ enabled: false });
        const tape = valueAndGrad(mlpLoss)(p, x, y);
        setEagerCompile({ enabled: true });
        expect(bits(compiled)).toEqual(bits(tape));
      }),
      { numRuns: 25 },
    );
  });

  it("compiles a structure after compileAfter calls, and reuses it", () => {
    setEagerCompile({ enabled: true, compileAfter: 3 });
    // A fresh structure: shapes no other test uses.
    const p = seededArray([7, 3], 11);
    const f = (w: NdArray) => np.sin(w).mul(w).sum();
    const start = { ...eagerCompileCounts };
    for (let i = 0; i < 5; i++) grad(f)(p);
    expect(eagerCompileCounts.opByOp - start.opByOp).toBe(2);
    expect(eagerCompileCounts.compilations - start.compilations).toBe(1);
    expect(eagerCompileCounts.compiled - start.compiled).toBe(3);
  });

  it("runs the function once per call and sees the closure of each call", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    let calls = 0;
    let scale = 2;
    let offset = np.array([1, 2, 3]);
    const f = (w: NdArray) => {
      calls++;
      return w.mul(scale).mul(offset).sum();
    };
    const w = np.array([0.5, -1, 2]);
    expect(grad(f)(w).toArray()).toEqual([2, 4, 6]);
    scale = 3; // a captured JS number is a literal of the program: a new structure
    expect(grad(f)(w).toArray()).toEqual([3, 6, 9]);
    offset = np.array([-1, 0, 1]); // a captured array is an input of the plan: same structure, new values
    expect(grad(f)(w).toArray()).toEqual([-3, 0, 3]);
    expect(calls).toBe(3);
  });

  it("lets the function read values: printing, item() and JS branches, each call its own", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const printed: string[] = [];
    const f = (w: NdArray) => {
      const s = w.sum();
      printed.push(String(s));
      // A branch on a value: each call's program holds the branch it took.
      return s.item() > 0 ? w.mul(w).sum() : w.mul(-5).sum();
    };
    const pos = np.array([1, 2]);
    const neg = np.array([-1, -2]);
    const before = eagerCompileCounts.compiled;
    for (let i = 0; i < 3; i++) {
      expect(grad(f)(pos).toArray()).toEqual([2, 4]);
      expect(grad(f)(neg).toArray()).toEqual([-5, -5]);
    }
    expect(eagerCompileCounts.compiled - before).toBe(6);
    expect(printed).toEqual(
      Array(3).fill(["array(3., shape=[], dtype=float32)", "array(-3., shape=[], dtype=float32)"]).flat(),
    );
  });

  it("takes shapes from values as eagerly: nonzero, unique and boolean masks", () => {
    const takePositive = (w: NdArray) =>
      np
        .take(w, np.nonzero(w.greater(0))[0]!)
        .mul(w.sum())
        .sum();
    const maskPositive = (w: NdArray) => np.index(w, w.greater(0)).square().sum();
    const countDistinct = (w: NdArray) => w.sum().mul(np.unique(w.greater(0)).size);
    for (const w of [
      np.array([1, -2, 3]),
      np.array([-1, -2, 3]),
      np.array([4, 5, -6]),
      np.array([1, -2, 3]),
    ]) {
      for (const f of [takePositive, maskPositive, countDistinct]) {
        const { tape, compiled } = tapeAndCompiled(() => grad(f)(w));
        expect(bits(compiled)).toEqual(bits(tape));
      }
    }
  });

  it("keys literals by their exact value: 0 and -0, NaN", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const w = np.array([1, 2], { dtype: "float64" });
    let c = 0;
    // One function throughout: its last structure is compared in place, the literal included.
    const f = (v: NdArray) => v.div(c).sum();
    for (c of [0, -0, 4, Number.NaN, -0, -0, 0, 0.5, 0.5]) {
      // d/dv of sum(v / c) is 1 / c: +Infinity for 0, -Infinity for -0.
      expect(grad(f)(w).toArray()).toEqual([1 / c, 1 / c]);
    }
  });

  it("keeps the tape for functions it cannot key (a customVjp's rules) and under vmap", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const clip = customVjp(
      (v: NdArray) => v.mul(2),
      (v: NdArray) => [v.mul(2), null] as const,
      (_res: null, ct: NdArray) => [np.clip(ct, -1, 1)] as const,
    );
    const w = np.array([1, 2]);
    const before = eagerCompileCounts.compiled;
    expect(grad((v: NdArray) => clip(v).mul(3).sum())(w).toArray()).toEqual([1, 1]);
    expect(eagerCompileCounts.compiled).toBe(before);
    // Under vmap grad is traced, not eager: the cache is not consulted.
    expect(
      vmap(grad((v: NdArray) => v.mul(v).sum()))(
        np.array([
          [1, 2],
          [3, 4],
        ]),
      ).toArray(),
    ).toEqual([
      [2, 4],
      [6, 8],
    ]);
  });

  it("runs debug.print once per call, also when the function reads a value after it", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const lines: string[] = [];
    const previous = debug.setPrintSink((line) => lines.push(line));
    try {
      const printsThenReads = (w: NdArray) => {
        debug.print("w = {}", w);
        return w.sum().item() > 0 ? w.mul(w).sum() : w.sum();
      };
      const printsOnly = (w: NdArray) => {
        debug.print("v = {}", w);
        return w.mul(3).sum();
      };
      const w = np.array([1, 2]);
      for (let i = 0; i < 3; i++) {
        expect(grad(printsThenReads)(w).toArray()).toEqual([2, 4]);
        expect(grad(printsOnly)(w).toArray()).toEqual([3, 3]);
      }
      expect(lines).toEqual(Array(3).fill(["w = [1., 2.]", "v = [1., 2.]"]).flat());
    } finally {
      debug.setPrintSink(previous);
    }
  });

  it("reports errors as the tape does", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const w = np.array([1, 2]);
    expect(() => grad((v: NdArray) => v.mul(2))(w)).toThrow(/must return a scalar \(shape \[\]\)/);
    expect(() => grad((v: NdArray) => v.add(np.ones([3])).sum())(w)).toThrow(/add/);
  });

  it("compiles a structure again for the kernels set after setBackend", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const f = (w: NdArray) => np.tanh(np.matmul(w, w)).sum();
    const w = seededArray([5, 5], 21);
    const initial = backend();
    const wasm = grad(f)(w);
    const start = eagerCompileCounts.compilations;
    setBackend("js");
    try {
      const onJs = grad(f)(w);
      expect(eagerCompileCounts.compilations - start).toBe(1);
      setEagerCompile({ enabled: false });
      expect(bits(onJs)).toEqual(bits(grad(f)(w)));
    } finally {
      setBackend("wasm", { threads: initial.threads });
    }
    setEagerCompile({ enabled: true });
    expect(bits(grad(f)(w))).toEqual(bits(wasm));
    expect(eagerCompileCounts.compilations - start).toBe(1);
  });

  it("keeps the 16 most recently used plans", () => {
    setEagerCompile({ enabled: true, compileAfter: 1 });
    const f = (w: NdArray) => np.cos(w).mul(w).sum();
    // Shapes no other test uses: 17 structures, one plan each.
    const inputs = Array.from({ length: 17 }, (_, i) => seededArray([3, 40 + i], 30 + i));
    const start = eagerCompileCounts.compilations;
    for (const w of inputs) grad(f)(w);
    expect(eagerCompileCounts.compilations - start).toBe(17);
    grad(f)(inputs[16]!); // the newest is kept
    expect(eagerCompileCounts.compilations - start).toBe(17);
    grad(f)(inputs[0]!); // the oldest was dropped: compiled again
    expect(eagerCompileCounts.compilations - start).toBe(18);
  });

  it("rejects a bad compileAfter, a non-boolean enabled and unknown options", () => {
    expect(() => setEagerCompile({ compileAfter: 0 })).toThrow(RangeError);
    expect(() => setEagerCompile({ compileAfter: 2.5 })).toThrow(
      /compileAfter must be a positive integer, got 2.5/,
    );
    expect(() => setEagerCompile({ enabled: "yes" as unknown as boolean })).toThrow(
      /enabled must be a boolean/,
    );
    expect(() => setEagerCompile({ compileafter: 2 } as EagerCompileOptions)).toThrow(/setEagerCompile/);
    expect(setEagerCompile({})).toEqual(defaults);
  });
});
