/**
 * Gaussian-process regression: fit the hyperparameters of an RBF kernel to a small generated 1-D data
 * set by maximising the log marginal likelihood, then draw the posterior mean and its 2σ band over the
 * data (Rasmussen & Williams, "Gaussian Processes for Machine Learning", algorithm 2.1).
 *
 *   npx tsx docs/examples/gp-regression.ts [--steps 150] [--lr 0.05] [--seed 0] [--points 30]
 *                                          [--out gp-regression.svg] [--quiet]
 *
 * The kernel is k(x, x') = s² exp(-(x - x')² / (2 l²)) plus noise σ² on the diagonal. With
 * K = L Lᵀ (`scipy.linalg.choFactor`), the negative log marginal likelihood is
 *
 *   ½ yᵀ K⁻¹ y + Σ log Lᵢᵢ + (n/2) log 2π       (K⁻¹ y by `choSolve`, ½ log det K from L's diagonal)
 *
 * minimised with Adam over the log hyperparameters [log l, log s, log σ] (so they stay positive), the
 * gradient by `valueAndGrad` through the Cholesky factor and the triangular solves, the step compiled by
 * `jit`. Everything is float64. test/golden/linalg-cholesky.test.ts checks this loss and its gradient
 * against the same computation in PyTorch; test/examples/examples.test.ts runs the script.
 */
import { writeFileSync } from "node:fs";
import { jit, type NdArray, np, optim, random, scipy, valueAndGrad, viz } from "tracegrad";

/** The log hyperparameters, float64 scalars. */
export interface GpParams {
  /** log l: how far apart two inputs can be and still be correlated. */
  logLengthscale: NdArray;
  /** log s: the prior standard deviation of the function. */
  logSignal: NdArray;
  /** log σ: the standard deviation of the observation noise. */
  logNoise: NdArray;
}

export interface GpOptions {
  steps: number;
  lr: number;
  seed: number;
  /** How many noisy observations to generate. */
  points: number;
  /** Where to write the SVG (null: no picture). */
  out: string | null;
  quiet: boolean;
}

export const defaultGpOptions: GpOptions = {
  steps: 150,
  lr: 0.05,
  seed: 0,
  points: 30,
  out: "gp-regression.svg",
  quiet: false,
};

const f64 = (v: number): NdArray => np.array(v, { dtype: "float64" });

/** The starting point of the fit: l = 1, s = 1, σ = 0.5. */
export function initialParams(): GpParams {
  return { logLengthscale: f64(0), logSignal: f64(0), logNoise: f64(Math.log(0.5)) };
}

/** s² exp(-(a - b)² / (2 l²)) for every pair of a [n] and b [m]: an [n, m] matrix. */
export function rbfKernel(params: GpParams, a: NdArray, b: NdArray): NdArray {
  const d = np.subtract(np.expandDims(a, 1), np.expandDims(b, 0));
  const scaled = np.divide(np.multiply(d, d), np.multiply(2, np.exp(np.multiply(2, params.logLengthscale))));
  return np.multiply(np.exp(np.multiply(2, params.logSignal)), np.exp(np.negative(scaled)));
}

/** K + σ² I for the training inputs x [n]. */
function trainingCovariance(params: GpParams, x: NdArray): NdArray {
  const n = x.shape[0]!;
  const noise = np.multiply(np.exp(np.multiply(2, params.logNoise)), np.eye(n, n, { dtype: "float64" }));
  return np.add(rbfKernel(params, x, x), noise);
}

/** -log p(y | x, params): ½ yᵀ K⁻¹ y + Σ log Lᵢᵢ + (n/2) log 2π, from one Cholesky factorization. */
export function negLogMarginalLikelihood(params: GpParams, x: NdArray, y: NdArray): NdArray {
  const n = x.shape[0]!;
  const factor = scipy.linalg.choFactor(trainingCovariance(params, x), { lower: true });
  const alpha = scipy.linalg.choSolve(factor, y);
  const dataFit = np.multiply(0.5, np.sum(np.multiply(y, alpha)));
  const halfLogDet = np.sum(np.log(np.diagonal(factor[0])));
  return np.add(np.add(dataFit, halfLogDet), 0.5 * n * Math.log(2 * Math.PI));
}

/**
 * The posterior of the noise-free function at xs [m]: its mean K*ᵀ K⁻¹ y and standard deviation
 * sqrt(s² - vᵀv) with v = L⁻¹ K* (`solveTriangular` with the Cholesky factor).
 */
export function posterior(
  params: GpParams,
  x: NdArray,
  y: NdArray,
  xs: NdArray,
): { mean: NdArray; std: NdArray } {
  const [l, lower] = scipy.linalg.choFactor(trainingCovariance(params, x), { lower: true });
  const kStar = rbfKernel(params, x, xs);
  const mean = np.matmul(np.swapaxes(kStar, 0, 1), scipy.linalg.choSolve([l, lower], y));
  const v = scipy.linalg.solveTriangular(l, kStar, { lower: true });
  const variance = np.subtract(
    np.exp(np.multiply(2, params.logSignal)),
    np.sum(np.multiply(v, v), { axis: 0 }),
  );
  return { mean, std: np.sqrt(np.maximum(variance, 0)) };
}

/** The data: sin(x) + 0.3 cos(3x) at `points` uniform x in [-5, 5], with N(0, 0.1²) noise. */
export function makeData(seed: number, points: number): { x: NdArray; y: NdArray } {
  const [xKey, noiseKey] = random.split(random.key(seed));
  const x = np.sort(random.uniform(xKey!, [points], { minval: -5, maxval: 5, dtype: "float64" }));
  const clean = np.add(np.sin(x), np.multiply(0.3, np.cos(np.multiply(3, x))));
  const y = np.add(clean, np.multiply(0.1, random.normal(noiseKey!, [points], { dtype: "float64" })));
  return { x, y };
}

export interface GpResult {
  params: GpParams;
  /** The negative log marginal likelihood before each step, and after the last. */
  losses: number[];
  /** The learned hyperparameters themselves (not their logs). */
  lengthscale: number;
  signal: number;
  noise: number;
  /** The SVG's text, or null without `out`. */
  svg: string | null;
}

export function run(options: Partial<GpOptions> = {}): GpResult {
  const o = { ...defaultGpOptions, ...options };
  const log = (line: string) => {
    if (!o.quiet) process.stdout.write(`${line}\n`);
  };
  const { x, y } = makeData(o.seed, o.points);
  const optimizer = optim.adam({ lr: o.lr });
  type OptState = ReturnType<typeof optimizer.init>;
  const step = jit((params: GpParams, state: OptState) => {
    const [loss, grads] = valueAndGrad(negLogMarginalLikelihood)(params, x, y);
    const [updates, next] = optimizer.update(grads, state, params);
    return [optim.applyUpdates(params, updates), next, loss] as const;
  });

  let params = initialParams();
  let state = optimizer.init(params);
  const losses: number[] = [];
  for (let t = 0; t < o.steps; t++) {
    let loss: NdArray;
    [params, state, loss] = step(params, state);
    losses.push(loss.item());
    if (t % 25 === 0) log(`step ${String(t).padStart(4)}  -log p(y|x) ${loss.item().toFixed(4)}`);
  }
  losses.push(negLogMarginalLikelihood(params, x, y).item());
  const [lengthscale, signal, noise] = [params.logLengthscale, params.logSignal, params.logNoise].map((p) =>
    Math.exp(p.item()),
  ) as [number, number, number];
  log(
    `after ${o.steps} steps: -log p(y|x) ${losses[losses.length - 1]!.toFixed(4)}, ` +
      `lengthscale ${lengthscale.toFixed(3)}, signal std ${signal.toFixed(3)}, noise std ${noise.toFixed(3)}`,
  );

  let svg: string | null = null;
  if (o.out !== null) {
    // 60 points: a longer series would be drawn as a moving average (viz.lineChart, for noisy curves).
    const grid = np.linspace(-6, 6, 60, { dtype: "float64" });
    const { mean, std } = posterior(params, x, y, grid);
    const gx = [...grid.toTypedArray()];
    const m = [...mean.toTypedArray()];
    const s = [...std.toTypedArray()];
    const xs = [...x.toTypedArray()];
    const ys = [...y.toTypedArray()];
    svg = viz.lineChart(
      [
        {
          label: "posterior mean, 2σ band",
          color: "#1f77b4",
          points: gx.map((v, i) => [v, m[i]!] as const),
          band: gx.map((v, i) => [v, m[i]! - 2 * s[i]!, m[i]! + 2 * s[i]!] as const),
        },
        {
          label: "observations",
          color: "#d62728",
          style: "points",
          points: xs.map((v, i) => [v, ys[i]!] as const),
        },
      ],
      {
        title: `GP regression, RBF kernel: lengthscale ${lengthscale.toFixed(2)}, signal ${signal.toFixed(2)}, noise ${noise.toFixed(3)}`,
        xLabel: "x",
        leftLabel: "y",
        xRange: [-6, 6],
      },
    );
    writeFileSync(o.out, svg);
    log(`wrote ${o.out}`);
  }
  return { params, losses, lengthscale, signal, noise, svg };
}

function parseArgs(argv: readonly string[]): Partial<GpOptions> {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const numberFlag = (name: string): number | undefined => {
    const v = value(name);
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new Error(`--${name} expects a number, got ${v}`);
    return n;
  };
  const out: Partial<GpOptions> = { quiet: argv.includes("--quiet") };
  const flags = { steps: "steps", lr: "lr", seed: "seed", points: "points" } as const;
  for (const [field, flag] of Object.entries(flags) as [keyof typeof flags, string][]) {
    const v = numberFlag(flag);
    if (v !== undefined) out[field] = v;
  }
  const path = value("out");
  if (path !== undefined) out.out = path;
  return out;
}

// Run as a script (not when imported by the tests).
if (process.argv[1] && /gp-regression\.ts$/.test(process.argv[1])) {
  run(parseArgs(process.argv.slice(2)));
}
