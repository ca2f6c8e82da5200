/**
 * The guides in docs/guides: every ```ts block of a guide must appear in the guide's .ts file (line by
 * line, ignoring indentation and blank lines; both import the package as "tracegrad"), and every section
 * function of that file runs and does what the guide says.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as debugging from "../../docs/guides/debugging.js";
import * as fromPytorch from "../../docs/guides/from-pytorch.js";
import * as gettingStarted from "../../docs/guides/getting-started.js";
import * as gradientChecking from "../../docs/guides/gradient-checking.js";
import * as jitGuide from "../../docs/guides/jit.js";
import * as linearAlgebra from "../../docs/guides/linear-algebra.js";
import * as numpyDifferences from "../../docs/guides/numpy-differences.js";
import * as optimizers from "../../docs/guides/optimizers.js";
import * as savingLoading from "../../docs/guides/saving-loading.js";
import * as sequenceModels from "../../docs/guides/sequence-models.js";
import * as transforms from "../../docs/guides/transforms.js";
import { layers, type NdArray, nn, np, random, testing } from "../../src/index.js";

const guidesDir = join(__dirname, "../../docs/guides");

const normalizedLines = (text: string): string[] =>
  text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "");

/** The ```ts blocks of a Markdown file. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
}

/** How many leading lines of `block` occur in `source` as consecutive lines (at best). */
function matchedPrefix(source: readonly string[], block: readonly string[]): number {
  let best = 0;
  for (let start = 0; start < source.length; start++) {
    let n = 0;
    while (n < block.length && source[start + n] === block[n]) n++;
    best = Math.max(best, n);
  }
  return best;
}

const guideNames = [
  "getting-started",
  "from-pytorch",
  "transforms",
  "jit",
  "optimizers",
  "gradient-checking",
  "saving-loading",
  "numpy-differences",
  "debugging",
  "linear-algebra",
  "sequence-models",
] as const;

describe.each(guideNames)("docs/guides/%s.md", (name) => {
  it("shows only code that is in its .ts file, which the tests run", () => {
    const markdown = readFileSync(join(guidesDir, `${name}.md`), "utf8");
    const source = normalizedLines(readFileSync(join(guidesDir, `${name}.ts`), "utf8"));
    const blocks = codeBlocks(markdown);
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) {
      const lines = normalizedLines(block);
      const matched = matchedPrefix(source, lines);
      if (matched < lines.length) {
        throw new Error(
          `a code block of ${name}.md is not in ${name}.ts; from its line\n  ${lines[matched]}\non, in:\n${block}`,
        );
      }
    }
  });
});

const values = (x: NdArray): number[] => [...x.toTypedArray()];
const close = (actual: NdArray | number, expected: NdArray | number | number[], tolerance = 1e-5) =>
  testing.assertAllClose(actual, Array.isArray(expected) ? np.array(expected) : expected, {
    atol: tolerance,
    rtol: tolerance,
  });

describe("getting-started.ts", () => {
  it("creates, reads and prints arrays", () => {
    const made = gettingStarted.creatingArrays();
    expect([made.shape, made.dtype]).toEqual([[2, 3], "float32"]);
    expect(made.flat.shape).toEqual([3, 2]);
    expect(made.counts.dtype).toBe("int32");
    expect(values(made.steps)).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(made.ids.dtype).toBe("int32");
    const read = gettingStarted.readingValues();
    expect(read.nested).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(read.typed).toBeInstanceOf(Float32Array);
    expect(read.total).toBe(21);
    expect(read.printed).toBe("array([[1., 2., 3.],\n       [4., 5., 6.]], shape=[2,3], dtype=float32)");
  });

  it("operates, broadcasts and promotes as the guide says", () => {
    const ops = gettingStarted.operations();
    expect(values(ops.rowSums)).toEqual([6, 15]);
    expect(ops.columnMeans.shape).toEqual([1, 3]);
    expect(ops.product.shape).toEqual([2, 2]);
    const b = gettingStarted.broadcasting();
    expect(b.table.toArray()).toEqual([
      [11, 12, 13],
      [21, 22, 23],
    ]);
    expect(b.message).toBe("add: shapes [2,3] and [2] cannot be broadcast together (dimension 2 vs 3)");
    expect(gettingStarted.dtypes()).toEqual({
      stillF32: "float32",
      intPlusFloat: "float32",
      mixed: "float64",
      cast: "float64",
      isPositive: "bool",
    });
    const imm = gettingStarted.immutability();
    expect(values(imm.x)).toEqual([1, 2, 3]);
    expect(values(imm.replaced)).toEqual([10, 2, 3]);
    close(gettingStarted.noDispose().w, [3, 3, 3, 3], 1e-3);
  });
});

describe("from-pytorch.ts", () => {
  it("initialises, applies and names parameters like the tutorial", () => {
    const r = fromPytorch.initAndApply();
    expect(r.out.shape).toEqual([1, 10]);
    expect(r.count).toBe(10);
    expect(r.numbers).toBe(61_706); // the tutorial's count: 150+6 + 2400+16 + 48000+120 + 10080+84 + 840+10
    expect(r.names[0]).toBe("conv1.weight");
    expect(r.printed).toContain("Total: 61,706 parameters in 10 arrays");
  });

  it("batches a data set like a DataLoader and one-hot encodes the labels", () => {
    const { data, batchSizes, targets } = fromPytorch.dataLoader();
    expect(batchSizes).toEqual([4, 4, 2]);
    const oneHot = np.concatenate(targets);
    expect(oneHot.shape).toEqual([10, 3]);
    expect(oneHot.dtype).toBe("float32");
    // every row is one-hot, and the batches hold every label once: the column sums are the class counts
    expect(values(np.sum(oneHot, { axis: 1 }))).toEqual(new Array(10).fill(1));
    const counts = [0, 1, 2].map((c) => values(data.labels).filter((l) => l === c).length);
    expect(values(np.sum(oneHot, { axis: 0 }))).toEqual(counts);
  });

  it("differentiates, with and without a cotangent, and never accumulates", () => {
    expect(fromPytorch.lossBackward().conv1BiasGrad.shape).toEqual([6]);
    expect(fromPytorch.backwardWithVector().grads.fc3.weight.shape).toEqual([10, 84]);
    const { first, second } = fromPytorch.noZeroGrad();
    expect(values(first)).toEqual(values(second));
  });

  it("takes optimizer steps that lower the loss, eagerly and jitted", () => {
    const { before, after } = fromPytorch.optimizerStep();
    expect(after).toBeLessThan(before);
    const { losses } = fromPytorch.jittedTrainingStep();
    expect(losses[4]!).toBeLessThan(losses[0]!);
  });

  it("has train/eval as an argument, reinit by path, and stopGradient", () => {
    const { training, evaluation } = fromPytorch.trainAndEvalMode();
    expect(values(training)).not.toEqual(values(evaluation));
    const { params, reinitialized, halved } = fromPytorch.customInit();
    expect(values(reinitialized["0"].bias)).toEqual(new Array(100).fill(0));
    close(halved["2"].weight, params["2"].weight.mul(0.5));
    expect(values(halved["0"].weight)).toEqual(values(params["0"].weight));
    expect(values(fromPytorch.noGrad().g)).toEqual([1, 2, 3]);
  });
});

describe("transforms.ts", () => {
  it("computes the derivatives the guide states", () => {
    const g = transforms.gradients();
    close(g.df, [0, Math.sin(1) + Math.cos(1), Math.sin(2) + 2 * Math.cos(2)]);
    close(g.sameGradient, g.df);
    expect(values(g.dw)).toEqual([8, 8, 8]);
    expect(values(g.db)).toEqual([4, 4, 4]);
    expect(values(g.dWithAux)).toEqual([2, -6]);
    expect((g.aux as { largest: NdArray }).largest.item()).toBe(9);
    const h = transforms.higherDerivatives();
    expect([h.d2.item(), h.d3.item()]).toEqual([12, 6]);
    const fr = transforms.forwardAndReverse();
    expect([values(fr.jv), values(fr.uj), values(fr.jv2)]).toEqual([
      [1, 2],
      [2, 4, 6],
      [1, 4],
    ]);
    const j = transforms.jacobiansAndHessians();
    expect(j.forward.toArray()).toEqual([
      [1, 1, 1],
      [2, 4, 6],
    ]);
    expect(j.reverse.toArray()).toEqual(j.forward.toArray());
    expect(j.h.toArray()).toEqual([
      [6, 0, 0],
      [0, 12, 0],
      [0, 0, 18],
    ]);
  });

  it("batches, including per-example gradients", () => {
    const pj = transforms.pytreeJacobians();
    expect([pj.J.y.w.shape, pj.J.y.b.shape, pj.J.norm.w.shape, pj.J.norm.b.shape]).toEqual([
      [2, 3, 2],
      [2, 2],
      [3, 2],
      [2],
    ]);
    // y = x·w + b: dy_i/dw_{k,i} = x_k, dy/db = I, d norm/dw = 2w.
    expect(pj.J.y.w.toArray()).toEqual([
      [
        [1, 0],
        [2, 0],
        [3, 0],
      ],
      [
        [0, 1],
        [0, 2],
        [0, 3],
      ],
    ]);
    expect(pj.J.y.b.toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(values(pj.J.norm.w)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(pj.dParams.w.toArray()).toEqual(pj.J.y.w.toArray());
    // dy/dx = wᵀ, all ones.
    expect(pj.dInput.toArray()).toEqual([
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(values(pj.Jy)).toEqual([2, 0, 0, 0, 4, 0, 0, 0, 6]);
    expect(pj.aux.max.item()).toBe(3);
    expect(pj.H.a.b.toArray()).toEqual(np.eye(3).toArray());
    expect(values(pj.H.a.a)).toEqual(new Array(9).fill(0));
    const b = transforms.batching();
    expect(values(b.dots)).toEqual([1, 4, 11]);
    expect(values(b.withOne)).toEqual([-1, -1, -1]);
    expect(transforms.axisSize().copies.toArray()).toEqual([
      [0.5, 0.5],
      [0.5, 0.5],
      [0.5, 0.5],
      [0.5, 0.5],
    ]);
    const p = transforms.perExampleGradients();
    expect(p.perExample.shape).toEqual([4, 2]);
    close(p.mean, p.batchGradient);
  });

  it("stops, customises and composes derivatives", () => {
    const s = transforms.stoppingGradients();
    expect([values(s.rounded), values(s.slope)]).toEqual([
      [0, 2],
      [1, 1],
    ]);
    const c = transforms.customDerivatives();
    expect(values(c.g)).toEqual([1, 1]);
    close(c.slope, [0.5, 1]);
    const rules = transforms.customForwardRules();
    const sigmoid = [0.5, 1 / (1 + Math.exp(-10)), 1];
    close(rules.forward, sigmoid);
    close(rules.reverse, sigmoid);
    close(rules.nested, sigmoid);
    expect(Number.isNaN(values(rules.naive)[2])).toBe(true);
    // d/da sum(a·b) = b = 2x, d/db = a = x, through the defjvps terms.
    expect([values(rules.da), values(rules.db)]).toEqual([
      [0, 20, 200],
      [0, 10, 100],
    ]);
    const shapes = transforms.shapesWithoutComputing();
    expect([shapes.out.shape, shapes.out.dtype]).toEqual([[100_000, 512], "float32"]);
    expect([shapes.gradShapes.w.shape, shapes.gradShapes.b.shape]).toEqual([[784, 512], [512]]);
    const comp = transforms.composition();
    expect(comp.perExample.shape).toEqual([5, 3]);
    close(comp.hv, comp.firstColumn, 1e-4);
  });
});

describe("jit.ts", () => {
  it("traces once, refuses values while tracing, and caches by signature", () => {
    expect(jitGuide.tracing().traces).toBe(1);
    const v = jitGuide.valuesAreAbstract();
    expect(v.message).toContain("cannot read the value of a traced array");
    expect(values(v.good)).toEqual([1, 2]);
    expect(v.flat.shape).toEqual([6]);
    const offsets = jitGuide.tracedOffsets();
    expect(values(offsets.middle)).toEqual([2, 3, 4]);
    expect(values(offsets.clamped)).toEqual([7, 8, 9]);
    expect(offsets.rows.toArray()).toEqual([
      [0, 0],
      [1, 1],
      [2, 2],
    ]);
    expect(jitGuide.cacheKeys()).toEqual({ hits: 1, misses: 3, size: 3 });
    const s = jitGuide.staticArguments();
    expect(values(s.squares)).toEqual([1, 4, 9]);
    expect(values(s.ones)).toEqual([1, 1, 1]);
    expect(s.cache.misses).toBe(2);
    const identity = jitGuide.staticIdentity();
    expect(values(identity.doubled)).toEqual([2, 2]);
    expect(values(identity.tripled)).toEqual([3, 3]);
    expect(identity.configCache).toEqual({ hits: 1, misses: 1, size: 1 });
  });

  it("donates, prints programs and warns about retracing", () => {
    const d = jitGuide.donation();
    close(d.w2, [0.9, 1.9, 2.9]);
    expect(d.message).toContain("was donated");
    const m = jitGuide.metricsInDonatedState();
    // Ten steps of gradient descent on a loss that starts at 4 * 2 * tanh(3)^2 and decreases.
    expect(m.meanLoss).toBeLessThan(8 * Math.tanh(3) ** 2);
    expect(m.meanLoss).toBeGreaterThan(0);
    const prof = jitGuide.profiling();
    expect(prof.rows.length).toBeGreaterThan(0);
    // The slowest kernel is a GEMM: the matmul itself or its transposed-operand gradient, by the machine's load.
    expect(prof.slowest.step).toMatch(/matmul|gemm/);
    const k = jitGuide.kernels();
    expect(["wasm-simd", "wasm-relaxed-simd", "js"]).toContain(k.active.name);
    // Σ 2·tanh(x)² over 1000 points of [-1, 1]: about 2000 times the mean of tanh² there, 1 - tanh(1).
    expect(Math.abs(k.eager - 2000 * (1 - Math.tanh(1)))).toBeLessThan(0.01 * k.eager);
    expect(Math.abs(k.onJs - k.eager)).toBeLessThan(1e-4 * k.eager);
    expect(Math.abs(k.onWasm - k.eager)).toBeLessThan(1e-4 * k.eager);
    const p = jitGuide.readingPrograms();
    expect(p.traced.startsWith("{ lambda ; a:f32[3,2] b:f32[4,3]. let")).toBe(true);
    expect(p.compiled).toContain("optimized program:");
    expect(p.compiled).toContain("fused[");
    expect(p.compiled).toContain("memory: arena");
    expect(p.compiled).toContain("gemm[Aᵀ B]");
    const eager = jitGuide.eagerGradients();
    expect([...eager.compiled.toTypedArray()]).toEqual([...eager.onTape.toTypedArray()]);
    expect(eager.compiled.toTypedArray().some((v, i) => v !== (i % 9 === 0 ? 0.5 : 0))).toBe(true);
    const { warnings } = jitGuide.retracing();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("has been traced 9 times");
  });
});

describe("optimizers.ts", () => {
  it("optimizes, chains and schedules", () => {
    const u = optimizers.updateAndApply();
    expect(u.finalLoss).toBeLessThan(1e-4);
    expect(Object.keys(optimizers.torchOptimizers())).toEqual(["sgd", "adam", "adamw", "rmsprop", "adagrad"]);
    const c = optimizers.chains();
    close(c.fromChain.w, c.fromSgd.w, 1e-7);
    close(c.fromChain.b, c.fromSgd.b, 1e-7);
    const s = optimizers.schedules();
    close(np.array(s.values), [0, 0.05, 0.1, 0.05, 0], 1e-9);
    expect(s.finalLoss).toBeLessThan(0.01);
    expect(s.count).toBe(100);
    expect(s.stepDecay).toBeCloseTo(0.01, 12);
    expect(s.halving).toEqual([0.1, 0.05, 0.025]);
    expect(Object.keys(optimizers.moreOptimizers())).toEqual([
      "adadelta",
      "adamax",
      "nadam",
      "radam",
      "asgd",
      "rprop",
      "lamb",
      "lion",
      "adafactor",
      "lbfgs",
    ]);
    const a = optimizers.atoms();
    close(a.byHand.w, a.fromAdam.w, 1e-9); // float32 params: the two roundings differ by ~1e-7 relative
    close(a.byHand.b, a.fromAdam.b, 1e-9);
    expect(optimizers.stateIsATree().paths).toContain("expAvgSq.w");
    const { finalLoss } = optimizers.anyOptimizer();
    expect(Object.keys(finalLoss)).toEqual(["sgd", "adam", "rmsprop"]);
    for (const value of Object.values(finalLoss)) expect(value).toBeLessThan(0.01);
    const t = optimizers.transformerRecipes();
    expect(t.mask).toEqual({
      embedding: { weight: true },
      norm: { weight: false, bias: false },
      head: { w: false, b: false },
    });
    testing.assertAllClose(t.adamwByHand, t.adamw, { atol: 1e-9, rtol: 1e-6 });
    // adamw's first step is -lr * sign(g) (g = 1), plus -lr * 0.1 * p on the embedding only.
    close(t.adamw.embedding.weight, np.full([10, 3], -1e-3 - 1e-4), 1e-9);
    close(t.adamw.norm.weight, np.full([3], -1e-3), 1e-9);
    close(t.groups.norm.weight, np.full([3], -3e-4), 1e-9);
    close(t.accumulated.norm.weight, np.zeros([3]), 0);
    close(t.updates.norm.bias, np.full([3], -1e-4), 1e-9); // lr changed to 1e-4 in the state
    close(t.updates.norm.weight, np.full([3], -1.1e-4), 1e-9); // injected adamw has no mask: decay 1e-4 * 0.1 * 1
    close(t.ema.norm.bias, np.full([3], -1e-4 * 0.001), 1e-12);
  });
});

describe("gradient-checking.ts", () => {
  it("checks gradients, catches a wrong one, and compares trees", () => {
    const c = gradientChecking.checkAFunction();
    expect(c.comparisons).toBeGreaterThan(0);
    expect(c.secondOrder).toBeGreaterThan(c.comparisons);
    const w = gradientChecking.catchAWrongDerivative();
    expect(w.message).toContain("reverse mode (vjp)");
    expect(w.message).toContain("analytic: 3");
    expect(gradientChecking.propertyTest().trees).toBeGreaterThan(0);
    expect(gradientChecking.compareTrees().message).toContain("params.w[2]");
  });
});

describe("saving-loading.ts", () => {
  const dir = mkdtempSync(join(tmpdir(), "tracegrad-guides-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("saves and loads checkpoints, and reports bad files as values", async () => {
    const s = await savingLoading.saveAndLoad(join(mkdtempSync(join(dir, "a-"))));
    testing.assertAllClose(s.restored, s.params, { atol: 0, rtol: 0 });
    expect(s.epoch).toBe(3);
    const l = await savingLoading.loadWithoutTemplate(mkdtempSync(join(dir, "b-")));
    expect(Object.keys(l.tree as object)).toEqual(["0", "2"]);
    expect((await savingLoading.failures(mkdtempSync(join(dir, "c-")))).kinds).toEqual([
      "io-error",
      "header-length-beyond-file",
    ]);
    const m = savingLoading.inMemory();
    expect(m).toEqual({
      keys: ["0.weight", "0.bias", "2.weight", "2.bias"],
      metadata: { step: "100" },
      roundTrip: true,
    });
  });
});

describe("numpy-differences.ts", () => {
  it("weak typing, and JS integers that do not fit int32", () => {
    expect(numpyDifferences.weakTyping()).toEqual({
      scaled: "float32",
      intTimesInt: "int32",
      intTimesFraction: "float32",
      mean: "float32",
    });
    expect(numpyDifferences.tooLargeForInt32()).toMatch(
      /^add: the JS number 1099511627776 does not fit int32/,
    );
  });

  it("bool operands, integer power and floor division as the tables say", () => {
    const b = numpyDifferences.boolOperands();
    expect([b.sum.dtype, b.product.dtype, b.matmul.dtype]).toEqual(["bool", "bool", "bool"]);
    expect(b.sum.toArray()).toEqual([true, true, true]);
    expect(b.product.toArray()).toEqual([true, false, false]);
    expect(b.matmul.toArray()).toBe(true);
    expect([b.floorDivide, b.count, b.plusOne]).toEqual(["int32", "int32", "int32"]);
    const p = numpyDifferences.integerPower();
    expect(p.power.toArray()).toEqual([40353607, 14348907, 9765625]);
    expect(p.squared).toBe("int32");
    expect(p.wrapped.toArray()).toEqual([-2147483648]);
    expect(p.negative.toArray()).toEqual([0, 1, -1]);
    const c = numpyDifferences.floatPower();
    expect([c.ones.toArray(), c.oneToNaN.toArray()]).toEqual([[1, 1], [1]]);
    const f = numpyDifferences.floorDivision();
    expect(f.q.toArray()).toEqual([9, 9, -1]);
    expect(values(f.r)).toEqual([Math.fround(0.39999995), Math.fround(-0.29999989), -Infinity]);
    expect(f.byZero.toArray()).toEqual([0]);
  });

  it("gradient conventions, typed arrays, numeric context and the size limit", () => {
    const g = numpyDifferences.gradientConventions();
    expect(g.clipGrad.toArray()).toEqual([0.5, 1, 0.5]);
    expect(values(g.stdGrad).every(Number.isNaN)).toBe(true);
    const m = numpyDifferences.moreFunctions();
    expect([m.bothEmpty.item(), m.xlogyGrad.item()]).toEqual([0.5, 0]);
    expect(m.signs.toArray()).toEqual([-1, 1]);
    const t = numpyDifferences.typedArrays();
    expect([t.bytes.dtype, t.big.dtype, t.wrapped.dtype]).toEqual(["uint8", "float64", "uint8"]);
    expect(t.bytes.toArray()).toEqual([1, 2, 255]);
    expect(t.big.toArray()).toEqual([2 ** 32 - 1]);
    expect(t.wrapped.toArray()).toEqual([44, 255]);
    expect(numpyDifferences.numericContext()).toEqual({
      small: true,
      printed: "array([1., 2.], shape=[2], dtype=float32)",
      error: "ConcretizationError",
    });
    const s = numpyDifferences.sizeLimit();
    expect(s.limit).toBe(2 ** 31);
    expect(s.message).toMatch(/^zeros: shape \[1000000,1000000\] of float32/);
    expect(s.vector).toEqual([3]);
  });

  it("sorting: stable, NaN last, descending ties in order; quantiles in float", () => {
    const o = numpyDifferences.sorting();
    expect(o.ascending.toArray()).toEqual([4, 5, 2, 0, 3, 1]);
    expect(o.descending.toArray()).toEqual([1, 0, 3, 2, 4, 5]);
    expect(values(o.values)).toEqual([NaN, 2, 2]);
    expect(o.indices.toArray()).toEqual([1, 0, 3]);
    const q = numpyDifferences.quantiles();
    expect(q.q.dtype).toBe("float32");
    // 0.6 of the way from -2**31 to 3, in float32.
    expect(Math.abs(q.q.item() - (-(2 ** 31) + 0.6 * (2 ** 31 + 3)))).toBeLessThan(256);
    expect(q.medianDtype).toBe("float32");
  });

  it("indexing: numpy's subscript as np.index, placement rule, masks with a static size under jit", () => {
    // numpy 1.24 for x = np.arange(24).reshape(2, 3, 4).
    const r = numpyDifferences.indexing();
    expect(r.basic.toArray()).toEqual([
      [21, 22, 23],
      [17, 18, 19],
      [13, 14, 15],
    ]);
    expect(r.inPlace.toArray()).toEqual([
      [1, 11],
      [13, 23],
    ]);
    expect(r.first.toArray()).toEqual([
      [3, 7, 11],
      [15, 19, 23],
    ]);
    expect(r.masked.toArray()).toEqual([21, 22, 23]);
    expect(r.padded.toArray()).toEqual([21, 22, 23, -1, -1]);
  });

  it("cumulative reductions: numpy's accumulate, int32 wraps, stable logcumsumexp, cummax's gradient", () => {
    const c = numpyDifferences.cumulative();
    expect([c.running.dtype, c.wrapped.dtype]).toEqual(["int32", "int32"]);
    expect(c.running.toArray()).toEqual([1, 3, 3, 3]);
    expect(c.fromEnd.toArray()).toEqual([9, 8, 5, 2]);
    expect(c.wrapped.toArray()).toEqual([65536, 0]);
    expect(c.stable.toArray()).toEqual([-1000, 0, 1000]);
    expect(c.tieGrad.toArray()).toEqual([1, 1, 2, 0]);
  });

  it("padding: wrap periodic, reflect as numpy's iteration, constant values per side", () => {
    const p = numpyDifferences.padding();
    expect(p.wrapped.toArray()).toEqual([1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]);
    expect(p.mirrored.toArray()).toEqual([1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 0]);
    expect(p.sides.toArray()).toEqual([-1, 0, 1, 2, 9]);
  });

  it("linear algebra: singular solve gives non-finite values, det 0, slogdet (0, -Infinity); numpy 2's b", () => {
    const l = numpyDifferences.linearAlgebraLu();
    expect(values(l.solved).some((v) => !Number.isFinite(v))).toBe(true);
    expect(l.determinant.item()).toBe(0);
    expect([l.sign.item(), l.logabsdet.item()]).toEqual([0, Number.NEGATIVE_INFINITY]);
    expect([l.columns, l.vectors]).toEqual([
      [2, 2, 2],
      [2, 2],
    ]);
    expect(l.diagonals.toArray()).toEqual([[1], [1]]);
  });
});

describe("debugging.ts", () => {
  const markdown = () => readFileSync(join(guidesDir, "debugging.md"), "utf8");
  /** The guide shows these lines as the output of its code: they must be what the code prints. */
  const shown = (lines: readonly string[]) => {
    const text = markdown();
    for (const line of lines) expect(text, line).toContain(line);
  };

  it("console.log inside jit shows a tracer", () => {
    expect(debugging.consoleLogShowsTracers()).toBe("Traced<float32[3]>");
  });

  it("debug.print prints inside jit each time the plan runs, with the formats shown", () => {
    const lines = debugging.printInsideJit();
    expect(lines).toEqual([
      "x: [0., 1., 2.]",
      "y: [0., 0.841471, 0.909297]",
      "x: [3., 4., 5.]",
      "y: [0.14112, -0.756802, -0.958924]",
    ]);
    shown(lines);
    const formatted = debugging.formatting();
    expect(formatted).toEqual([
      "[[1., 2.],\n [3., 4.]] and [0.5, -0.25]",
      "b=[0.5, -0.25] sum=10.",
      "w=[[1., 2.],\n [3., 4.]] b=[0.5, -0.25]",
      "array([0.5, -0.25], shape=[2], dtype=float32)",
      "[1.571, -0.785]",
      "params: { w: [[1., 2.],\n [3., 4.]], b: [0.5, -0.25] }",
    ]);
    shown(formatted);
  });

  it("prints inside jit(grad(vmap(f))) once per example, and the gradient is right", () => {
    const { lines, gradient } = debugging.insideJitGradVmap();
    expect(lines).toEqual([
      "x=[1., 2.] prediction=-0.4621 target=0.",
      "x=[3., 1.] prediction=0.7616 target=1.",
      "x=[0., 2.] prediction=-0.7616 target=-1.",
    ]);
    shown(lines);
    // d/dw mean((tanh(x·w) - y)^2) by hand.
    const xs = [
      [1, 2],
      [3, 1],
      [0, 2],
    ];
    const ys = [0, 1, -1];
    const expected = [0, 1].map((j) =>
      xs.reduce((s, x, i) => {
        const p = Math.tanh(0.5 * x[0]! - 0.5 * x[1]!);
        return s + (2 * (p - ys[i]!) * (1 - p * p) * x[j]!) / 3;
      }, 0),
    );
    close(gradient, expected);
  });

  it("callbacks get concrete values; checks throw from the plan; setDebugNans names log", () => {
    const norms = debugging.callbacks();
    expect(norms).toHaveLength(2);
    expect(norms[0]).toBeCloseTo(Math.hypot(Math.tanh(0.3), Math.tanh(0.6)), 6);
    const message = debugging.checks();
    expect(message).toBe("safeLog needs positive inputs, got [1., -2.] (element 1 of bool[2] is false)");
    shown([message]);
    const { quiet, message: nanMessage } = debugging.nans();
    expect(Number.isNaN(quiet.item())).toBe(true);
    const [first, site] = nanMessage.split("\n");
    expect(site).toMatch(/called at .*debugging\.ts:\d+:\d+/);
    shown([first!]);
  });

  it("the printed program shows one debug_callback per example", () => {
    const program = debugging.inThePrintedProgram();
    expect(program.match(/debug_callback\[print "x: \{\}"\]/g)).toHaveLength(2);
    shown(program.split("\n"));
  });
});

describe("linear-algebra.ts", () => {
  const f64 = (data: number[], shape: number[]) => np.array(data, { shape, dtype: "float64" });

  it("factors: l lᵀ = a with the values the guide shows, u = lᵀ", () => {
    const { l, u, residual } = linearAlgebra.choleskyFactor();
    close(l, f64([2, 0, 0, 1, 2, 0, 0.2, 0.4, 1.67332], [3, 3]), 1e-5);
    close(u, np.swapaxes(l, 0, 1), 0);
    expect(residual.item()).toBeLessThan(1e-15);
  });

  it("solves: choSolve, two triangular solves and the right-side form agree", () => {
    const { x, x2, right, residual } = linearAlgebra.solves();
    close(x2, x, 1e-15);
    expect(residual.item()).toBeLessThan(1e-15);
    const { l } = linearAlgebra.choleskyFactor();
    close(np.matmul(right, np.swapaxes(l, 0, 1)), np.array([[1, 2, 3]], { dtype: "float64" }), 1e-15);
  });

  it("general matrices: solve, det, slogdet, inv and the LU pair give what the guide says", () => {
    const { a, b, x, d, sign, logAbsDet, aInv, x2, xT } = linearAlgebra.generalMatrices();
    close(x, f64([1, 1, 2], [3]), 1e-14);
    close(d, -16, 1e-13);
    expect(sign.item()).toBe(-1);
    close(logAbsDet, Math.log(16), 1e-14);
    close(np.matmul(a, aInv), np.eye(3, 3, { dtype: "float64" }), 1e-14);
    close(x2, x, 1e-14);
    close(np.matmul(np.swapaxes(a, 0, 1), xT), b, 1e-13);
  });

  it("eigh and qr: the eigenvalues the guide shows, and both reconstruct the matrix", () => {
    const { s, w, v, values, q, r } = linearAlgebra.eigenAndQr();
    close(w, f64([2 - Math.SQRT2, 2, 2 + Math.SQRT2], [3]), 1e-14);
    close(np.matmul(np.multiply(v, w), np.swapaxes(v, 0, 1)), s, 1e-14);
    close(values, w, 1e-14);
    close(np.matmul(q, r), s, 1e-14);
    close(np.matmul(np.swapaxes(q, 0, 1), q), np.eye(3, 3, { dtype: "float64" }), 1e-14);
    close(np.tril(r, { k: -1 }), np.zeros([3, 3], { dtype: "float64" }), 0);
  });

  it("singular values, norms and least squares give what the guide says", () => {
    const r = linearAlgebra.singularValues();
    close(r.s, f64([Math.sqrt(45), Math.sqrt(5)], [2]), 1e-14);
    close(np.matmul(np.multiply(r.u, r.s), r.vh), r.m, 1e-14);
    close(r.sv, r.s, 1e-14);
    close(r.fro, Math.sqrt(50), 1e-14);
    close(r.two, Math.sqrt(45), 1e-14);
    close(r.kappa, 3, 1e-14);
    expect(r.rank.item()).toBe(2);
    close(r.coefficients, f64([0.9, 1.9], [2]), 1e-14);
    // Residuals 0.1, 0.2, -0.7, 0.4 around the line 0.9 + 1.9 t: squared and summed, 0.7.
    close(r.residuals, f64([0.7], [1]), 1e-13);
    close(r.viaPinv, r.coefficients, 1e-14);
  });

  it("gradients, batches and jit: d log det a / da = a⁻¹; the batch, vmap and jit agree", () => {
    const { g, direct, mapped, compiled } = linearAlgebra.transformsThrough();
    close(
      g,
      np.array(
        [
          [0.375, -0.25],
          [-0.25, 0.5],
        ],
        { dtype: "float64" },
      ),
      1e-15,
    );
    close(direct, f64([Math.log(8), Math.log(32), Math.log(16)], [3]), 1e-14);
    close(mapped, direct, 1e-15);
    close(compiled, direct, 1e-15);
  });

  it("degenerate points: det's gradient at a singular matrix is its cofactor matrix; pinv's is finite at repeated singular values", () => {
    const { d, cofactors, g, gInv } = linearAlgebra.degeneratePoints();
    expect(d.item()).toBe(0);
    close(cofactors, f64([-38, 19, 0, 16, -8, 0, 2, -1, 0], [3, 3]), 1e-12);
    expect(values(g).every(Number.isFinite)).toBe(true);
    close(g, gInv, 1e-12);
  });

  it("a matrix that is not positive definite gives NaNs, and the check finds them", () => {
    const { l, failed } = linearAlgebra.notPositiveDefinite();
    expect(values(l).every(Number.isNaN)).toBe(true);
    expect(failed).toBe(true);
  });
});

describe("sequence-models.ts", () => {
  const rows = (x: NdArray, start: number, stop: number, axis = 0) =>
    np.slice(x, [...Array.from({ length: axis }, () => ({})), { start, stop }]);

  it("embeds: a table row per token, and padding_idx's row gets no gradient", () => {
    const { vectors, tableGrad } = sequenceModels.embeddings();
    expect(vectors.shape).toEqual([2, 3, 4]);
    // The first token of the first sequence is 1: row 1 of the table (the table is the same key's init).
    const table = layers.embedding(10, 4).init(random.key(0)).weight;
    close(rows(rows(vectors, 0, 1), 0, 1, 1).reshape([1, 4]), rows(table, 1, 2), 0);
    // Tokens 1, 2, 3, 3, 0, 9: each row's gradient counts its lookups, and row 0 (padding) none.
    const counts = [0, 1, 1, 2, 0, 0, 0, 0, 0, 1];
    close(tableGrad, np.array(counts.map((c) => [c, c, c, c])), 0);
  });

  it("normalizes: layer norm rows have mean 0 and variance 1; the affine weight scales; rmsNorm divides by the rms", () => {
    const { x, y, scaled, rms } = sequenceModels.norms();
    close(np.mean(y, { axis: -1 }), np.zeros([2, 5]), 1e-5);
    close(np.var(y, { axis: -1 }), np.ones([2, 5]), 1e-3);
    close(scaled, np.multiply(y, 2), 1e-5);
    const meanSquare = np.mean(np.square(x), { axis: -1, keepdims: true });
    close(rms, np.divide(x, np.sqrt(np.add(meanSquare, 2 ** -23))), 1e-5);
  });

  it("attends causally: the bool mask gives the same, the first query's output is the first value, the last query sees every key", () => {
    const { q, k, v, causal, masked, firstRow, firstValue } = sequenceModels.attention();
    expect(causal.shape).toEqual([2, 4, 6, 8]);
    close(masked, causal, 0);
    close(firstRow, firstValue, 1e-6);
    const unmasked = nn.scaledDotProductAttention(q, k, v);
    close(rows(causal, 5, 6, 2), rows(unmasked, 5, 6, 2), 1e-6);
    // A query that may attend to the first two keys only: its softmax over two scores, by hand.
    const scores = np.divide(np.matmul(q, np.swapaxes(k, -1, -2)), Math.sqrt(8));
    const two = rows(rows(scores, 1, 2, 2), 0, 2, 3); // [2, 4, 1, 2]
    const weights = np.divide(np.exp(two), np.sum(np.exp(two), { axis: -1, keepdims: true }));
    close(rows(causal, 1, 2, 2), np.matmul(weights, rows(v, 0, 2, 2)), 1e-5);
  });

  it("multi-head attention: the shapes the guide gives; the padded key gets no weight; rows sum to 1", () => {
    const { out, attnWeights, paddedColumn } = sequenceModels.multiHead();
    expect(out.shape).toEqual([3, 5, 8]);
    expect(attnWeights.shape).toEqual([3, 5, 5]);
    close(paddedColumn, np.zeros([1, 5, 1]), 0);
    close(np.sum(attnWeights, { axis: -1 }), np.ones([3, 5]), 1e-6);
  });

  it("a transformer block is a named model with PyTorch-style names and 3,280 parameters", () => {
    const { y, names, summary } = sequenceModels.blockInUse();
    expect(y.shape).toEqual([2, 10, 16]);
    expect(names.slice(0, 3)).toEqual(["ln1.weight", "ln1.bias", "attn.weight"]);
    expect(summary).toContain("Total: 3,280 parameters in 12 arrays");
  });

  it("recurrent layers: PyTorch's names and shapes; the last output is the top layer's final hidden state", () => {
    const r = sequenceModels.recurrent();
    expect(r.names).toEqual([
      "weight_ih_l0",
      "weight_hh_l0",
      "bias_ih_l0",
      "bias_hh_l0",
      "weight_ih_l1",
      "weight_hh_l1",
      "bias_ih_l1",
      "bias_hh_l1",
    ]);
    expect([r.out.shape, r.hN.shape, r.cN.shape, r.next.shape]).toEqual([
      [3, 12, 16],
      [2, 3, 16],
      [2, 3, 16],
      [3, 12, 16],
    ]);
    close(rows(r.out, 11, 12, 1).reshape([3, 16]), rows(r.hN, 1, 2).reshape([3, 16]), 1e-6);
    // Continuing from the final carry is not starting from zeros.
    expect(np.max(np.abs(np.subtract(r.next, r.out))).item()).toBeGreaterThan(1e-3);
    close(rows(r.gruOut, 11, 12, 1).reshape([3, 16]), r.gruH.reshape([3, 16]), 1e-6);
  });

  it("an LSTM train step on ONNX Runtime: the default backend's loss and parameters (float32)", async () => {
    const { ortParams, ortLoss, wasmParams, wasmLoss } = await sequenceModels.recurrentOnOnnxRuntime();
    expect(Math.abs(ortLoss.item() - wasmLoss.item())).toBeLessThan(1e-5 * Math.abs(wasmLoss.item()));
    for (const [name, w] of Object.entries(wasmParams)) {
      close(ortParams[name as keyof typeof ortParams]!, w, 1e-5);
    }
  });

  it("scan: the carry after every step, jit agrees, and the last step's gradient by hand", () => {
    const { w, xs, hLast, hs, jitLast, gradXs } = sequenceModels.scanLoop();
    expect(hs.shape).toEqual([7, 2, 4]);
    close(hLast, rows(hs, 6, 7).reshape([2, 4]), 0);
    // From a zero carry the first step is tanh(x₀ wᵀ).
    close(rows(hs, 0, 1).reshape([2, 4]), np.tanh(np.matmul(rows(xs, 0, 1).reshape([2, 3]), w.T)), 1e-6);
    close(jitLast, hLast, 1e-6);
    // x₆ reaches only the last output: d sum(h₆) / d x₆ = (1 - h₆²) w.
    const h6 = rows(hs, 6, 7).reshape([2, 4]);
    close(rows(gradXs, 6, 7).reshape([2, 3]), np.matmul(np.subtract(1, np.square(h6)), w), 1e-5);
  });

  it("the optimizer pieces: the decay mask, the schedule's values, an injected learning rate", () => {
    const p = sequenceModels.optimizerPieces();
    expect(p.mask).toEqual({
      wte: { weight: false },
      fc: { weight: true, bias: false },
      ln: { weight: false, bias: false },
    });
    expect(p.lrAt[0]).toBe(0);
    expect(p.lrAt[1]).toBeCloseTo(3e-3, 12);
    expect(p.lrAt[2]).toBeCloseTo(3e-4, 12);
    const { lr, updates } = sequenceModels.changingTheLearningRate();
    expect(lr).toBe(5e-4);
    // Adam's first step on a gradient of ones is -lr (up to eps), and the decay -lr · 0.1 · p with p = 1.
    close(updates.w, np.full([3], -5e-4 * 1.1), 1e-9);
  });

  it("samples: top-k and top-p keep what the guide says, the draws only those, temperature 0 the argmax", () => {
    const s = sequenceModels.sampling();
    expect(s.topK.toArray()).toEqual([2, 1, -Infinity, -Infinity, -Infinity]);
    // softmax([2, 1, 0.5, -1, -3]): 0.574, 0.211, 0.128, ...: the first three are the smallest set above 0.9.
    expect(s.topP.toArray()).toEqual([2, 1, 0.5, -Infinity, -Infinity]);
    expect(new Set(values(s.draws))).toEqual(new Set([0, 1]));
    expect(s.greedy.item()).toBe(0);
    expect([0, 1, 2, 3, 4]).toContain(s.draw.item());
  });

  it("a small GPT trained for 30 jitted, donated steps lowers its loss from about log(alphabet size)", () => {
    const { losses, alphabet } = sequenceModels.trainingAGpt();
    expect(losses).toHaveLength(30);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(Math.abs(losses[0]! - Math.log(alphabet.length))).toBeLessThan(0.2);
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)) - 0.6);
  });
});
