/**
 * Eager matrix transposes are deferred (ConcreteArray.deferredTranspose): an eager matmul reads the
 * operand transposed in place, transposing back gives the array it came from, and anything else that
 * reads the values gets them written out; the deferred views of a donated source read a copy of its
 * values made before the donation.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ConcreteArray } from "../../src/core/array.js";
import { backend, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";
import { rng } from "../helpers/numeric.js";

const initial = backend();
afterEach(() => {
  if (initial.name === "js") setBackend("js");
  else setBackend("wasm", { threads: initial.threads });
});

function random(shape: number[], seed: number, dtype: "float32" | "float64" = "float64"): NdArray {
  const next = rng(seed);
  const size = shape.reduce((a, b) => a * b, 1);
  return np.array(
    Array.from({ length: size }, () => next()),
    { shape, dtype },
  );
}

/** Row-major [..., m, k] @ [..., k, n] in float64 JS loops, from the values as nested arrays. */
function referenceMatmul(a: NdArray, b: NdArray): number[] {
  const av = Array.from(a.astype("float64").toTypedArray());
  const bv = Array.from(b.astype("float64").toTypedArray());
  const r = a.ndim;
  const [m, k, n] = [a.shape[r - 2]!, a.shape[r - 1]!, b.shape[r - 1]!];
  const batch = av.length / (m * k);
  const out: number[] = [];
  for (let t = 0; t < batch; t++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += av[t * m * k + i * k + p]! * bv[t * k * n + p * n + j]!;
        out.push(s);
      }
  return out;
}

function expectNear(got: NdArray, want: number[], tol: number): void {
  const g = Array.from(got.astype("float64").toTypedArray());
  expect(g.length).toBe(want.length);
  g.forEach((v, i) => {
    expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]!)));
  });
}

describe.each(["js", "wasm"] as const)("deferred transposes on the %s backend", (kind) => {
  it("matmul with either operand, or both, transposed: the product of the written-out transposes", () => {
    setBackend(kind);
    for (const dtype of ["float64", "float32"] as const) {
      const tol = dtype === "float64" ? 1e-13 : 1e-5;
      for (const [m, k, n] of [
        [3, 5, 4],
        [1, 400, 120],
        [70, 33, 65],
        [300, 257, 1],
      ] as const) {
        const a = random([k, m], m + k, dtype); // stored transposed: aᵀ is [m, k]
        const b = random([n, k], n + k + 1, dtype); // bᵀ is [k, n]
        const aT = np.transpose(a);
        const bT = np.transpose(b);
        expect((aT as ConcreteArray).pendingTransposeOf === a).toBe(true);
        const aRows = np.transpose(a).add(0); // written out (an elementwise kernel reads it)
        const bRows = np.transpose(b).add(0);
        expectNear(np.matmul(aT, bRows), referenceMatmul(aRows, bRows), tol);
        expectNear(np.matmul(aRows, bT), referenceMatmul(aRows, bRows), tol);
        expectNear(np.matmul(aT, bT), referenceMatmul(aRows, bRows), tol);
        // The transposes read by matmul were never written, but for a GEMV product (n = 1), which the
        // GEMV kernel sums in its lanes from the written-out operands, as a jit plan does.
        expect((bT as ConcreteArray).pendingTransposeOf === (n === 1 ? undefined : b)).toBe(true);
      }
    }
    // Batched operands ([2, k, m]ᵀ @ [2, k, n]) and GEMV shapes: the transposes are written out (as jit does).
    const a = random([2, 6, 3], 5);
    const b = random([2, 6, 4], 6);
    expectNear(
      np.matmul(np.swapaxes(a, -1, -2), b),
      referenceMatmul(np.swapaxes(a, -1, -2).add(0), b),
      1e-13,
    );
  });

  it("(xᵀ)ᵀ is x itself, and reads of a transpose see its values", () => {
    setBackend(kind);
    const x = random([3, 4], 9);
    const t = np.transpose(x);
    expect(np.transpose(t) === x).toBe(true);
    expect(t.toArray()).toEqual(
      Array.from({ length: 4 }, (_, j) =>
        Array.from({ length: 3 }, (_, i) => (x.toArray() as number[][])[i]![j]),
      ),
    );
    // Written out now: transposing back is a new array with x's values.
    const back = np.transpose(t);
    expect(back === x).toBe(false);
    expect(back.toArray()).toEqual(x.toArray());
    expect(np.reshape(np.transpose(x), [12]).toArray()).toEqual((t.toArray() as number[][]).flat());
  });

  it("the deferred transposes of a source donated to a jitted call keep its values", () => {
    setBackend(kind);
    const w = random([3, 5], 12);
    const before = w.toArray() as number[][];
    const wT = np.transpose(w);
    expect((wT as ConcreteArray).pendingTransposeOf === w).toBe(true);
    // The step writes its output over w's buffer (donated).
    const step = jit((p: NdArray) => p.mul(-2), { donateArgnums: [0] });
    const next = step(w);
    expect((w as ConcreteArray).isDonated).toBe(true);
    expect(next.toArray()).toEqual(before.map((r) => r.map((v) => v * -2)));
    expect(wT.toArray()).toEqual(Array.from({ length: 5 }, (_, j) => before.map((r) => r[j]!)));
  });
});

describe("deferred broadcasts", () => {
  it("the deferred broadcasts of a source donated to a jitted call keep its values, read by a wasm loop too", () => {
    for (const kind of ["js", "wasm"] as const) {
      setBackend(kind);
      const b = random([1, 3], 21);
      const before = (b.toArray() as number[][])[0]!;
      const wide = np.broadcastTo(b, [4, 3]);
      expect((wide as ConcreteArray).pendingBroadcastOf?.source === b).toBe(true);
      const next = jit((p: NdArray) => p.mul(3), { donateArgnums: [0] })(b);
      expect((b as ConcreteArray).isDonated).toBe(true);
      expect(next.toArray()).toEqual([before.map((v) => v * 3)]);
      // Many views of one source (a bias used at every step): each still reads the values it was made of.
      const nextValues = np.array(next.toTypedArray(), { shape: [...next.shape], dtype: next.dtype });
      const views = Array.from({ length: 50 }, () => np.broadcastTo(next, [4096, 3]));
      const next2 = jit((p: NdArray) => p.mul(2), { donateArgnums: [0] })(next);
      expect((next as ConcreteArray).isDonated).toBe(true);
      expect(next2.toArray()).toEqual([before.map((v) => v * 6)]);
      const expected = np.add(np.broadcastTo(nextValues, [4096, 3]), 1).toArray();
      for (const v of views.slice(0, 3)) expect(np.add(v, 1).toArray()).toEqual(expected);
      expect(wide.toArray()).toEqual([before, before, before, before]);
    }
  });
});

describe("the eager weight gradient xᵀ @ ct", () => {
  it("is computed as (ctᵀ @ x)ᵀ, deferred: transposing it back moves no data, and the bits are jit's", () => {
    setBackend("wasm", { threads: 1 });
    for (const dtype of ["float32", "float64"] as const) {
      for (const [batch, inputs, outputs] of [
        [1, 400, 120],
        [32, 400, 120],
        [7, 33, 65],
      ] as const) {
        const x = random([batch, inputs], batch + inputs, dtype);
        const ct = random([batch, outputs], batch + outputs + 1, dtype);
        const product = np.matmul(np.transpose(x), ct); // [inputs, outputs]
        const weightGrad = np.transpose(product); // [outputs, inputs]: what the weight's transpose rule gives
        expect((product as ConcreteArray).pendingTransposeOf === weightGrad).toBe(true);
        expect((weightGrad as ConcreteArray).pendingTransposeOf).toBe(undefined);
        const jitted = jit((a: NdArray, b: NdArray) => np.transpose(np.matmul(np.transpose(a), b)))(x, ct);
        expect(Array.from(weightGrad.toTypedArray())).toEqual(Array.from(jitted.toTypedArray()));
        const tol = dtype === "float64" ? 1e-13 : 1e-5;
        expectNear(product, referenceMatmul(np.transpose(x).add(0), ct), tol);
      }
    }
  });

  it("a product larger than its operands only: an ordinary product", () => {
    setBackend("wasm", { threads: 1 });
    const x = random([64, 8], 3);
    const ct = random([64, 10], 4);
    const product = np.matmul(np.transpose(x), ct); // 8x64 + 64x10 > 8x10
    expect((product as ConcreteArray).pendingTransposeOf).toBe(undefined);
    expectNear(product, referenceMatmul(np.transpose(x).add(0), ct), 1e-13);
  });
});
