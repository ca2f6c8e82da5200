/**
 * np.linalg.qr and lax.linalg.qr (issue 20): values and vjps against torch.linalg.qr in float64
 * (test/golden/gen_linalg_qr_eigh.py; LAPACK's signs, so the factors compare directly), the
 * reconstruction Q R = A with Qᵀ Q = I and R upper triangular on random tall, square and wide sizes
 * (fast-check), modes, errors, the tall complete derivative's refusal, float32, jit and vmap; the blocked
 * kernel (compact WY, GEMM updates) against the same torch data with small panels, and np.linalg.qr above
 * its crossover (tall, wide, batched, complete) against the unblocked kernel and by reconstruction.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { QR_BLOCK_MIN, type QrBlocking, qrKernel } from "../../src/backend/js/linalg-qr-blocked.js";
import { standaloneContext } from "../../src/backend/plan-memory.js";
import { DTypeError } from "../../src/core/dtype.js";
import { grad, jit, lax, type NdArray, np, ShapeError, vjp, vmap } from "../../src/index.js";
import { qrPrim } from "../../src/ops/linalg-qr.js";
import { expectClose, FLOAT64_TOLERANCE, loadGolden, toArray } from "../golden/golden.js";
import type { LinalgGoldenCase } from "../helpers/linalg-golden.js";
import { checkGradients, expectError, rand } from "../helpers/op-checks.js";

const golden = (loadGolden("linalg_qr_eigh.json").cases as unknown as LinalgGoldenCase[]).filter(
  (c) => c.op === "qr",
);

const maxAbs = (x: NdArray): number => np.max(np.abs(x)).item();

describe("qr against torch.linalg.qr (float64, 1e-9 relative)", () => {
  it("covers tall, square and wide, batched and not, every mode", () => {
    const names = golden.map((c) => c.name);
    for (const name of [
      "qr_reduced_3x5",
      "qr_reduced_2x2x3x4",
      "qr_complete_5x3",
      "qr_complete_3x5",
      "qr_r_2x3x4",
      "qr_reduced_80x64",
      "qr_reduced_2x20x30",
      "qr_complete_40x27",
    ])
      expect(names).toContain(name);
  });
  for (const c of golden) {
    it(c.name, () => {
      const a = toArray(c.inputs["a"]!);
      const mode = c.attrs["mode"] as "reduced" | "complete" | "r";
      if (mode === "r") {
        const f = (x: NdArray) => np.linalg.qr(x, "r");
        expectClose(f(a), c.outputs["r"]!, FLOAT64_TOLERANCE, "r");
        const [, back] = vjp(f, a);
        expectClose(back(toArray(c.cotangent!["r"]!))[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "grad a");
        return;
      }
      const f = (x: NdArray) => np.linalg.qr(x, mode);
      const [q, r] = f(a);
      expectClose(q, c.outputs["q"]!, FLOAT64_TOLERANCE, "q");
      expectClose(r, c.outputs["r"]!, FLOAT64_TOLERANCE, "r");
      if (c.kind === "values") return;
      const [, back] = vjp(f, a);
      const ct: [NdArray, NdArray] = [toArray(c.cotangent!["q"]!), toArray(c.cotangent!["r"]!)];
      expectClose(back(ct)[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "grad a");
      const [, backLax] = vjp((x: NdArray) => lax.linalg.qr(x, { fullMatrices: mode === "complete" }), a);
      expectClose(backLax(ct)[0]!, c.grads!["a"]!, FLOAT64_TOLERANCE, "lax grad a");
    });
  }
});

const shapes = fc.record({
  batch: fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 2 }),
  m: fc.integer({ min: 1, max: 7 }),
  n: fc.integer({ min: 1, max: 7 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
  complete: fc.boolean(),
  scale: fc.constantFrom(1, 1e-3, 1e4),
});

describe("qr reconstructs: Q R = A, Qᵀ Q = I, R upper triangular", () => {
  it("on random tall, square and wide matrices of sizes 1 to 7, batched and not, both modes", () => {
    fc.assert(
      fc.property(shapes, ({ batch, m, n, seed, complete, scale }) => {
        const a = rand([...batch, m, n], seed).mul(scale);
        const [q, r] = np.linalg.qr(a, complete ? "complete" : "reduced");
        const k = complete ? m : Math.min(m, n);
        expect(q.shape).toEqual([...batch, m, k]);
        expect(r.shape).toEqual([...batch, k, n]);
        expect(maxAbs(np.subtract(np.matmul(q, r), a)) / scale).toBeLessThan(1e-14 * (m + n));
        const gram = np.matmul(np.swapaxes(q, -1, -2), q);
        expect(maxAbs(np.subtract(gram, np.eye(k, k, { dtype: "float64" })))).toBeLessThan(1e-14 * (m + n));
        // Exactly zero below the diagonal.
        expect(maxAbs(np.tril(r, { k: -1 }))).toBe(0);
        expect(maxAbs(np.subtract(np.linalg.qr(a, "r"), np.linalg.qr(a)[1]))).toBe(0);
      }),
      { numRuns: 80 },
    );
  });

  it("signs are LAPACK's: R's diagonal is -sign(a[k, k]) times a norm; a column already zero below keeps its sign", () => {
    const [q, r] = np.linalg.qr(
      np.array(
        [
          [3, 1],
          [4, 2],
        ],
        { dtype: "float64" },
      ),
    );
    expectClose(
      r,
      np.array(
        [
          [-5, -2.2],
          [0, 0.4],
        ],
        { dtype: "float64" },
      ),
      { atol: 1e-15, rtol: 1e-15 },
    );
    expectClose(
      q,
      np.array(
        [
          [-0.6, -0.8],
          [-0.8, 0.6],
        ],
        { dtype: "float64" },
      ),
      { atol: 1e-15, rtol: 1e-15 },
    );
    const [qd, rd] = np.linalg.qr(
      np.array(
        [
          [2, 1],
          [0, -3],
        ],
        { dtype: "float64" },
      ),
    );
    expectClose(qd, np.eye(2, 2, { dtype: "float64" }), { atol: 0, rtol: 0 });
    expectClose(
      rd,
      np.array(
        [
          [2, 1],
          [0, -3],
        ],
        { dtype: "float64" },
      ),
      { atol: 0, rtol: 0 },
    );
  });

  it("float32 operands give float32 factors close to the float64 ones; integer input computes in float32", () => {
    const a = rand([2, 5, 3], 3);
    const [q64, r64] = np.linalg.qr(a);
    const [q32, r32] = np.linalg.qr(a.astype("float32"));
    expect([q32.dtype, r32.dtype]).toEqual(["float32", "float32"]);
    expect(maxAbs(np.subtract(q32.astype("float64"), q64))).toBeLessThan(1e-6);
    expect(maxAbs(np.subtract(r32.astype("float64"), r64))).toBeLessThan(1e-6);
    expect(
      np.linalg.qr(
        np.array(
          [
            [1, 2],
            [3, 4],
          ],
          { dtype: "int32" },
        ),
      )[0].dtype,
    ).toBe("float32");
  });

  it("NaN in the first column gives NaN factors (as numpy); empty matrices give empty factors", () => {
    const [q, r] = np.linalg.qr(
      np.array(
        [
          [Number.NaN, 1],
          [2, 3],
        ],
        { dtype: "float64" },
      ),
    );
    expect(Number.isNaN(np.sum(q).item()) && Number.isNaN(np.sum(r).item())).toBe(true);
    const [q0, r0] = np.linalg.qr(np.zeros([3, 0], { dtype: "float64" }), "complete");
    expect(q0.shape).toEqual([3, 3]);
    expect(r0.shape).toEqual([3, 0]);
    expectClose(q0, np.eye(3, 3, { dtype: "float64" }), { atol: 0, rtol: 0 });
  });
});

/** Q and R of `a` [..., m, n] by the kernel itself, blocked as `blocking` says (Infinity: unblocked). */
function kernelQr(a: NdArray, fullMatrices: boolean, blocking: QrBlocking): [q: NdArray, r: NdArray] {
  const shape = a.shape;
  const [m, n] = [shape[shape.length - 2]!, shape[shape.length - 1]!];
  const lead = shape.slice(0, -2);
  const batch = lead.reduce((x, y) => x * y, 1);
  const k = fullMatrices ? m : Math.min(m, n);
  const q = new Float64Array(batch * m * k);
  const r = new Float64Array(batch * k * n);
  qrKernel(batch, m, n, k, standaloneContext(), blocking)(a.toTypedArray(), q, r);
  return [np.array(q, { shape: [...lead, m, k] }), np.array(r, { shape: [...lead, k, n] })];
}

const UNBLOCKED: QrBlocking = { block: 1, blockMin: Number.POSITIVE_INFINITY };

describe("blocked Householder QR (dgeqrf/dorgqr: compact WY, GEMM trailing updates)", () => {
  it("np.linalg.qr is blocked from 64 reflectors on (so qr_reduced_80x64 above went through it)", () => {
    expect(QR_BLOCK_MIN).toBeLessThanOrEqual(64);
  });

  // Small panels put every golden case through the blocked loops, with several panels and a ragged last one.
  for (const block of [3, 8]) {
    it(`matches torch.linalg.qr on every golden case with panels of ${block} (float64, 1e-9 relative)`, () => {
      for (const c of golden) {
        const mode = c.attrs["mode"] as "reduced" | "complete" | "r";
        const [q, r] = kernelQr(toArray(c.inputs["a"]!), mode === "complete", { block, blockMin: 1 });
        expectClose(r, c.outputs["r"]!, FLOAT64_TOLERANCE, `${c.name} r`);
        if (mode !== "r") expectClose(q, c.outputs["q"]!, FLOAT64_TOLERANCE, `${c.name} q`);
      }
    });
  }

  const blockedShapes: [shape: number[], mode: "reduced" | "complete"][] = [
    [[150, 70], "reduced"],
    [[70, 130], "reduced"],
    [[2, 72, 72], "reduced"],
    [[100, 70], "complete"],
    [[66, 90], "complete"],
  ];
  for (const [shape, mode] of blockedShapes) {
    it(`${mode} ${shape.join("x")}: Q R = A, Qᵀ Q = I, R upper triangular, the unblocked kernel's factors`, () => {
      const a = rand(
        shape,
        shape.reduce((x, y) => x * y, 7),
      );
      const [m, n] = shape.slice(-2) as [number, number];
      const [q, r] = np.linalg.qr(a, mode);
      const k = mode === "complete" ? m : Math.min(m, n);
      expect(q.shape).toEqual([...shape.slice(0, -2), m, k]);
      expect(r.shape).toEqual([...shape.slice(0, -2), k, n]);
      expect(maxAbs(np.subtract(np.matmul(q, r), a))).toBeLessThan(1e-13);
      const gram = np.matmul(np.swapaxes(q, -1, -2), q);
      expect(maxAbs(np.subtract(gram, np.eye(k, k, { dtype: "float64" })))).toBeLessThan(1e-13);
      expect(maxAbs(np.tril(r, { k: -1 }))).toBe(0);
      const [qRef, rRef] = kernelQr(a, mode === "complete", UNBLOCKED);
      expect(maxAbs(np.subtract(q, qRef))).toBeLessThan(1e-12);
      expect(maxAbs(np.subtract(r, rRef))).toBeLessThan(1e-12);
    });
  }

  it("float32 operands and NaN input above the crossover: float32 factors near the float64 ones, NaN factors", () => {
    const a = rand([80, 70], 5);
    const [q64, r64] = np.linalg.qr(a);
    const [q32, r32] = np.linalg.qr(a.astype("float32"));
    expect([q32.dtype, r32.dtype]).toEqual(["float32", "float32"]);
    expect(maxAbs(np.subtract(q32.astype("float64"), q64))).toBeLessThan(1e-5);
    expect(maxAbs(np.subtract(r32.astype("float64"), r64))).toBeLessThan(1e-5);
    const data = a.toTypedArray().slice();
    data[3 * 70 + 5] = Number.NaN;
    const [q, r] = np.linalg.qr(np.array(data, { shape: [80, 70] }));
    expect(Number.isNaN(np.sum(q).item()) && Number.isNaN(np.sum(r).item())).toBe(true);
  });
});

describe("derivatives", () => {
  const tall = np.add(rand([5, 3], 21), np.eye(5, 3, { dtype: "float64" }).mul(3));
  const wide = np.add(rand([3, 5], 22), np.eye(3, 5, { dtype: "float64" }).mul(3));

  it("tall, square and wide, both outputs, against finite differences", () => {
    for (const a of [tall, wide, np.add(rand([4, 4], 23), np.eye(4, 4, { dtype: "float64" }).mul(3))]) {
      checkGradients((x) => np.linalg.qr(x)[0], [a]);
      checkGradients((x) => np.linalg.qr(x)[1], [a]);
    }
  });

  it("the complete decomposition of a tall matrix has no derivative: a clear error", () => {
    expectError(
      () => grad((x: NdArray) => np.sum(np.linalg.qr(x, "complete")[0]))(tall),
      Error,
      "qr",
      "complete",
      "m > n",
    );
    // Its values, and the complete derivative of a wide matrix, are fine.
    expect(grad((x: NdArray) => np.sum(np.linalg.qr(x, "complete")[1]))(wide).shape).toEqual([3, 5]);
  });
});

describe("errors", () => {
  it("rank below 2, bad modes and non-float primitive operands are typed errors naming the function", () => {
    expectError(() => np.linalg.qr(np.zeros([3])), ShapeError, "qr", "[..., m, n]", "[3]");
    expectError(() => lax.linalg.qr(np.zeros([])), ShapeError, "lax.linalg.qr");
    expectError(() => np.linalg.qr(np.zeros([2, 2]), "full" as "complete"), RangeError, "qr", "mode");
    expectError(
      () => lax.linalg.qr(np.zeros([2, 2]), { mode: "r" } as never),
      TypeError,
      "lax.linalg.qr",
      "mode",
    );
    expectError(
      () => qrPrim.bind([np.zeros([2, 2], { dtype: "int32" })], { fullMatrices: false }),
      DTypeError,
      "qr",
      "int32",
    );
  });
});

describe("transforms", () => {
  const a = rand([3, 4, 2], 9);

  it("jit and vmap give the eager values; lax.linalg.qr is complete by default", () => {
    const f = (x: NdArray) => np.linalg.qr(x)[0];
    expectClose(jit(f)(a), f(a), { atol: 0, rtol: 0 });
    expectClose(vmap(f)(a), f(a), { atol: 0, rtol: 0 });
    expectClose(
      vmap((x: NdArray) => np.linalg.qr(x, "r"), { inAxes: [2] })(np.moveaxis(a, 0, 2)),
      np.linalg.qr(a, "r"),
      { atol: 0, rtol: 0 },
    );
    expect(lax.linalg.qr(a)[0].shape).toEqual([3, 4, 4]);
  });
});
