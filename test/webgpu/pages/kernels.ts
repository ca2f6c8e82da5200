/// <reference lib="dom" />
/**
 * Every kind of WebGPU kernel a jit plan lowers to, against the same function jitted on the CPU (wasm)
 * backend, on shapes no workgroup tile divides: fused elementwise loops (unary and binary math,
 * comparisons, select, casts, broadcasts), reductions, transposes, matrix products (plain, transposed,
 * batched), int32 and bool values. Sets `window.pageResult` for test/webgpu/jit-webgpu.test.ts.
 */
import {
  backend,
  DeviceArray,
  DeviceArrayReadError,
  grad,
  jit,
  type NdArray,
  nn,
  np,
  random,
  setBackend,
} from "../../../src/index.js";

export interface KernelCase {
  readonly name: string;
  readonly backend: string;
  readonly shape: readonly number[];
  readonly cpuShape: readonly number[];
  /** max |gpu - cpu| / max(|cpu|, 1e-30) over the elements; -1 when the dtypes differ. */
  readonly relativeError: number;
  readonly dtype: string;
}

export interface KernelsResult {
  readonly backend: unknown;
  readonly cases: KernelCase[];
  readonly syncReadError: string;
  readonly eagerError: string;
  readonly float64Backend: string;
  readonly error: string | null;
}

const keys = random.split(random.key(7), 4);
const [k0, k1, k2, k3] = keys;
const a = random.normal(k0!, [37, 129]);
const b = random.normal(k1!, [37, 129]);
const col = random.normal(k2!, [37, 1]);
const cube = random.normal(k3!, [3, 70, 33]);
const ints = np
  .arange(0, 37 * 129, 1, { dtype: "int32" })
  .reshape([37, 129])
  .sub(2000);

const [k4, k5] = random.split(random.key(8), 2);
const images = random.normal(k4!, [3, 4, 13, 11]);
const filters = random.normal(k5!, [6, 2, 3, 2]);
const convCase = (x: NdArray, w: NdArray) =>
  nn.conv2d(x, w, null, { stride: 2, padding: 1, dilation: 2, groups: 2 });
/** x with NaN where it exceeds 1.5 (about 7% of normal samples). */
const withNans = (x: NdArray) => np.where(np.greater(x, 1.5), NaN, x);
const positive = (x: NdArray) => np.abs(x).add(0.25);
const UNARY: [string, (x: NdArray) => NdArray][] = [
  ["neg", np.negative],
  ["abs", np.abs],
  ["sign", np.sign],
  ["floor", np.floor],
  ["ceil", np.ceil],
  ["round", (x) => np.round(x.mul(3))],
  ["trunc", np.trunc],
  ["sqrt", (x) => np.sqrt(positive(x))],
  ["cbrt", np.cbrt],
  ["exp", np.exp],
  ["exp2", np.exp2],
  ["expm1", (x) => np.expm1(x.mul(0.01))],
  ["log", (x) => np.log(positive(x))],
  ["log2", (x) => np.log2(positive(x))],
  ["log10", (x) => np.log10(positive(x))],
  ["log1p", (x) => np.log1p(np.abs(x))],
  ["sin", np.sin],
  ["cos", np.cos],
  ["tan", (x) => np.tan(x.mul(0.4))],
  ["asin", (x) => np.asin(np.tanh(x))],
  ["acos", (x) => np.acos(np.tanh(x))],
  ["atan", np.atan],
  ["sinh", np.sinh],
  ["cosh", np.cosh],
  ["tanh", np.tanh],
  ["asinh", np.asinh],
  ["acosh", (x) => np.acosh(positive(x).add(1))],
  ["atanh", (x) => np.atanh(np.tanh(x).mul(0.9))],
  ["sigmoid", nn.sigmoid],
  ["relu", nn.relu],
  ["gelu", (x) => nn.gelu(x)],
  ["erf", np.erf],
];
const BINARY: [string, (x: NdArray, y: NdArray) => NdArray][] = [
  ["add", np.add],
  ["sub", np.subtract],
  ["mul", np.multiply],
  ["div", (x, y) => np.divide(x, positive(y))],
  ["maximum", np.maximum],
  ["minimum", np.minimum],
  ["pow", (x, y) => np.power(positive(x), y)],
  ["pow of a negative base by integers", (x, y) => np.power(x, np.round(y.mul(2)))],
  ["mod", (x, y) => np.mod(x.mul(4), y)],
  ["floorDivide", (x, y) => np.floorDivide(x.mul(4), y)],
  ["atan2", np.atan2],
  ["hypot", np.hypot],
  ["where of a comparison", (x, y) => np.where(np.greater(x, y), x, y.mul(-1))],
  ["a bool output", (x, y) => np.less(x, y)],
];

const CASES: [string, (...args: NdArray[]) => NdArray, NdArray[]][] = [
  ...UNARY.map(([name, f]): [string, (...args: NdArray[]) => NdArray, NdArray[]] => [name, f, [a]]),
  ...BINARY.map(([name, f]): [string, (...args: NdArray[]) => NdArray, NdArray[]] => [name, f, [a, b]]),
  ["add, mul with a broadcast column", (x, y, c) => x.add(y).mul(c), [a, b, col]],
  ["int32 arithmetic", (i) => i.mul(3).add(i).sub(7), [ints]],
  ["int32 mod and floorDivide", (i) => np.mod(i, 7).add(np.floorDivide(i, -5)), [ints]],
  ["int32 to float32 and back", (i) => i.astype("float32").mul(0.5).astype("int32"), [ints]],
  ["sum over all axes", (x) => np.sum(x), [cube]],
  ["sum over axis 1", (x) => np.sum(x, { axis: 1 }), [cube]],
  ["max over axes 0 and 2", (x) => np.max(x, { axis: [0, 2] }), [cube]],
  ["min over the last axis, keepdims", (x) => np.min(x, { axis: -1, keepdims: true }), [cube]],
  ["mean of squares (a fused reduction)", (x) => np.mean(x.mul(x), { axis: 0 }), [cube]],
  ["int32 sum", (i) => np.sum(i, { axis: 0 }), [ints]],
  ["maximum and sign with NaNs", (x, y) => np.sign(np.maximum(withNans(x), y)), [a, b]],
  ["max over axis 0 with NaNs", (x) => np.max(withNans(x), { axis: 0 }), [a]],
  ["max pool with NaNs", (x) => nn.maxPool2d(withNans(x), 2), [images]],
  ["argmax over axis 1", (x) => np.argmax(x, { axis: 1 }), [cube]],
  ["argmin over axis 0 with NaNs", (x) => np.argmin(withNans(x), { axis: 0 }), [a]],
  ["int32 argmax over the last axis", (i) => np.argmax(np.mod(i, 13), { axis: -1 }), [ints]],
  ["transpose (2, 0, 1)", (x) => np.transpose(x, [2, 0, 1]).add(0), [cube]],
  ["matmul 37x129 @ 129x37", (x, y) => np.matmul(x, np.transpose(y)), [a, b]],
  ["matmul Aᵀ @ B", (x, y) => np.matmul(np.transpose(x), y), [a, b]],
  ["int32 matmul Aᵀ @ B", (i) => np.matmul(np.transpose(i), np.mod(i, 11)), [ints]],
  ["batched matmul 3x70x33 @ 3x33x70", (x) => np.matmul(x, np.transpose(x, [0, 2, 1])), [cube]],
  ["conv2d, stride 2, padding 1, dilation 2, 2 groups", (x, w) => convCase(x, w), [images, filters]],
  [
    "conv2d's input gradient",
    (x, w) => grad((xx: NdArray) => np.sum(np.sin(convCase(xx, w))))(x),
    [images, filters],
  ],
  [
    "conv2d's weight gradient",
    (x, w) => grad((ww: NdArray) => np.sum(np.sin(convCase(x, ww))))(w),
    [images, filters],
  ],
  ["max pool 3x3, stride 2, padding 1", (x) => nn.maxPool2d(x, 3, { stride: 2, padding: 1 }), [images]],
  [
    "max pool's gradient (overlapping windows)",
    (x) => grad((xx: NdArray) => np.sum(np.sin(nn.maxPool2d(xx, 3, { stride: 2, padding: 1 }))))(x),
    [images],
  ],
  [
    "softmax cross-entropy of a product",
    (x, y) =>
      nn.crossEntropy(np.matmul(x, np.transpose(y)), np.arange(37, undefined, undefined, { dtype: "int32" })),
    [a, b],
  ],
];

function relativeError(gpu: ArrayLike<number>, cpu: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < cpu.length; i++) {
    if (!Number.isNaN(cpu[i]!)) scale = Math.max(scale, Math.abs(cpu[i]!));
    const d = Math.abs(gpu[i]! - cpu[i]!);
    worst = Number.isNaN(d)
      ? Number.isNaN(gpu[i]!) && Number.isNaN(cpu[i]!)
        ? worst
        : Infinity
      : Math.max(worst, d);
  }
  return worst / Math.max(scale, 1e-30);
}

async function main(): Promise<KernelsResult> {
  const info = await setBackend("webgpu");
  const cases: KernelCase[] = [];
  for (const [name, f, args] of CASES) {
    const gpu = jit(f, { backend: "webgpu" });
    const cpu = jit(f, { backend: "wasm" });
    const where = gpu.lower(...args).backend;
    const out = gpu(...args);
    const expected = cpu(...args);
    const got = out instanceof DeviceArray ? await out.data() : out.toTypedArray();
    cases.push({
      name,
      backend: where,
      shape: out.shape,
      cpuShape: expected.shape,
      dtype: `${out.dtype}/${expected.dtype}`,
      relativeError: out.dtype === expected.dtype ? relativeError(got, expected.toTypedArray()) : -1,
    });
  }
  const onDevice = jit((x: NdArray) => x.add(1), { backend: "webgpu" })(a);
  let syncReadError = "";
  try {
    onDevice.toTypedArray();
  } catch (e) {
    syncReadError =
      e instanceof DeviceArrayReadError ? e.message : `not a DeviceArrayReadError: ${String(e)}`;
  }
  let eagerError = "";
  try {
    np.exp(onDevice);
  } catch (e) {
    eagerError = e instanceof DeviceArrayReadError ? e.message : `not a DeviceArrayReadError: ${String(e)}`;
  }
  const float64Backend = jit((x: NdArray) => x.mul(2), { backend: "webgpu" }).lower(
    a.astype("float64"),
  ).backend;
  return { backend: info ?? backend(), cases, syncReadError, eagerError, float64Backend, error: null };
}

main()
  .catch(
    (e: unknown): KernelsResult => ({
      backend: null,
      cases: [],
      syncReadError: "",
      eagerError: "",
      float64Backend: "",
      error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e),
    }),
  )
  .then((result) => {
    (window as unknown as { pageResult: KernelsResult }).pageResult = result;
  });
