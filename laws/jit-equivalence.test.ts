/**
 * jit ≡ eager, bit for bit (issue 15): random programs give the same bits eagerly (the gradient on the
 * tape, and on eager grad's compiled plan), jitted, jitted again (a cache hit), jitted with their
 * arguments donated, and jitted on the JS backend, for the function and for its gradient, in float32 and float64, with NaN, ±Inf, ±0 and large magnitudes among the inputs.
 * Elements are compared with Object.is (NaN matches any NaN), never within a tolerance.
 *
 * A program is a list of steps over a pool of values that starts with the inputs: x [r, c], a broadcast
 * row or column y, and a square w [c, c]. Steps are elementwise chains with broadcasting (including the
 * multiplies and adds of zeros and ones that the simplifier looks at), reductions over random axes,
 * reshapes and transposes, matmul chains of 2 to 4 operands (w @ w @ w among them), where/select and
 * concatenate. Shapes stay small, so fused loops are forced onto the WebAssembly path by lowering its
 * size thresholds (the JS backend's loops run the other path).
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, it } from "vitest";
import { fusedThresholds } from "../src/compiler/fused-wasm.js";
import { backend, grad, jit, type Array as NdArray, np, setBackend, setEagerCompile } from "../src/index.js";

type Dtype = "float32" | "float64";

interface Step {
  readonly kind: number;
  readonly a: number;
  readonly b: number;
  readonly c: number;
}

interface Case {
  readonly rows: number;
  readonly cols: number;
  readonly yIsRow: boolean;
  readonly steps: readonly Step[];
  readonly values: readonly number[];
}

const SPECIAL = [
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  0,
  -0,
  1,
  -1,
  0.5,
  1e30,
  -1e30,
  3e38,
  1e-40,
  2,
  0.285,
];
const CONSTANTS = [0, -0, 1, -1, 2, 0.5, Number.NaN, Number.POSITIVE_INFINITY, 1e8, 1e-8];

const UNARY: readonly ((u: NdArray) => NdArray)[] = [
  np.negative,
  np.abs,
  np.square,
  np.sqrt,
  np.exp,
  np.log,
  np.tanh,
  np.sigmoid,
  np.sin,
  np.floor,
  np.sign,
  np.reciprocal,
  np.rsqrt,
  np.expm1,
  np.log1p,
  np.round,
  np.sinh,
  np.cosh,
  np.asinh,
  np.atanh,
  np.asin,
  np.acos,
  np.cbrt,
  np.log2,
  np.exp2,
  np.trunc,
  np.sinc,
  np.deg2rad,
];
const BINARY: readonly ((u: NdArray, v: NdArray) => NdArray)[] = [
  np.add,
  np.subtract,
  np.multiply,
  np.divide,
  np.maximum,
  np.minimum,
  np.power,
  np.mod,
  np.hypot,
  np.logaddexp,
  np.logaddexp2,
  np.xlogy,
  np.xlog1py,
  np.copysign,
  np.heaviside,
];

function broadcastable(s: readonly number[], t: readonly number[]): boolean {
  for (let i = 1; i <= Math.min(s.length, t.length); i++) {
    const p = s[s.length - i]!;
    const q = t[t.length - i]!;
    if (p !== q && p !== 1 && q !== 1) return false;
  }
  return true;
}

/** The program's value pool after its steps; `inputs` are x, y and w. */
function runProgram(steps: readonly Step[], inputs: readonly NdArray[]): NdArray[] {
  const pool: NdArray[] = [...inputs];
  const pick = (i: number): NdArray => pool[i % pool.length]!;
  /** v, or its sum when it does not broadcast against u. */
  const against = (u: NdArray, v: NdArray): NdArray => (broadcastable(u.shape, v.shape) ? v : np.sum(v));
  const matrix = (u: NdArray): NdArray =>
    u.ndim === 2 ? u : u.reshape(u.ndim === 0 ? [1, 1] : [-1, u.shape[u.ndim - 1]!]);
  for (const { kind, a, b, c } of steps) {
    const u = pick(a);
    const v = against(u, pick(b));
    switch (kind % 10) {
      case 0:
        pool.push(UNARY[c % UNARY.length]!(u));
        break;
      case 1:
      case 2:
        pool.push(BINARY[c % BINARY.length]!(u, v));
        break;
      case 3: {
        // The simplifier's patterns: products, quotients and sums with zeros and ones.
        const k = CONSTANTS[c % CONSTANTS.length]!;
        const filled = np.fullLike(u, k);
        const forms = [u.mul(k), filled.mul(u), filled.div(u), u.add(filled), filled.sub(u), u.sub(filled)];
        pool.push(forms[b % forms.length]!);
        break;
      }
      case 4: {
        const axis = u.ndim === 0 || c % 4 === 0 ? null : b % u.ndim;
        const keepdims = c % 2 === 1;
        const reduce = [np.sum, np.max, np.min, np.mean][a % 4]!;
        pool.push(reduce(u, { axis, keepdims }));
        break;
      }
      case 5:
        if (u.ndim >= 2 && c % 2 === 0) pool.push(np.transpose(u));
        else pool.push(u.reshape(c % 3 === 0 ? [-1] : c % 3 === 1 ? [u.size, 1] : [1, u.size]));
        break;
      case 6: {
        // A chain of 2-4 operands: the square input w where the inner sizes allow, else a transpose.
        let m = matrix(u);
        const w = inputs[2]!;
        for (let n = 0; n < 1 + (c % 3); n++) {
          const cand = pick(n % 2 === 0 ? b : a);
          const right =
            cand.ndim === 2 && cand.shape[0] === m.shape[1]
              ? cand
              : m.shape[1] === w.shape[0]
                ? w
                : np.transpose(m);
          m = np.matmul(m, right);
        }
        pool.push(m);
        break;
      }
      case 7: {
        const cond = [np.greater, np.less, np.equal][c % 3]!(u, v);
        pool.push(np.where(cond, u, v));
        break;
      }
      case 8: {
        if (u.ndim === 0) pool.push(np.stack([u, v.ndim === 0 ? v : np.sum(v)]));
        else {
          const fits =
            v.ndim <= u.ndim && v.shape.every((d, i) => d === 1 || d === u.shape[u.ndim - v.ndim + i]);
          const other = fits ? np.broadcastTo(v, u.shape) : u;
          pool.push(np.concatenate([u, other], { axis: c % u.ndim }));
        }
        break;
      }
      default:
        // A constant-free chain of the same value: CSE and fusion see repeated subterms.
        pool.push(u.mul(u).add(u).sub(np.abs(u)));
    }
  }
  return pool;
}

/** Programs run together: one jit compiles them all (their shapes and dtype are the batch's). */
interface Batch {
  readonly dtype: Dtype;
  readonly programs: readonly Case[];
}

function inputsOf(t: Case, dtype: Dtype): NdArray[] {
  let k = 0;
  const take = (shape: number[]): NdArray => {
    const size = shape.reduce((p, q) => p * q, 1);
    const data = t.values.slice(k, k + size);
    k += size;
    return np.array(data, { shape, dtype });
  };
  return [take([t.rows, t.cols]), take(t.yIsRow ? [1, t.cols] : [t.rows, 1]), take([t.cols, t.cols])];
}

const valueArb = fc.oneof(
  { weight: 3, arbitrary: fc.double({ min: -4, max: 4, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(...SPECIAL) },
  { weight: 1, arbitrary: fc.double() },
);

const caseArb: fc.Arbitrary<Case> = fc.record({
  rows: fc.integer({ min: 1, max: 4 }),
  cols: fc.integer({ min: 1, max: 4 }),
  yIsRow: fc.boolean(),
  steps: fc.array(fc.record({ kind: fc.nat(99), a: fc.nat(99), b: fc.nat(99), c: fc.nat(99) }), {
    minLength: 1,
    maxLength: 8,
  }),
  values: fc.array(valueArb, { minLength: 40, maxLength: 40 }),
});

/** Programs per jit: compiling costs more than running, so each compile covers several programs. */
const PER_BATCH = 6;

const batchArb: fc.Arbitrary<Batch> = fc.record({
  dtype: fc.constantFrom<Dtype>("float32", "float64"),
  programs: fc.array(caseArb, { minLength: PER_BATCH, maxLength: PER_BATCH }),
});

/** "same" when every element has the same bits (any NaN matching any NaN), else the first difference. */
function difference(got: NdArray, want: NdArray): string {
  if (got.dtype !== want.dtype || got.shape.join() !== want.shape.join())
    return `${got.dtype}[${got.shape}] vs ${want.dtype}[${want.shape}]`;
  const g = got.toTypedArray() as ArrayLike<number>;
  const w = want.toTypedArray() as ArrayLike<number>;
  for (let i = 0; i < w.length; i++) {
    if (!(Object.is(g[i], w[i]) || (Number.isNaN(g[i]) && Number.isNaN(w[i]))))
      return `element ${i}: ${Object.is(g[i], -0) ? "-0" : g[i]} vs ${Object.is(w[i], -0) ? "-0" : w[i]}`;
  }
  return "same";
}

const copies = (xs: readonly NdArray[]): NdArray[] =>
  xs.map((x) => np.array(x.toTypedArray(), { shape: [...x.shape], dtype: x.dtype }));

const initial = backend();
const saved = { ...fusedThresholds };
const useWasm = (): void => setBackend("wasm", { threads: initial.threads });

/** Every way of running `fn` on `args` that must agree with eager evaluation, by name. */
function ways(fn: (xs: NdArray[]) => NdArray[], args: NdArray[]): [string, NdArray[]][] {
  const jitted = jit(fn);
  const first = jitted(args);
  const again = jitted(args);
  const donating = jit(fn, { donateArgnums: 0 });
  const donated = donating(copies(args));
  const donatedAgain = donating(copies(args));
  setBackend("js");
  let onJs: NdArray[];
  try {
    onJs = jit(fn)(args);
  } finally {
    useWasm();
  }
  // Eager grad on its compiled plan (transforms/eager-compile.ts), from the first call.
  const settings = setEagerCompile({ enabled: true, compileAfter: 1 });
  let eagerCompiled: NdArray[];
  try {
    eagerCompiled = fn(args);
  } finally {
    setEagerCompile(settings);
  }
  return [
    ["eager, grad on its compiled plan", eagerCompiled],
    ["jit", first],
    ["jit again (cache hit)", again],
    ["jit, donated", donated],
    ["jit, donated again", donatedAgain],
    ["jit on the JS backend", onJs],
  ];
}

function check(batch: Batch): void {
  const args = batch.programs.flatMap((t) => inputsOf(t, batch.dtype));
  /** Every program's last value and the sum of all its values (its loss), in program order. */
  const programs = (xs: NdArray[]): NdArray[] =>
    batch.programs.flatMap((t, k) => {
      const inputs = xs.slice(3 * k, 3 * k + 3);
      const pool = runProgram(t.steps, inputs);
      return [pool[pool.length - 1]!, pool.slice(3).reduce((s, p) => s.add(np.sum(p)), np.sum(inputs[0]!))];
    });
  const loss = (xs: NdArray[]): NdArray =>
    programs(xs)
      .filter((_, i) => i % 2 === 1)
      .reduce((s, l) => s.add(l));
  const gradient = grad(loss);
  // The function's outputs, then its gradient's (one jit compiles both).
  const both = (xs: NdArray[]): NdArray[] => [...programs(xs), ...gradient(xs)];
  // The reference: eager evaluation, its grad on the tape.
  const settings = setEagerCompile({ enabled: false });
  let eager: NdArray[];
  try {
    eager = both(args);
  } finally {
    setEagerCompile(settings);
  }
  const outputs = 2 * batch.programs.length;
  for (const [how, got] of ways(both, args)) {
    got.forEach((g, i) => {
      const d = difference(g, eager[i]!);
      if (d !== "same") {
        const what = i < outputs ? `f, output ${i}` : `grad f, output ${i - outputs}`;
        throw new Error(`${what} (${batch.dtype}), ${how} vs eager: ${d}`);
      }
    });
  }
}

describe("jit ≡ eager on random programs, bit for bit", () => {
  beforeAll(() => {
    useWasm();
    fusedThresholds.resident = 0;
    fusedThresholds.staged = 0;
    // Eager elementwise calls run the wasm loop too (compiler/eager-fused.ts), against jit's JS loops.
    fusedThresholds.eager = 0;
  });
  afterAll(() => {
    Object.assign(fusedThresholds, saved);
    setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
  });

  it("reaches the matmul-chain gradient of item 1 (w @ w @ w)", () => {
    const t: Case = {
      rows: 2,
      cols: 2,
      yIsRow: true,
      steps: [{ kind: 6, a: 2, b: 2, c: 1 }],
      values: Array(40).fill(1),
    };
    check({ dtype: "float32", programs: [t] });
  });

  // 3,000 programs in chunks (each a test of its own, so none holds the worker for minutes); with
  // LAWS_SEED set, chunk k runs from seed LAWS_SEED + k.
  const chunks = 10;
  const programs = Number(process.env["JIT_LAWS_PROGRAMS"] ?? 3000);
  const runs = Math.max(1, Math.round(programs / PER_BATCH / chunks));
  for (let chunk = 0; chunk < chunks; chunk++) {
    const from = chunk * runs * PER_BATCH + 1;
    it(`programs ${from}-${from + runs * PER_BATCH - 1}: eager, eager compiled, jit, cache hit, donated, JS backend; f and grad f`, () => {
      const base = fc.readConfigureGlobal().seed;
      fc.assert(
        fc.property(batchArb, (t) => check(t)),
        base === undefined ? { numRuns: runs } : { numRuns: runs, seed: base + chunk },
      );
    });
  }
});
