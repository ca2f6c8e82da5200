import { describe, expect, it } from "vitest";
import type { FusedGroup } from "../../src/compiler/fusion.js";
import { grad, jit, type Array as NdArray, nn, np } from "../../src/index.js";
import { seededArray } from "../helpers/numeric.js";

/** The fused loops of f's plan, in order. */
function loopsOf(f: (...a: NdArray[]) => unknown, args: NdArray[]): FusedGroup[] {
  return jit(f)
    .lower(...args)
    .executable.steps.filter((s): s is FusedGroup => s.kind === "fused");
}

function expectSameBits(got: NdArray, want: NdArray): void {
  const a = got.toTypedArray();
  const b = want.toTypedArray();
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++)
    if (!Object.is(a[i], b[i])) throw new Error(`element ${i}: jit ${a[i]}, eager ${b[i]}`);
}

// A loop that reads a value another loop computed with a few adds and multiplies computes it again from
// what is in memory anyway, where that costs no extra load (src/compiler/fusion.ts, recomputeCheapValues).
describe("cheap values recomputed by the loops that read them", () => {
  const x = seededArray([8, 16], 1);
  const w = seededArray([16, 16], 2);
  const y = seededArray([8, 16], 3);

  it("a value of one input is recomputed from it, not stored by its loop", () => {
    // a = 2x + 1 is read after the matmul: the second loop reads x instead of a.
    const f = (p: NdArray, q: NdArray) => {
      const a = p.mul(2).add(1);
      return np.matmul(np.tanh(a), q).mul(a);
    };
    const [first, second] = loopsOf(f, [x, w]);
    expect(first!.outputs).toHaveLength(1); // tanh(a) alone
    expect(second!.inputs.map((v) => v.aval.shape)).toEqual([
      [8, 16],
      [8, 16],
    ]); // the product and x
    expectSameBits(jit(f)(x, w), f(x, w));
  });

  it("a value that would need two more loads than it saves stays stored", () => {
    const f = (p: NdArray, q: NdArray, r: NdArray) => {
      const a = p.mul(r);
      return np.matmul(np.tanh(a), q).add(a);
    };
    const [first] = loopsOf(f, [x, w, y]);
    expect(first!.outputs).toHaveLength(2); // a and tanh(a)
    expectSameBits(jit(f)(x, w, y), f(x, w, y));
  });

  it("a bool mask stays stored: recomputing it would load a float (4 bytes) for a bool (1)", () => {
    const f = (p: NdArray, q: NdArray) => {
      const mask = np.greater(p.add(1), 0);
      const relu = np.where(mask, p, np.zerosLike(p));
      return np.matmul(relu, q).mul(np.where(mask, np.onesLike(p), np.zerosLike(p)));
    };
    const [first] = loopsOf(f, [x, w]);
    expect(first!.outputs.map((v) => v.aval.dtype)).toContain("bool");
    expectSameBits(jit(f)(x, w), f(x, w));
  });

  it("GELU's gradient: the forward loop stores fewer arrays, the gradient's bits are eager's", () => {
    const loss = (p: NdArray, q: NdArray) =>
      np.sum(np.matmul(nn.gelu(np.matmul(p, q), { approximate: "tanh" }), q));
    const stored = loopsOf(grad(loss), [x, w]).reduce((n, g) => n + g.outputs.length, 0);
    expect(stored).toBeLessThan(6);
    expectSameBits(jit(grad(loss))(x, w), grad(loss)(x, w));
  });
});
