/**
 * The SVD's rotations in WebAssembly SIMD (backend/wasm/plane-rotations.ts) against the JS loops
 * (rowMajorRotations of backend/js/linalg-svd-bdsqr.ts): the bidiagonal QR of one random bidiagonal
 * matrix, its rotations applied to identity matrices both ways, give the same bits, for orders that fill
 * the 8-row chunks exactly and that leave them padded, and the vectors stay orthonormal.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  bidiagonalSvd,
  bidiagonalSvdScratch,
  rowMajorRotations,
} from "../../src/backend/js/linalg-svd-bdsqr.js";
import { standaloneContext } from "../../src/backend/plan-memory.js";
import { planVectorRotations, ROTATION_CHUNK } from "../../src/backend/wasm/plane-rotations.js";
import { backend, setBackend } from "../../src/index.js";

const initial = backend();
afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

/** A deterministic bidiagonal matrix of order n: d in [0.5, 1.5), e in [-1, 1). */
function bidiagonal(n: number, seed: number): [Float64Array, Float64Array] {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const d = Float64Array.from({ length: n }, () => next() + 0.5);
  const e = Float64Array.from({ length: n - 1 }, () => 2 * next() - 1);
  return [d, e];
}

describe("the bidiagonal QR's rotations in wasm", () => {
  it("give the JS loops' bits (orders 37 and 64: chunks padded and exact), and orthonormal vectors", () => {
    setBackend("wasm");
    for (const n of [37, 64]) {
      const [d0, e0] = bidiagonal(n, n);
      // JS: identity matrices, one vector per column, rotated in place.
      const u = new Float64Array(n * n);
      const v = new Float64Array(n * n);
      for (let j = 0; j < n; j++) u[j * n + j] = v[j * n + j] = 1;
      const [d1, e1] = [d0.slice(), e0.slice()];
      const js = bidiagonalSvdScratch(
        rowMajorRotations({ data: u, offset: 0, rows: n, stride: n }, n),
        rowMajorRotations({ data: v, offset: 0, rows: n, stride: n }, n),
      );
      expect(bidiagonalSvd(d1, e1, n, js)).toBe(true);
      // Wasm: the same identities, one vector per row of the plan memory.
      const context = standaloneContext();
      const ur = planVectorRotations(context, n, n, n)!;
      const vr = planVectorRotations(context, n, n, n)!;
      expect(ur.stride % ROTATION_CHUNK).toBe(0);
      for (const rows of [ur, vr]) for (let j = 0; j < n; j++) rows.data()[j * rows.stride + j] = 1;
      const [d2, e2] = [d0.slice(), e0.slice()];
      expect(bidiagonalSvd(d2, e2, n, bidiagonalSvdScratch(ur.target, vr.target))).toBe(true);
      expect(Array.from(d2)).toEqual(Array.from(d1));
      let differing = 0;
      let gram = 0;
      for (const [rows, cols] of [
        [ur, u],
        [vr, v],
      ] as const) {
        const data = rows.data();
        for (let r = 0; r < n; r++)
          for (let j = 0; j < n; j++) if (data[j * rows.stride + r] !== cols[r * n + j]) differing++;
        // Vectors i and j: orthonormal.
        for (let i = 0; i < n; i++)
          for (let j = 0; j < n; j++) {
            let dot = 0;
            for (let r = 0; r < n; r++) dot += data[i * rows.stride + r]! * data[j * rows.stride + r]!;
            gram = Math.max(gram, Math.abs(dot - (i === j ? 1 : 0)));
          }
      }
      expect(differing).toBe(0);
      expect(gram).toBeLessThan(1e-13);
    }
  });

  it("are not used where the plan memory is not wasm's", () => {
    setBackend("js");
    expect(planVectorRotations(standaloneContext(), 40, 40, 40)).toBeNull();
  });
});
