/**
 * lamb, lion, adafactor and lbfgs against optax's published update rules (optax/_src/alias.py,
 * transform.py, factorized.py; lbfgs_test.py's plain L-BFGS), each written here over JS numbers in
 * float64 and compared step by step on the Rosenbrock function and on a quadratic; then convergence as
 * optax's alias_test does (parabola and Rosenbrock, jitted steps, within 3e-2).
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, optim, tree } from "../../src/index.js";
import type { GradientTransformation } from "../../src/optim/index.js";

type Vec = number[];
const at = (xs: readonly number[], i: number): number => xs[i] ?? Number.NaN;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const dot = (a: readonly number[], b: readonly number[]): number => sum(a.map((x, i) => x * at(b, i)));
const norm = (xs: readonly number[]): number => Math.sqrt(dot(xs, xs));
const rms = (xs: readonly number[]): number => Math.sqrt(dot(xs, xs) / xs.length);

/** A problem over a tree of leaves, as flat JS vectors per leaf: value and gradient. */
interface Problem {
  start: Vec[];
  shapes: number[][];
  gradient(leaves: readonly Vec[]): Vec[];
}

/** Rosenbrock over all elements of all leaves in order (the chained form, optax's test's in 2-D). */
function rosenbrock(shapes: number[][], start: Vec[]): Problem {
  return {
    start,
    shapes,
    gradient(leaves) {
      const x = leaves.flat();
      const g = x.map(() => 0);
      for (let i = 0; i + 1 < x.length; i++) {
        const a = at(x, i);
        const b = at(x, i + 1);
        g[i] = at(g, i) - 400 * a * (b - a * a) - 2 * (1 - a);
        g[i + 1] = at(g, i + 1) + 200 * (b - a * a);
      }
      let offset = 0;
      return leaves.map((leaf) => {
        const out = g.slice(offset, offset + leaf.length);
        offset += leaf.length;
        return out;
      });
    },
  };
}

/** sum((x - target)^2) per leaf. */
function quadratic(shapes: number[][], start: Vec[], target: Vec[]): Problem {
  return {
    start,
    shapes,
    gradient: (leaves) => leaves.map((leaf, l) => leaf.map((x, i) => 2 * (x - at(target[l] ?? [], i)))),
  };
}

const toTree = (leaves: readonly Vec[], shapes: number[][]): NdArray[] =>
  leaves.map((leaf, i) => np.array(leaf, { shape: shapes[i] ?? [], dtype: "float64" }));
const fromTree = (t: unknown): Vec[] => tree.leaves<NdArray>(t).map((x) => Array.from(x.toTypedArray()));

/** One optimizer step of a reference: new leaves from leaves and their gradients. */
type ReferenceStep = (leaves: Vec[], grads: Vec[]) => Vec[];

function compareSteps(
  opt: GradientTransformation,
  reference: ReferenceStep,
  problem: Problem,
  steps: number,
) {
  let params = toTree(problem.start, problem.shapes);
  let state = opt.init(params);
  let ref = problem.start.map((l) => [...l]);
  let worst = 0;
  for (let t = 0; t < steps; t++) {
    const ours = fromTree(params);
    const [u, next] = opt.update(toTree(problem.gradient(ours), problem.shapes), state, params);
    params = optim.applyUpdates(params, u);
    state = next;
    ref = reference(ref, problem.gradient(ref));
    const got = fromTree(params).flat();
    ref.flat().forEach((want, i) => {
      const diff = Math.abs(at(got, i) - want);
      worst = Math.max(worst, diff / Math.max(1, Math.abs(want)));
      if (!(diff <= 1e-13 + 1e-11 * Math.abs(want))) {
        throw new Error(`step ${t + 1}, element ${i}: ${at(got, i)} vs optax's rule ${want}`);
      }
    });
  }
  return worst;
}

// ---------------------------------------------------------------------------------------------------
// optax's rules over JS numbers

function optaxLamb(o: {
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  epsRoot: number;
  weightDecay: number;
}) {
  let t = 0;
  let mu: Vec[] = [];
  let nu: Vec[] = [];
  return (leaves: Vec[], grads: Vec[]): Vec[] => {
    if (t === 0) [mu, nu] = [leaves.map((l) => l.map(() => 0)), leaves.map((l) => l.map(() => 0))];
    t += 1;
    return leaves.map((p, l) => {
      const g = grads[l] ?? [];
      const m = (mu[l] = g.map((x, i) => (1 - o.b1) * x + o.b1 * at(mu[l] ?? [], i)));
      const v = (nu[l] = g.map((x, i) => (1 - o.b2) * x * x + o.b2 * at(nu[l] ?? [], i)));
      const u = m.map(
        (mi, i) => mi / (1 - o.b1 ** t) / (Math.sqrt(at(v, i) / (1 - o.b2 ** t) + o.epsRoot) + o.eps),
      );
      const decayed = u.map((x, i) => x + o.weightDecay * at(p, i));
      const pn = norm(p);
      const un = norm(decayed);
      const ratio = pn === 0 || un === 0 ? 1 : pn / un;
      return p.map((x, i) => x - o.lr * (at(decayed, i) * ratio));
    });
  };
}

function optaxLion(o: { lr: number; b1: number; b2: number; weightDecay: number }) {
  let mu: Vec[] | null = null;
  return (leaves: Vec[], grads: Vec[]): Vec[] => {
    const m0 = mu ?? leaves.map((l) => l.map(() => 0));
    mu = grads.map((g, l) => g.map((x, i) => (1 - o.b2) * x + o.b2 * at(m0[l] ?? [], i)));
    return leaves.map((p, l) =>
      p.map((x, i) => {
        const c = (1 - o.b1) * at(grads[l] ?? [], i) + o.b1 * at(m0[l] ?? [], i);
        return x - o.lr * (Math.sign(c) + o.weightDecay * x);
      }),
    );
  };
}

/** optax.adafactor for leaves of rank <= 2 (factored when both axes are at least minDim). */
function optaxAdafactor(
  o: { lr: number | null; minDim: number; decayRate: number; clip: number | null; momentum: number | null },
  shapes: number[][],
) {
  let t = 0;
  const eps = 1e-30;
  let rows: Vec[] = [];
  let cols: Vec[] = [];
  let full: Vec[] = [];
  let ema: Vec[] = [];
  return (leaves: Vec[], grads: Vec[]): Vec[] => {
    if (t === 0) {
      rows = shapes.map((s) => new Array<number>(s[0] ?? 1).fill(0));
      cols = shapes.map((s) => new Array<number>(s[1] ?? 1).fill(0));
      full = leaves.map((l) => l.map(() => 0));
      ema = leaves.map((l) => l.map(() => 0));
    }
    t += 1;
    const decay = 1 - t ** -o.decayRate;
    return leaves.map((p, l) => {
      const g = grads[l] ?? [];
      const [r, c] = shapes[l] ?? [];
      let u: Vec;
      if (r !== undefined && c !== undefined && Math.min(r, c) >= o.minDim) {
        // d0 = the larger axis (the last one on a tie), d1 = the other; v_row averages over d0.
        const sq = g.map((x) => x * x + eps);
        const meanOverCols = Array.from({ length: r }, (_, i) => sum(sq.slice(i * c, i * c + c)) / c);
        const meanOverRows = Array.from(
          { length: c },
          (_, j) => sum(Array.from({ length: r }, (_, i) => at(sq, i * c + j))) / r,
        );
        const colsLarger = c >= r;
        const newRow = (colsLarger ? meanOverCols : meanOverRows).map(
          (x, i) => decay * at(rows[l] ?? [], i) + (1 - decay) * x,
        );
        const newCol = (colsLarger ? meanOverRows : meanOverCols).map(
          (x, i) => decay * at(cols[l] ?? [], i) + (1 - decay) * x,
        );
        rows[l] = newRow;
        cols[l] = newCol;
        const rowMean = sum(newRow) / newRow.length;
        u = g.map((x, k) => {
          const i = Math.floor(k / c);
          const j = k % c;
          const [ri, cj] = colsLarger ? [i, j] : [j, i];
          return x * (at(newRow, ri) / rowMean) ** -0.5 * at(newCol, cj) ** -0.5;
        });
      } else {
        const v = (full[l] = g.map((x, i) => decay * at(full[l] ?? [], i) + (1 - decay) * (x * x + eps)));
        u = g.map((x, i) => x * at(v, i) ** -0.5);
      }
      if (o.clip !== null) {
        const denom = Math.max(1, rms(u) / o.clip);
        u = u.map((x) => x / denom);
      }
      if (o.lr !== null) u = u.map((x) => x * (o.lr as number));
      const scale = Math.max(rms(p), 1e-3);
      u = u.map((x) => x * scale);
      if (o.momentum !== null) {
        const m = o.momentum;
        u = ema[l] = u.map((x, i) => (1 - m) * x + m * at(ema[l] ?? [], i));
      }
      return p.map((x, i) => x - at(u, i));
    });
  };
}

/** lbfgs_test.py's _plain_lbfgs step (Nocedal and Wright, Algorithms 7.4/7.5), on the flattened leaves. */
function plainLbfgs(o: { stepsize: number; memorySize: number; scaleInitPrecond: boolean }) {
  const dws: Vec[] = [];
  const dus: Vec[] = [];
  let previous: { w: Vec; g: Vec } | null = null;
  return (leaves: Vec[], grads: Vec[]): Vec[] => {
    const w = leaves.flat();
    const g = grads.flat();
    if (previous !== null) {
      dws.push(w.map((x, i) => x - at(previous?.w ?? [], i)));
      dus.push(g.map((x, i) => x - at(previous?.g ?? [], i)));
      if (dws.length > o.memorySize) {
        dws.shift();
        dus.shift();
      }
    }
    let gamma = 1;
    if (o.scaleInitPrecond) {
      const last = dus.length - 1;
      gamma =
        last < 0
          ? Math.min(1, 1 / norm(g))
          : dot(dus[last] ?? [], dws[last] ?? []) / dot(dus[last] ?? [], dus[last] ?? []);
    }
    const m = dws.length;
    const rhos = dws.map((s, i) => 1 / dot(s, dus[i] ?? []));
    const alphas = new Array<number>(m).fill(0);
    let u = [...g];
    for (let i = m - 1; i >= 0; i--) {
      alphas[i] = at(rhos, i) * dot(dws[i] ?? [], u);
      u = u.map((x, k) => x - at(alphas, i) * at(dus[i] ?? [], k));
    }
    u = u.map((x) => x * gamma);
    for (let i = 0; i < m; i++) {
      const beta = at(rhos, i) * dot(dus[i] ?? [], u);
      u = u.map((x, k) => x + at(dws[i] ?? [], k) * (at(alphas, i) - beta));
    }
    previous = { w, g };
    const next = w.map((x, i) => x - o.stepsize * at(u, i));
    let offset = 0;
    return leaves.map((leaf) => {
      const out = next.slice(offset, offset + leaf.length);
      offset += leaf.length;
      return out;
    });
  };
}

// ---------------------------------------------------------------------------------------------------

const rosenbrockTree = rosenbrock(
  [[3, 4], [2]],
  [Array.from({ length: 12 }, (_, i) => 0.1 * Math.sin(i + 1)), [0.3, -0.2]],
);
const quadraticTree = quadratic(
  [[3, 4], [3]],
  [Array.from({ length: 12 }, (_, i) => Math.cos(i)), [-1, 10, 1]],
  [Array.from({ length: 12 }, (_, i) => 0.5 * i - 2), [1, -1, 1]],
);
const problems: [string, Problem][] = [
  ["rosenbrock", rosenbrockTree],
  ["quadratic", quadraticTree],
];

describe.each(problems)("optax's update rules, step by step in float64 (%s)", (_, problem) => {
  it("lamb", () => {
    const o = { lr: 1e-2, b1: 0.9, b2: 0.999, eps: 1e-6, epsRoot: 1e-8, weightDecay: 0.01 };
    compareSteps(
      optim.lamb({
        learningRate: o.lr,
        b1: o.b1,
        b2: o.b2,
        eps: o.eps,
        epsRoot: o.epsRoot,
        weightDecay: o.weightDecay,
      }),
      optaxLamb(o),
      problem,
      30,
    );
  });

  it("lion", () => {
    const o = { lr: 1e-3, b1: 0.9, b2: 0.99, weightDecay: 1e-3 };
    compareSteps(
      optim.lion({ learningRate: o.lr, b1: o.b1, b2: o.b2, weightDecay: o.weightDecay }),
      optaxLion(o),
      problem,
      30,
    );
  });

  it.each([
    { lr: null, minDim: 3, decayRate: 0.8, clip: 1, momentum: null },
    { lr: 5e-3, minDim: 3, decayRate: 0.8, clip: 1, momentum: 0.9 },
    { lr: 1e-2, minDim: 128, decayRate: 0.5, clip: null, momentum: null },
  ])("adafactor %o", (o) => {
    const opt = optim.adafactor({
      learningRate: o.lr,
      minDimSizeToFactor: o.minDim,
      decayRate: o.decayRate,
      clippingThreshold: o.clip,
      momentum: o.momentum,
    });
    compareSteps(opt, optaxAdafactor(o, problem.shapes), problem, 30);
  });

  it.each([
    { memorySize: 5, scaleInitPrecond: true },
    { memorySize: 5, scaleInitPrecond: false },
    { memorySize: 2, scaleInitPrecond: true },
  ])("lbfgs %o, learning rate 1e-3 (optax's test against its plain implementation)", (o) => {
    const opt = optim.lbfgs({ learningRate: 1e-3, linesearch: null, ...o });
    compareSteps(opt, plainLbfgs({ stepsize: 1e-3, ...o }), problem, 15);
  });
});

describe("adafactor factors the second moment of large matrices", () => {
  it("keeps row and column statistics for [3, 4] with minDimSizeToFactor 3, a full v otherwise", () => {
    const opt = optim.adafactor({ minDimSizeToFactor: 3 });
    const s = opt.init([np.zeros([3, 4], { dtype: "float64" }), np.zeros([3], { dtype: "float64" })]);
    expect(tree.leaves<NdArray>(s.vRow).map((x) => x.shape)).toEqual([[3], [1]]);
    expect(tree.leaves<NdArray>(s.vCol).map((x) => x.shape)).toEqual([[4], [1]]);
    expect(tree.leaves<NdArray>(s.v).map((x) => x.shape)).toEqual([[1], [3]]);
    const wide = opt.init([np.zeros([5, 3], { dtype: "float64" })]);
    // The larger axis (0) is averaged out of vRow.
    expect(tree.leaves<NdArray>(wide.vRow).map((x) => x.shape)).toEqual([[3]]);
    expect(tree.leaves<NdArray>(wide.vCol).map((x) => x.shape)).toEqual([[5]]);
  });

  it("the transposed problem gives the transposed trajectory", () => {
    const opt = optim.adafactor({ minDimSizeToFactor: 2, learningRate: 0.01 });
    const f = (w: NdArray) => np.sum(np.square(np.subtract(np.multiply(w, w), 0.5)));
    const start = np.array(
      Array.from({ length: 6 }, (_, i) => Math.sin(i + 1)),
      { shape: [2, 3], dtype: "float64" },
    );
    let a = start;
    let b = np.transpose(start);
    let [sa, sb] = [opt.init(a), opt.init(b)];
    for (let t = 0; t < 5; t++) {
      const [ua, na] = opt.update(grad(f)(a), sa, a);
      const [ub, nb] = opt.update(grad(f)(b), sb, b);
      [a, b, sa, sb] = [optim.applyUpdates(a, ua), optim.applyUpdates(b, ub), na, nb];
    }
    const got = Array.from(np.transpose(b).toTypedArray());
    Array.from(a.toTypedArray()).forEach((x, i) => expect(Math.abs(x - at(got, i))).toBeLessThan(1e-15));
  });
});

// optax's alias_test: 10000 jitted steps from its parabola and Rosenbrock starts reach the minimum within 3e-2.
const parabola = {
  start: np.array([-1, 10, 1], { dtype: "float64" }),
  target: [1, -1, 1],
  loss: (p: NdArray) => np.sum(np.square(np.subtract(p, np.array([1, -1, 1], { dtype: "float64" })))),
};
const rosenbrock2 = {
  start: np.array([0, 0], { dtype: "float64" }),
  target: [1, 1],
  loss: (p: NdArray) => {
    const [x, y] = [np.take(p, 0), np.take(p, 1)];
    return np.add(np.square(np.subtract(1, x)), np.multiply(np.square(np.subtract(y, np.square(x))), 100));
  },
};

function converge(opt: GradientTransformation, target: typeof parabola, steps: number): number[] {
  const step = jit((p: NdArray, s: unknown) => {
    const [u, next] = opt.update(grad(target.loss)(p), s, p);
    return [optim.applyUpdates(p, u), next] as [NdArray, unknown];
  });
  let [p, s] = [target.start, opt.init(target.start)];
  for (let t = 0; t < steps; t++) [p, s] = step(p, s);
  return Array.from(p.toTypedArray());
}

describe.each([
  ["parabola", parabola],
  ["rosenbrock", rosenbrock2],
])("convergence as optax's alias_test (%s)", (_, target) => {
  const cases: [string, () => GradientTransformation][] = [
    ["lamb lr 1e-3", () => optim.lamb({ learningRate: 1e-3 })],
    ["lion lr 1e-2, weightDecay 1e-4", () => optim.lion({ learningRate: 1e-2, weightDecay: 1e-4 })],
    ["adafactor lr 5e-3", () => optim.adafactor({ learningRate: 5e-3 })],
  ];
  it.each(cases)("%s reaches the minimum within 3e-2", (_, make) => {
    const p = converge(make(), target, 10000);
    p.forEach((x, i) =>
      expect(Math.abs(x - at(target.target, i))).toBeLessThanOrEqual(
        3e-2 + 3e-2 * Math.abs(at(target.target, i)),
      ),
    );
  });
});

describe("lbfgs", () => {
  it("takes the Newton step on a quadratic from its second update (no line search, full steps)", () => {
    const p = converge(optim.lbfgs({ linesearch: null }), parabola, 3);
    p.forEach((x, i) => expect(Math.abs(x - at(parabola.target, i))).toBeLessThan(1e-12));
  });

  it("keeps optax's state layout: a ring buffer of memorySize stacked differences", () => {
    const opt = optim.lbfgs({ memorySize: 4 });
    const s = opt.init({ w: np.zeros([2, 3], { dtype: "float64" }) });
    expect(Object.keys(s)).toEqual([
      "count",
      "hyperparams",
      "params",
      "updates",
      "diffParamsMemory",
      "diffUpdatesMemory",
      "weightsMemory",
      "linesearch",
    ]);
    expect((s.diffParamsMemory as { w: NdArray }).w.shape).toEqual([4, 2, 3]);
    expect(s.weightsMemory.shape).toEqual([4]);
  });
});

describe("errors", () => {
  it("names the optimizer and the option", () => {
    expect(() => optim.lamb({} as never)).toThrow(
      /lamb: learningRate must be a finite number >= 0, got undefined/,
    );
    expect(() => optim.lion({ learningRate: 0.1, b1: 2 })).toThrow(
      "lion: b1 must be a finite number in [0, 1), got 2",
    );
    expect(() => optim.adafactor({ decayRate: -1 })).toThrow(/adafactor: decayRate must be/);
    expect(() => optim.lbfgs({ memorySize: 0 })).toThrow(/lbfgs: memorySize must be/);
    expect(() => optim.lbfgs({ memorySize: 2.5 })).toThrow(/lbfgs: memorySize must be an integer/);
    const lamb = optim.lamb({ learningRate: 0.1 });
    const p = { w: np.ones([2], { dtype: "float64" }) };
    expect(() => lamb.update(p, lamb.init(p))).toThrow(/lamb\.update: the trust ratio needs the params/);
  });
});
