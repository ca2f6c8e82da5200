import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { PlanMemory } from "../../src/backend/plan-memory.js";
import {
  eliminateCommonSubexpressions,
  eliminateDeadCode,
  optimize,
  simplify,
} from "../../src/compiler/passes.js";
import {
  backend,
  grad,
  jit,
  makeProgram,
  type Array as NdArray,
  nn,
  np,
  ShapeDtype,
  scan,
  setBackend,
  vmap,
} from "../../src/index.js";
import { countAllocatedBytes } from "../helpers/allocations.js";
import { expectClose, seededArray } from "../helpers/numeric.js";

const mlpLoss = (p: { w1: NdArray; b1: NdArray; w2: NdArray }, x: NdArray, y: NdArray) => {
  const h = np.tanh(np.matmul(x, p.w1).add(p.b1));
  const out = np.matmul(h, p.w2);
  return np.mean(np.square(out.sub(y)));
};

function mlpParams(seed: number) {
  return { w1: seededArray([4, 8], seed), b1: seededArray([8], seed + 1), w2: seededArray([8, 2], seed + 2) };
}

describe("jit", () => {
  const x = seededArray([5, 4], 100);
  const y = seededArray([5, 2], 101);

  it("gives the eager results, and composes with grad and vmap in both orders", () => {
    const p = mlpParams(1);
    expect(jit(mlpLoss)(p, x, y).item()).toBeCloseTo(mlpLoss(p, x, y).item(), 13);
    const eager = grad(mlpLoss)(p, x, y);
    for (const g of [jit(grad(mlpLoss))(p, x, y), grad(jit(mlpLoss))(p, x, y)]) {
      expectClose(g.w1, eager.w1, 1e-12);
      expectClose(g.w2, eager.w2, 1e-12);
    }
    const perExample = vmap(jit(grad(mlpLoss)), { inAxes: [null, 0, 0] })(
      p,
      x.reshape([5, 1, 4]),
      y.reshape([5, 1, 2]),
    );
    expect(perExample.w1.shape).toEqual([5, 4, 8]);
    expectClose(np.mean(perExample.w1, { axis: 0 }), eager.w1, 1e-12);
    // jit inside jit
    const outer = jit((q: typeof p) => jit(mlpLoss)(q, x, y).mul(2));
    expect(outer(p).item()).toBeCloseTo(2 * mlpLoss(p, x, y).item(), 12);
  });

  it("caches per signature, retraces on new shapes or static values, and warns when it retraces often", () => {
    let traces = 0;
    const f = jit(
      (a: NdArray, power: number) => {
        traces++;
        return np.power(a, power);
      },
      { staticArgnums: 1 },
    );
    f(np.ones([2]), 2);
    f(np.ones([2]), 2);
    expect(traces).toBe(1);
    f(np.ones([3]), 2);
    f(np.ones([2]), 3);
    expect(traces).toBe(3);
    expect(f(np.array([3]), 3).item()).toBe(27);
    expect(f.cacheInfo()).toMatchObject({ misses: 4, hits: 1 });
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const g = jit((a: NdArray) => a.add(1));
    for (let n = 1; n <= 12; n++) g(np.ones([n]));
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/traced 9 times/);
    warn.mockRestore();
  });

  it("bounds its cache (least recently used first)", () => {
    const f = jit((a: NdArray) => a.mul(2), { cacheSize: 2 });
    f(np.ones([1]));
    f(np.ones([2]));
    f(np.ones([3]));
    expect(f.cacheInfo().size).toBe(2);
  });

  it("donated arguments give their buffers to the outputs and cannot be used afterwards", () => {
    const step = jit((p: { w: NdArray }, g: { w: NdArray }) => ({ w: p.w.sub(g.w.mul(0.1)) }), {
      donateArgnums: 0,
    });
    const p = { w: np.array([1, 2, 3], { dtype: "float64" }) };
    const g = { w: np.array([1, 1, 1], { dtype: "float64" }) };
    const out = step(p, g);
    expectClose(out.w, [0.9, 1.9, 2.9], 1e-15);
    expect(() => p.w.toArray()).toThrow(/donated/);
    expect(() => step(p, g)).toThrow(/donated/);
    // Donating the output in turn: the next output is written over its buffer, in place.
    const buffer = (out.w as unknown as { data: Float64Array }).data;
    const out2 = step(out, g);
    expect((out2.w as unknown as { data: Float64Array }).data).toBe(buffer);
    expectClose(out2.w, [0.8, 1.8, 2.8], 1e-15);
  });

  it("on the JS backend a donated buffer is written over directly", () => {
    const initial = backend();
    setBackend("js");
    try {
      const step = jit((w: NdArray) => w.mul(2), { donateArgnums: 0 });
      const w = np.array([1, 2, 3], { dtype: "float64" });
      const buffer = (w as unknown as { data: Float64Array }).data;
      const out = step(w);
      expect((out as unknown as { data: Float64Array }).data).toBe(buffer);
      expectClose(out, [2, 4, 6], 0);
    } finally {
      setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
    }
  });

  it("an output that is kept rather than donated is never written over by later calls", () => {
    const step = jit((w: NdArray) => w.add(1), { donateArgnums: 0 });
    const kept = step(np.array([1, 2], { dtype: "float64" }));
    const other = step(np.array([10, 20], { dtype: "float64" })); // kept still holds the first output
    let chained = step(other);
    chained = step(chained);
    expectClose(kept, [2, 3], 0);
    expectClose(chained, [13, 23], 0);
    // Returned twice, one value gives two arrays: donating one leaves the other intact.
    const twice = jit(
      (w: NdArray) => {
        const y = w.mul(3);
        return [y, y] as const;
      },
      { donateArgnums: 0 },
    );
    const [a, b] = twice(np.array([1, 2], { dtype: "float64" }));
    twice(a);
    expectClose(b, [3, 6], 0);
  });

  it("lower() shows the optimized program, fused loops and the memory plan", () => {
    const text = jit(grad(mlpLoss)).lower(mlpParams(2), x, y).toString();
    expect(text).toMatch(/fused\[/);
    expect(text).toMatch(/memory: arena \d+ bytes in \d+ slots for \d+ bytes of intermediates/);
    const { executable } = jit(grad(mlpLoss)).lower(mlpParams(2), x, y);
    expect(executable.memory.arenaBytes).toBeLessThan(executable.memory.intermediateBytes);
  });

  it("profile() times every kernel call of the plan, in plan order", () => {
    const lowered = jit(grad(mlpLoss)).lower(mlpParams(2), x, y);
    const rows = lowered.profile(3);
    const listed = lowered
      .toString()
      .match(/^ {2}\d+: .*$/gm)!
      .map((line) => line.trim());
    // Every kernel call is a listed step (reshapes are views and make no call), in the same order.
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.length).toBeLessThanOrEqual(listed.length);
    const positions = rows.map((r) => listed.indexOf(r.step));
    expect(positions.every((at) => at >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    for (const r of rows) expect(r.ms).toBeGreaterThanOrEqual(0);
    expect(() => lowered.profile(0)).toThrow(/profile: runs must be a positive integer, got 0/);
    expect(() => lowered.profile(1.5)).toThrow(RangeError);
  });

  it("profile() also times a loop body's steps, listed after the step that runs the loop", () => {
    const w = seededArray([4, 4], 21);
    const f = (h: NdArray, rows: NdArray) =>
      scan(
        (c: NdArray, x: NdArray): [NdArray, NdArray] => {
          const next = np.tanh(np.matmul(c, w).add(x));
          return [next, next];
        },
        h,
        rows,
      );
    const lowered = jit(f).lower(seededArray([2, 4], 22), seededArray([6, 2, 4], 23));
    const rows = lowered.profile(2);
    const loop = rows.findIndex((r) => /^\d+: scan /.test(r.step));
    expect(loop).toBeGreaterThanOrEqual(0);
    const step = rows[loop]!.step.split(":")[0]!;
    const body = rows.filter((r) => r.step.startsWith(`${step} body > `));
    // The body's product and its fused tanh(. + x), each timed over the 6 iterations.
    expect(body.map((r) => r.step.replace(/ -> .*/, ""))).toEqual([
      `${step} body > 0: matmul`,
      `${step} body > 1: fused[add,tanh]`,
    ]);
    expect(rows.indexOf(body[0]!)).toBe(loop + 1);
    for (const r of body) expect(r.ms).toBeGreaterThan(0);
  });

  it("the plan memory rejects bad reservations and plans too large for a WebAssembly memory", () => {
    const memory = new PlanMemory({ wasm: true, shared: false });
    expect(() => memory.reserve(-1)).toThrow(/cannot reserve -1 bytes/);
    expect(() => memory.reserve(0.5)).toThrow(RangeError);
    memory.reserve(2 ** 32);
    // Refused before anything is allocated, with the way out named.
    expect(() => memory.view()).toThrow(
      /more than a WebAssembly memory holds \(4 GiB\); use setBackend\("js"\)/,
    );
    const small = new PlanMemory({ wasm: false, shared: false });
    const at = small.reserve(10);
    expect(small.reserve(4) % 64).toBe(0);
    expect(at).toBe(0);
    small.view();
    expect(() => small.reserve(8)).toThrow(/reserve after the memory was allocated/);
  });

  it("the plan memory holds the arena and the kernels' scratch", () => {
    const x4 = seededArray([2, 3, 9, 9], 4);
    const w4 = seededArray([4, 3, 3, 3], 5);
    // Padded, so that the weight gradient unrolls its input (stride-1 unpadded ones read x in place).
    const padded = (a: NdArray, b: NdArray) => nn.conv2d(a, b, undefined, { padding: 1 }).sum();
    const { executable } = jit(grad(padded, { argnums: 1 })).lower(x4, w4);
    // The unrolled input (27 x 2*81 doubles) is scratch the convolution reserved beyond the arena.
    expect(executable.memory.planBytes).toBeGreaterThanOrEqual(executable.memory.arenaBytes + 27 * 162 * 8);
  });

  it("a donated training step allocates nothing but its loss in steady state", () => {
    const step = jit(
      (p: ReturnType<typeof mlpParams>, xb: NdArray, yb: NdArray) => {
        const g = grad(mlpLoss)(p, xb, yb);
        return { w1: p.w1.sub(g.w1.mul(0.1)), b1: p.b1.sub(g.b1.mul(0.1)), w2: p.w2.sub(g.w2.mul(0.1)) };
      },
      { donateArgnums: 0 },
    );
    let p = mlpParams(3);
    for (let i = 0; i < 3; i++) p = step(p, x, y);
    const bytes = countAllocatedBytes(() => {
      for (let i = 0; i < 10; i++) p = step(p, x, y);
    });
    expect(bytes).toBe(0);
  });
});

describe("memory planning", () => {
  // Guards the in-place rule of the planner: in LeNet, a float64 loop once wrote over the bool relu mask
  // it was still reading (wider elements over narrower ones).
  it("LeNet's jitted value and gradient equal eager evaluation", async () => {
    const { lenet } = await import("../../docs/examples/lenet.js");
    const { nn, random, valueAndGrad, tree } = await import("../../src/index.js");
    const params = lenet.init(random.key(0), { dtype: "float64" });
    const xb = random.normal(random.key(1), [3, 1, 32, 32], { dtype: "float64" });
    const yb = np.array(new Int32Array([3, 1, 4]));
    const loss = (p: typeof params) => nn.crossEntropy(lenet.apply(p, xb), yb);
    const [v0, g0] = valueAndGrad(loss)(params);
    const [v1, g1] = jit(valueAndGrad(loss))(params);
    expect(v1.item()).toBe(v0.item());
    const jitted = tree.flattenWithPath(g1);
    tree.flattenWithPath(g0).forEach(([path, g], i) => {
      expect(jitted[i]![0]).toBe(path);
      expectClose(jitted[i]![1], g, 1e-12, 1e-14);
    });
  });
});

describe("loop fusion", () => {
  it("a reduction absorbs the elementwise loop that feeds it: sum((a - b)^2) is one pass", () => {
    const f = (a: NdArray, b: NdArray) => np.sum(np.square(a.sub(b)));
    const a = seededArray([37, 5], 21);
    const b = seededArray([37, 5], 22);
    const { executable } = jit(f).lower(a, b);
    expect(executable.steps).toHaveLength(1);
    expect(executable.kernelSources[0]).toMatch(/total \+=/);
    expectClose(jit(f)(a, b), f(a, b), 1e-13);
  });

  it("broadcast constants are recomputed by every loop that reads them, never stored", () => {
    // ReLU's zeros are read by the forward select and again by the backward one.
    const f = (v: NdArray) => np.sum(np.square(nn.relu(v.mul(2))));
    const x = seededArray([6, 7, 5], 24);
    const { executable } = jit(grad(f)).lower(x);
    const stored = executable.steps.flatMap((s) => (s.kind === "fused" ? s.outputs : []));
    const broadcasts = executable.steps.flatMap((s) =>
      s.kind === "fused" ? s.equations.filter((e) => e.primitive.name === "broadcast_in_dim") : [],
    );
    expect(broadcasts.length).toBeGreaterThan(0);
    for (const e of broadcasts) expect(stored).not.toContain(e.outputs[0]);
    expectClose(jit(grad(f))(x), grad(f)(x), 1e-14);
  });

  it("partial reductions (sum, max, min over any axes) fused into their producer equal eager ones", () => {
    const x = seededArray([4, 3, 5], 23);
    const cases: ((v: NdArray) => NdArray)[] = [
      (v) => np.sum(np.tanh(v), { axis: 1 }),
      (v) => np.sum(np.exp(v), { axis: [0, 2] }),
      (v) => np.max(v.mul(3).add(1), { axis: 2 }),
      (v) => np.min(np.sin(v), { axis: 0 }),
      (v) => np.sum(v.mul(v), { axis: -1, keepdims: true }),
    ];
    for (const f of cases) {
      const { executable } = jit(f).lower(x);
      expect(executable.steps.filter((s) => s.kind === "fused").length).toBe(1);
      expectClose(jit(f)(x), f(x), 1e-13);
    }
  });
});

describe("compiler passes", () => {
  it("dead code and common subexpressions are removed", () => {
    const f = (a: NdArray) => {
      np.exp(a); // dead
      return np.tanh(a).add(np.tanh(a));
    };
    const staged = makeProgram(f)(new ShapeDtype([3]));
    const cse = eliminateDeadCode(eliminateCommonSubexpressions(staged));
    const names = cse.program.equations.map((e) => e.primitive.name);
    expect(names).toEqual(["tanh", "add"]);
  });

  it("simplify drops subtractions of zeros, multiplies by one and chains of transposes", () => {
    const f = (a: NdArray) =>
      np
        .transpose(np.transpose(a.sub(np.zerosLike(a)).mul(1)))
        .reshape([6])
        .reshape([2, 3]);
    const out = simplify(makeProgram(f)(new ShapeDtype([2, 3])));
    const opt = optimize(out);
    expect(opt.program.equations).toHaveLength(0);
  });

  it("simplify keeps what is exact only for finite values: x + 0, x * 0, 0 / x", () => {
    // -0 + 0 is +0, Inf * 0 is NaN, 0 / -1 is -0 (ieee-exact.test.ts checks the values).
    for (const f of [
      (a: NdArray) => a.add(np.zerosLike(a)),
      (a: NdArray) => a.mul(np.zerosLike(a)),
      (a: NdArray) => np.divide(np.zerosLike(a), a),
    ]) {
      const opt = optimize(makeProgram(f)(new ShapeDtype([2, 3])));
      expect(opt.program.equations.map((e) => e.primitive.name)).toContain("broadcast_in_dim");
      expect(opt.program.equations).toHaveLength(2);
    }
  });

  it("a linear layer at batch 1 moves no data for its transposes, and stays equal to eager", () => {
    // x @ W.T becomes (W @ x.T).T and the weight gradient (x.T @ ct).T becomes ct.T @ x; transposes of
    // [1, n] matrices are reshapes.
    const loss = (w: NdArray, xb: NdArray) => np.sum(np.tanh(np.matmul(xb, w.T)));
    const w = seededArray([6, 9], 30);
    const xb = seededArray([1, 9], 31);
    const { executable } = jit(grad(loss)).lower(w, xb);
    const names = executable.program.equations.map((e) => e.primitive.name);
    expect(names).not.toContain("transpose");
    expectClose(jit(grad(loss))(w, xb), grad(loss)(w, xb), 1e-13);
    const xs = seededArray([64, 9], 32); // a large batch keeps the plain form, and the same values
    expectClose(jit(grad(loss))(w, xs), grad(loss)(w, xs), 1e-12);
  });

  it("the backward program of a closed-over argument keeps no zero-tangent work", () => {
    const f = (w: NdArray, v: NdArray) => np.sum(np.tanh(np.matmul(v, w)));
    const staged = makeProgram(grad(f))(new ShapeDtype([3, 4]), new ShapeDtype([2, 3]));
    const opt = optimize(staged);
    const matmuls = opt.program.equations.filter((e) => e.primitive.name === "matmul").length;
    expect(matmuls).toBe(2);
  });
});

describe("jit equals eager on random programs", () => {
  // A random program: a pool of values broadcastable to [3,4]; each step applies an op to pool members.
  type Op = { kind: number; a: number; b: number };
  const W = seededArray([4, 4], 7);
  const unary = [
    np.tanh,
    np.sin,
    np.cos,
    np.negative,
    np.abs,
    np.square,
    np.sigmoid,
    (v: NdArray) => np.exp(np.tanh(v)),
  ];
  const binary = [np.add, np.subtract, np.multiply, np.maximum, np.minimum];
  function run(ops: Op[], x: NdArray, z: NdArray): NdArray[] {
    const pool: NdArray[] = [x, z];
    const w = W.astype(x.dtype);
    for (const { kind, a, b } of ops) {
      const u = pool[a % pool.length]!;
      const v = pool[b % pool.length]!;
      const k = kind % 6;
      if (k === 0) pool.push(unary[a % unary.length]!(u));
      else if (k === 1) pool.push(binary[b % binary.length]!(u, v));
      else if (k === 2) pool.push(np.sum(u, { axis: a % 2, keepdims: true }));
      else if (k === 3) pool.push(u.shape.join() === "3,4" ? np.matmul(u, w).mul(0.5) : u);
      else if (k === 4) pool.push(np.max(u, { axis: b % 2, keepdims: true }));
      else pool.push(u.shape.join() === "3,4" ? np.transpose(u).reshape([12]).reshape([4, 3]).T : u.add(1));
    }
    const last = pool[pool.length - 1]!;
    return [last, np.sum(pool.reduce((acc, p) => acc.add(p), np.zeros([3, 4], { dtype: x.dtype })))];
  }
  const opArb = fc.record({ kind: fc.nat(), a: fc.nat(), b: fc.nat() });

  it("float64: within 1e-12, including gradients", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 1000 }),
        (ops, seed) => {
          const x = seededArray([3, 4], seed);
          const z = seededArray([3, 1], seed + 1);
          const f = (a: NdArray, c: NdArray) => run(ops, a, c);
          const eager = f(x, z);
          const jitted = jit(f)(x, z);
          eager.forEach((e, i) => expectClose(jitted[i]!, e, 1e-12, 1e-12));
          const loss = (a: NdArray, c: NdArray) => run(ops, a, c)[1]!;
          expectClose(jit(grad(loss))(x, z), grad(loss)(x, z), 1e-10, 1e-12);
        },
      ),
      { numRuns: Number(process.env.LAWS_RUNS ?? 40), seed: Number(process.env.LAWS_SEED ?? 20261122) },
    );
  });

  it("float32: within 1e-5", () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 1000 }),
        (ops, seed) => {
          const x = seededArray([3, 4], seed).astype("float32");
          const z = seededArray([3, 1], seed + 1).astype("float32");
          const f = (a: NdArray, c: NdArray) => run(ops, a, c);
          const eager = f(x, z);
          jit(f)(x, z).forEach((j, i) => expectClose(j, eager[i]!, 1e-5, 1e-5));
        },
      ),
      { numRuns: Number(process.env.LAWS_RUNS ?? 40), seed: Number(process.env.LAWS_SEED ?? 20261122) },
    );
  });
});
