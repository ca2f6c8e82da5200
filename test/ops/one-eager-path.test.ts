/**
 * One eager path: a primitive with a `lower` rule runs its lowered kernel eagerly too (ops/eager.ts), so
 * eager calls and jit plans give the same bits, on both backends, in float32 and float64: convolutions
 * and their two gradients, max pooling and its gradient, reductions, matmul, gathers and transposes.
 */
import { afterAll, describe, expect, it } from "vitest";
import { kernelCacheSize } from "../../src/backend/kernel-cache.js";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import type { DType } from "../../src/core/dtype.js";
import { primitives } from "../../src/core/primitive.js";
import { grad, jit, type NdArray, nn, np, setBackend } from "../../src/index.js";
import { implFromLower } from "../../src/ops/eager.js";
import { rng } from "../helpers/numeric.js";

function random(shape: number[], seed: number, dtype: DType): NdArray {
  const next = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return np.array(
    Array.from({ length: size }, () => next() * 2 - 1),
    { shape, dtype },
  );
}

/** The bits of every element, so that -0, NaN payloads and last-place differences all count. */
function bits(x: NdArray): string[] {
  return Array.from(x.toTypedArray() as ArrayLike<number>, (v) => (Object.is(v, -0) ? "-0" : v.toString()));
}

const programs: Record<string, (x: NdArray, w: NdArray) => NdArray> = {
  "conv2d, stride 2, padding, groups 2": (x, w) =>
    nn.conv2d(x, w, null, { stride: 2, padding: 1, groups: 2 }).sum(),
  "grad of conv2d in x and w (conv2d_input_grad, conv2d_weight_grad)": (x, w) => {
    const loss = (a: NdArray, b: NdArray) =>
      np.sum(np.tanh(nn.conv2d(a, b, null, { padding: [1, 2], dilation: 2, groups: 2 })));
    const [gx, gw] = grad(loss, { argnums: [0, 1] })(x, w) as [NdArray, NdArray];
    return np.concatenate([gx.reshape([-1]), gw.reshape([-1])]);
  },
  "max_pool2d and its gradient (argmax, pool_gather, pool_scatter_add)": (x) => {
    const pooled = (a: NdArray) => np.sum(np.square(nn.maxPool2d(a, 3, { stride: 2, padding: 1 })));
    return np.concatenate([nn.maxPool2d(x, 2).reshape([-1]), grad(pooled)(x).reshape([-1])]);
  },
  "reductions, matmul, transpose, take": (x) => {
    const m = x.reshape([x.shape[0]! * x.shape[1]!, -1]);
    const rows = np.take(m, np.array([2, 0, 1, 1], { dtype: "int32" }), { axis: 0 });
    return np.concatenate([
      np.sum(m, { axis: 0 }),
      np.max(m, { axis: 1 }),
      np.matmul(m, np.transpose(m)).reshape([-1]),
      rows.reshape([-1]),
    ]);
  },
};

describe("one eager path", () => {
  afterAll(() => setBackend("wasm"));

  it("every primitive with a lower rule takes its eager kernel from it", () => {
    // Control flow runs programs, not one kernel: eagerly op by op (each op on its own eager path), in a
    // jit plan as loops over sub-plans the same compiler makes (transforms/control-flow-common.ts).
    const runsPrograms = new Set(["scan", "switch", "while"]);
    const withLower = [...primitives().values()].filter(
      (p) => p.lower !== undefined && !runsPrograms.has(p.name),
    );
    expect(withLower.length).toBeGreaterThanOrEqual(15);
    expect(withLower.filter((p) => !implFromLower(p)).map((p) => p.name)).toEqual([]);
  });

  it("eager kernels are kept in the one kernel cache", () => {
    const before = kernelCacheSize().entries;
    const x = random([1, 1, 7, 5], 11, "float64");
    nn.maxPool2d(x, 3);
    expect(kernelCacheSize().entries).toBeGreaterThan(before);
  });

  const backends = simdSupported() ? (["js", "wasm"] as const) : (["js"] as const);
  for (const backendName of backends) {
    for (const dtype of ["float32", "float64"] as const) {
      for (const [name, f] of Object.entries(programs)) {
        it(`${name}: eager and jit give the same bits (${backendName}, ${dtype})`, () => {
          setBackend(backendName);
          const x = random([3, 4, 9, 8], 1, dtype);
          const w = random([6, 2, 3, 3], 2, dtype);
          const eager = bits(f(x, w));
          expect(bits(jit(f)(x, w))).toEqual(eager);
          expect(eager.some((v) => v !== "0")).toBe(true);
        });
      }
    }
  }
});
