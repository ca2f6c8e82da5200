/**
 * Every single-op case of the PyTorch golden data (except conv2d and pooling, tested with those ops) run
 * through our ops: outputs, and gradients via vjp with the stored cotangent. float64 to the README's
 * tolerance; a float32 pass to about 1e-4 relative.
 */
import { describe, expect, it } from "vitest";
import type { DType } from "../../src/core/dtype.js";
import { type NdArray, nn, np, vjp } from "../../src/index.js";
import type { SliceSpec } from "../../src/ops/shape.js";
import {
  expectClose,
  FLOAT64_TOLERANCE,
  type GoldenArray,
  loadVjpCases,
  type Tolerance,
  toArray,
  type VjpCase,
} from "./golden.js";

type Attrs = Record<string, unknown>;
type Arrays = Record<string, NdArray>;

/** One golden op: all outputs (float and integer) from all inputs (floats and int32 targets). */
type OpImpl = (inputs: Arrays, attrs: Attrs) => Arrays;

const FILES = [
  "elementwise.json",
  "reductions.json",
  "linalg_shapes.json",
  "losses.json",
  "edge_semantics.json",
];
/** Tested with conv and pooling (src/ops/conv.ts, pool.ts), by their authors. */
const SKIPPED_OPS = new Set(["conv2d", "max_pool2d", "avg_pool2d"]);

const axisAttr = (attrs: Attrs, key = "dim"): number | number[] | undefined => {
  const v = attrs[key];
  return v === null || v === undefined ? undefined : (v as number | number[]);
};
const keepdimsAttr = (attrs: Attrs): boolean => attrs["keepdim"] === true;
const reductionAttr = (attrs: Attrs): nn.Reduction =>
  (attrs["reduction"] as nn.Reduction | undefined) ?? "mean";
/** The inputs named x0, x1, ... in order (cat, stack). */
const numbered = (inputs: Arrays): NdArray[] =>
  Object.keys(inputs)
    .filter((k) => /^x\d+$/.test(k))
    .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
    .map((k) => inputs[k]!);
const out = (x: NdArray): Arrays => ({ out: x });

/** torch.max(x, dim): the values and the first index of the maximum; the gradient goes to that index only. */
function maxWithIndices(x: NdArray, axis: number, keepdims: boolean): Arrays {
  const ax = axis < 0 ? axis + x.ndim : axis;
  const indices = np.argmax(x, { axis: ax, keepdims: true });
  const classIds = np.reshape(np.arange(x.shape[ax]!), [
    x.shape[ax]!,
    ...new Array<number>(x.ndim - ax - 1).fill(1),
  ]);
  const values = np.sum(np.where(np.equal(indices, classIds), x, 0), { axis: ax, keepdims: true });
  const squeeze = (v: NdArray): NdArray => (keepdims ? v : np.squeeze(v, ax));
  return { values: squeeze(values), indices: squeeze(indices) };
}

const OPS: Record<string, OpImpl> = {
  add: ({ a, b }) => out(np.add(a!, b!)),
  sub: ({ a, b }) => out(np.subtract(a!, b!)),
  mul: ({ a, b }) => out(np.multiply(a!, b!)),
  div: ({ a, b }) => out(np.divide(a!, b!)),
  neg: ({ x }) => out(np.negative(x!)),
  exp: ({ x }) => out(np.exp(x!)),
  log: ({ x }) => out(np.log(x!)),
  sqrt: ({ x }) => out(np.sqrt(x!)),
  tanh: ({ x }) => out(nn.tanh(x!)),
  sigmoid: ({ x }) => out(nn.sigmoid(x!)),
  relu: ({ x }) => out(nn.relu(x!)),
  abs: ({ x }) => out(np.abs(x!)),
  pow_scalar: ({ x }, attrs) => out(np.power(x!, attrs["exponent"] as number)),
  pow: ({ a, b }) => out(np.power(a!, b!)),
  maximum: ({ a, b }) => out(np.maximum(a!, b!)),
  minimum: ({ a, b }) => out(np.minimum(a!, b!)),
  sum: ({ x }, attrs) => out(np.sum(x!, { axis: axisAttr(attrs), keepdims: keepdimsAttr(attrs) })),
  mean: ({ x }, attrs) => out(np.mean(x!, { axis: axisAttr(attrs), keepdims: keepdimsAttr(attrs) })),
  max: ({ x }, attrs) => {
    const axis = axisAttr(attrs);
    return axis === undefined ? out(np.max(x!)) : maxWithIndices(x!, axis as number, keepdimsAttr(attrs));
  },
  amax: ({ x }, attrs) => out(np.max(x!, { axis: axisAttr(attrs), keepdims: keepdimsAttr(attrs) })),
  softmax: ({ x }, attrs) => out(nn.softmax(x!, { axis: attrs["dim"] as number })),
  log_softmax: ({ x }, attrs) => out(nn.logSoftmax(x!, { axis: attrs["dim"] as number })),
  logsumexp: ({ x }, attrs) =>
    out(nn.logsumexp(x!, { axis: axisAttr(attrs), keepdims: keepdimsAttr(attrs) })),
  matmul: ({ a, b }) => out(np.matmul(a!, b!)),
  linear: ({ x, weight, bias }) => out(np.add(np.matmul(x!, np.transpose(weight!)), bias!)),
  transpose: ({ x }, attrs) => {
    const perm = x!.shape.map((_, i) => i);
    const [d0, d1] = [attrs["dim0"] as number, attrs["dim1"] as number];
    [perm[d0], perm[d1]] = [perm[d1]!, perm[d0]!];
    return out(np.transpose(x!, perm));
  },
  permute: ({ x }, attrs) => out(np.transpose(x!, attrs["dims"] as number[])),
  reshape: ({ x }, attrs) => out(np.reshape(x!, attrs["shape"] as number[])),
  "permute+reshape": ({ x }, attrs) =>
    out(np.reshape(np.transpose(x!, attrs["dims"] as number[]), attrs["shape"] as number[])),
  flatten: ({ x }, attrs) => out(np.flatten(x!, attrs["start_dim"] as number, attrs["end_dim"] as number)),
  cat: (inputs, attrs) => out(np.concatenate(numbered(inputs), { axis: attrs["dim"] as number })),
  stack: (inputs, attrs) => out(np.stack(numbered(inputs), { axis: attrs["dim"] as number })),
  slice: ({ x }, attrs) => {
    const specs: SliceSpec[] = (attrs["slices"] as (number | null)[][]).map(([start, stop, step]) => ({
      ...(start === null ? {} : { start }),
      ...(stop === null ? {} : { stop }),
      ...(step === null ? {} : { step }),
    }));
    return out(np.slice(x!, specs));
  },
  expand: ({ x }, attrs) => out(np.broadcastTo(x!, (attrs["resolved_size"] ?? attrs["size"]) as number[])),
  broadcast_to: ({ x }, attrs) => out(np.broadcastTo(x!, attrs["shape"] as number[])),
  mse_loss: ({ input, target }, attrs) =>
    out(nn.mseLoss(input!, target!, { reduction: reductionAttr(attrs) })),
  cross_entropy: ({ input, target }, attrs) =>
    out(
      nn.crossEntropy(input!, target!, {
        reduction: reductionAttr(attrs),
        labelSmoothing: (attrs["label_smoothing"] as number | undefined) ?? 0,
        ignoreIndex: (attrs["ignore_index"] as number | undefined) ?? -100,
      }),
    ),
  binary_cross_entropy_with_logits: ({ input, target }, attrs) =>
    out(nn.binaryCrossEntropyWithLogits(input!, target!, { reduction: reductionAttr(attrs) })),
  "nll_loss(log_softmax)": ({ input, target }, attrs) => {
    const logProbs = nn.logSoftmax(input!, { axis: attrs["log_softmax_dim"] as number });
    return { out: nn.nllLoss(logProbs, target!, { reduction: reductionAttr(attrs) }), log_softmax: logProbs };
  },
  nll_loss: ({ input, target }, attrs) =>
    out(nn.nllLoss(input!, target!, { reduction: reductionAttr(attrs) })),
};

function inputsOf(c: VjpCase, floatDtype: DType): Arrays {
  return Object.fromEntries(
    Object.entries(c.inputs).map(([k, g]) => [k, toArray(g, g.dtype === "int64" ? "int32" : floatDtype)]),
  );
}

/**
 * The op as a function of its float inputs only (integer targets are closed over), returning the outputs
 * that have a cotangent: the shape vjp differentiates.
 */
function differentiable(
  c: VjpCase,
  impl: OpImpl,
  inputs: Arrays,
): { names: string[]; f: (...xs: NdArray[]) => Arrays } {
  const names = Object.keys(c.inputs).filter((k) => c.inputs[k]!.dtype === "float64");
  const f = (...xs: NdArray[]): Arrays => {
    const all = { ...inputs, ...Object.fromEntries(names.map((n, i) => [n, xs[i]!])) };
    const outs = impl(all, c.attrs);
    return Object.fromEntries(Object.keys(c.cotangent).map((k) => [k, outs[k]!]));
  };
  return { names, f };
}

function checkForward(
  c: VjpCase,
  impl: OpImpl,
  floatDtype: DType,
  tolerance: (ref: GoldenArray) => Tolerance,
): void {
  const outs = impl(inputsOf(c, floatDtype), c.attrs);
  for (const [name, ref] of Object.entries(c.outputs)) {
    const got = outs[name];
    expect(got, `output ${name}`).toBeDefined();
    if (ref.dtype === "int64") {
      expect(got!.dtype).toBe("int32");
      expectClose(got!, ref, { atol: 0, rtol: 0 }, `${c.name}: output ${name}`);
    } else {
      expect(got!.dtype).toBe(floatDtype);
      expectClose(got!, ref, tolerance(ref), `${c.name}: output ${name}`);
    }
  }
  for (const [name, ref] of Object.entries(c.intermediates ?? {})) {
    if (outs[name] !== undefined)
      expectClose(outs[name]!, ref, tolerance(ref), `${c.name}: intermediate ${name}`);
  }
}

function checkGradients(
  c: VjpCase,
  impl: OpImpl,
  floatDtype: DType,
  tolerance: (ref: GoldenArray) => Tolerance,
): void {
  const inputs = inputsOf(c, floatDtype);
  const { names, f } = differentiable(c, impl, inputs);
  const [, vjpFn] = vjp(f, ...names.map((n) => inputs[n]!));
  const cotangent = Object.fromEntries(
    Object.entries(c.cotangent).map(([k, g]) => [k, toArray(g, floatDtype)]),
  );
  const grads = vjpFn(cotangent);
  expect(grads).toHaveLength(names.length);
  names.forEach((name, i) => {
    const ref = c.grads[name];
    if (ref === undefined) return; // PyTorch stored no gradient for it (a hard 0/1 target)
    expectClose(grads[i]!, ref, tolerance(ref), `${c.name}: grad ${name}`);
  });
  const missing = Object.keys(c.grads).filter((k) => !names.includes(k));
  expect(missing, "grads of inputs we did not differentiate").toEqual([]);
}

const float64Tolerance = (): Tolerance => FLOAT64_TOLERANCE;

/** float32: about 1e-4 relative, with an absolute floor scaled to the array's magnitude. */
function float32Tolerance(ref: GoldenArray): Tolerance {
  const scale = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return { atol: 1e-5 * Math.max(scale, 1), rtol: 1e-4 };
}

const CASES = FILES.map((file) => [file, loadVjpCases(file).filter((c) => !SKIPPED_OPS.has(c.op))] as const);

describe("golden helpers", () => {
  it("expectClose names the worst element, got and reference", () => {
    const ref: GoldenArray = { dtype: "float64", shape: [2, 2], data: [1, 2, 3.01, 4] };
    const got = np.array([1, 2, 3, 4.1], { shape: [2, 2], dtype: "float64" });
    expect(() => expectClose(got, ref, FLOAT64_TOLERANCE)).toThrow(
      /element \[1,1\] of \[2,2\] is 4.1, reference 4 /,
    );
    expect(() =>
      expectClose(
        np.array([Number.NaN], { dtype: "float64" }),
        { ...ref, shape: [1], data: [0] },
        FLOAT64_TOLERANCE,
      ),
    ).toThrow(/is NaN, reference 0/);
    expect(() => expectClose(got, { ...ref, shape: [4] }, FLOAT64_TOLERANCE)).toThrow(
      /shape \[2,2\] differs/,
    );
    expectClose(got, { ...ref, data: [1, 2, 3, 4.1 + 1e-12] }, FLOAT64_TOLERANCE);
  });

  it("toArray turns int64 into int32 and keeps shapes", () => {
    const t = toArray({ dtype: "int64", shape: [3], data: [1, 0, 2] });
    expect(t.dtype).toBe("int32");
    expect(toArray({ dtype: "float64", shape: [], data: [2.5] }).shape).toEqual([]);
    expect(toArray({ dtype: "float64", shape: [1, 2], data: [1, 2] }, "float32").dtype).toBe("float32");
  });
});

describe("golden coverage", () => {
  it("maps every op id of the tested files", () => {
    const unmapped = CASES.flatMap(([, cases]) => cases.map((c) => c.op)).filter(
      (op) => OPS[op] === undefined,
    );
    expect([...new Set(unmapped)]).toEqual([]);
  });
});

for (const [file, cases] of CASES) {
  describe(`golden ${file} (float64)`, () => {
    for (const c of cases) {
      const impl = OPS[c.op];
      if (impl === undefined) continue;
      it(`${c.name} [${c.op}] forward`, () => checkForward(c, impl, "float64", float64Tolerance));
      it(`${c.name} [${c.op}] vjp`, () => checkGradients(c, impl, "float64", float64Tolerance));
    }
  });

  describe(`golden ${file} (float32)`, () => {
    for (const c of cases) {
      const impl = OPS[c.op];
      if (impl === undefined) continue;
      it(`${c.name} [${c.op}] forward and vjp`, () => {
        checkForward(c, impl, "float32", float32Tolerance);
        checkGradients(c, impl, "float32", float32Tolerance);
      });
    }
  });
}
