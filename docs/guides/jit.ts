/**
 * The code of jit.md: what jit traces, its cache, static and donated arguments, reading the program,
 * and why a function is traced again. test/examples/guides.test.ts runs every function.
 */
import {
  backend,
  ConcretizationError,
  forLoop,
  grad,
  jit,
  lax,
  makeProgram,
  type NdArray,
  np,
  setBackend,
  setEagerCompile,
  valueAndGrad,
} from "tracegrad";

export function tracing() {
  let traces = 0;
  const leakyRelu = jit((x: NdArray) => {
    traces += 1; // JS side effects run while tracing, not on every call
    return np.where(x.greater(0), x, x.mul(0.01));
  });
  leakyRelu(np.array([-1, 2, 3]));
  leakyRelu(np.array([4, -5, 6])); // same shape and dtype: the compiled plan runs, f does not
  return { traces }; // 1
}

export function valuesAreAbstract() {
  // While tracing, arrays have a shape and a dtype but no values, so JS control flow on a value fails:
  const bad = jit((x: NdArray) => (x.sum().item() > 0 ? x : x.neg()));
  let message = "";
  try {
    bad(np.array([1, 2]));
  } catch (error) {
    if (error instanceof ConcretizationError) message = error.message;
  }
  // Decide with array operations instead; both branches are computed and one is selected.
  const good = jit((x: NdArray) => np.where(x.sum().greater(0), x, x.neg()));
  // JS control flow on shapes is fine: shapes are known while tracing.
  const flattenIfMatrix = jit((x: NdArray) => (x.ndim === 2 ? x.flatten() : x));
  return { message, good: good(np.array([-1, -2])), flat: flattenIfMatrix(np.ones([2, 3])) };
}

export function tracedOffsets() {
  // A slice's bounds are JS numbers; at an offset known only when the plan runs, use lax.dynamicSlice.
  const window = jit((x: NdArray, i: NdArray) => lax.dynamicSlice(x, [i], [3]));
  const x = np.arange(10);
  const middle = window(x, np.scalar(2, "int32")); // [2, 3, 4]
  const clamped = window(x, np.scalar(9, "int32")); // [7, 8, 9]: the start is clamped to fit
  // In a loop, the index is traced too: write row i of a buffer.
  const rows = jit(() =>
    forLoop(
      3,
      (i, buf: NdArray) =>
        lax.dynamicUpdateIndexInDim(buf, np.broadcastTo(np.astype(i, "float32"), [2]), i, 0),
      np.zeros([3, 2]),
    ),
  )();
  return { middle, clamped, rows };
}

export function cacheKeys() {
  const f = jit((x: NdArray, scale: number) => x.mul(scale).sum());
  f(np.ones([3]), 2); // traced and compiled for (float32[3], a float32 scalar)
  f(np.ones([3]), 5); // a different number is only a different value: cache hit
  f(np.ones([4]), 2); // a new shape: traced again
  f(np.ones([3], { dtype: "float64" }), 2); // a new dtype: traced again
  return f.cacheInfo(); // { hits: 1, misses: 3, size: 3 }
}

export function staticArguments() {
  // A static argument is a JS value baked into the trace (part of the cache key), so f can branch on it.
  const power = jit((x: NdArray, n: number) => (n === 0 ? np.onesLike(x) : x.pow(n)), { staticArgnums: 1 });
  const squares = power(np.array([1, 2, 3]), 2); // [1, 4, 9]
  const ones = power(np.array([1, 2, 3]), 0); // traced again for n = 0
  return { squares, ones, cache: power.cacheInfo() };
}

class Config {
  constructor(readonly scale: number) {}
}

export function staticIdentity() {
  // Functions are keyed by identity: each closure gets its own plan.
  const scaleBy = (k: number) => (x: NdArray) => x.mul(k);
  const apply = jit((x: NdArray, act: (x: NdArray) => NdArray) => act(x), { staticArgnums: 1 });
  const doubled = apply(np.ones([2]), scaleBy(2)); // [2, 2]
  const tripled = apply(np.ones([2]), scaleBy(3)); // [3, 3]: a new closure, traced again
  // A class instance is keyed by identity too, unless staticKey says what makes two equal.
  const withConfig = jit((x: NdArray, c: Config) => x.mul(c.scale), {
    staticArgnums: 1,
    staticKey: (c) => (c as Config).scale,
  });
  withConfig(np.ones([2]), new Config(2));
  withConfig(np.ones([2]), new Config(2)); // an equal configuration: cache hit
  return { doubled, tripled, configCache: withConfig.cacheInfo() };
}

export function donation() {
  // A donated argument's buffer may be reused for the outputs: the update happens in place.
  const sgdStep = jit((w: NdArray, g: NdArray) => w.sub(g.mul(0.1)), { donateArgnums: 0 });
  const w = np.array([1, 2, 3]);
  const w2 = sgdStep(w, np.array([1, 1, 1]));
  let message = "";
  try {
    w.add(1); // w was donated: its buffer now belongs to w2
  } catch (error) {
    message = (error as Error).message;
  }
  return { w2, message };
}

export function metricsInDonatedState() {
  // The loss sum travels in the donated state too, so a step allocates nothing at all in steady state.
  const step = jit(
    (w: NdArray, lossSum: NdArray, x: NdArray) => {
      const loss = (v: NdArray) => np.tanh(np.matmul(x, v)).square().sum();
      const [value, g] = valueAndGrad(loss)(w);
      return [w.sub(g.mul(0.1)), lossSum.add(value)] as const;
    },
    { donateArgnums: [0, 1] },
  );
  let w = np.ones([3, 2]);
  let lossSum = np.zeros([]);
  const x = np.ones([4, 3]);
  for (let i = 0; i < 10; i++) [w, lossSum] = step(w, lossSum, x);
  const meanLoss = lossSum.item() / 10; // read back once, when it is wanted
  return { meanLoss, w };
}

export function profiling() {
  const loss = (w: NdArray, x: NdArray) => np.tanh(np.matmul(x, w)).square().sum();
  // Mean milliseconds of every kernel call of the compiled plan, in plan order.
  const [w, x] = [np.ones([256, 64]), np.ones([512, 256])];
  const rows = jit(grad(loss)).lower(w, x).profile(10);
  const slowest = [...rows].sort((a, b) => b.ms - a.ms)[0]!;
  return { rows, slowest };
}

export function kernels() {
  // Which kernels compiled plans get: WebAssembly SIMD (relaxed SIMD where the engine has it) or JS.
  const active = backend(); // e.g. { name: "wasm-relaxed-simd", simd: true, relaxedSimd: true, threads: 2, platform: "node" }
  const f = (x: NdArray) => np.tanh(x).square().mul(2).sum();
  const x = np.linspace(-1, 1, 1000);
  setBackend("js"); // plans compiled from now on use the portable JS kernels
  const onJs = jit(f)(x).item();
  setBackend("wasm", { threads: active.threads }); // and back (throws where there is no Wasm SIMD)
  const onWasm = jit(f)(x).item();
  return { active, onJs, onWasm, eager: f(x).item() };
}

export function readingPrograms() {
  const loss = (w: NdArray, x: NdArray) => np.tanh(np.matmul(x, w)).square().sum();
  const w = np.ones([3, 2]);
  const x = np.ones([4, 3]);
  // The traced program, printed like a jaxpr: inputs, one equation per primitive, outputs.
  const traced = makeProgram(grad(loss))(w, x).toString();
  // What jit made of it: the optimized program, the fused loops, and the memory plan.
  const compiled = jit(grad(loss)).lower(w, x).toString();
  return { traced, compiled };
}

export function retracing() {
  // A warning appears when a function keeps being traced: here every call has a new shape.
  const warnings: string[] = [];
  const originalWarn = console.warn;
  console.warn = (message: string) => warnings.push(message);
  try {
    const mean = jit((x: NdArray) => x.mean());
    for (let n = 1; n <= 10; n++) mean(np.ones([n]));
  } finally {
    console.warn = originalWarn;
  }
  return { warnings };
}

export function eagerGradients() {
  const loss = (w: NdArray, x: NdArray) => np.tanh(np.matmul(x, w)).square().sum();
  const x = np.linspace(-1, 1, 64).reshape([8, 8]);
  const train = () => {
    let w = np.eye(8).mul(0.5);
    for (let step = 0; step < 5; step++) {
      const [, g] = valueAndGrad(loss)(w, x); // steps 3, 4, 5: one compiled plan
      w = w.sub(g.mul(0.1));
    }
    return w;
  };
  const compiled = train();
  const previous = setEagerCompile({ enabled: false }); // every eager gradient on the tape, op by op
  const onTape = train();
  setEagerCompile(previous);
  return { compiled, onTape };
}
