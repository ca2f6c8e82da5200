import { describe, expect, it } from "vitest";
import { jit, type Array as NdArray, np, random, scan } from "../../src/index.js";

// A scan's consts are its body's invariants: a GEMM in the body whose B is one of them packs B once per
// scan call and reuses the panels at every step (backend/wasm/gemm-kernel.ts, prepackedB). A new call, or
// a new run of an enclosing loop's body, brings new values at the same address, so the panels must be
// packed again: every call below changes the weights and compares with eager evaluation, bit for bit.
describe("GEMMs on a scan's consts (B packed once per scan call)", () => {
  /** h' = tanh(sum of the `out / hidden` column blocks of h @ op(W) + x), as an LSTM's gates are blocks. */
  const recurrence = (w: NdArray, h0: NdArray, xs: NdArray, transposed: boolean) => {
    const [batch, hidden] = h0.shape as [number, number];
    return scan(
      (h: NdArray, x: NdArray): [NdArray, NdArray] => {
        const gates = np.add(np.matmul(h, transposed ? np.matrixTranspose(w) : w), x);
        const next = np.tanh(np.sum(np.reshape(gates, [batch, -1, hidden]), { axis: 1 }));
        return [next, next];
      },
      h0,
      xs,
    );
  };
  const steps = 3;
  const weights = (call: number, shape: number[]) =>
    np.multiply(random.normal(random.key(10 + call), shape), 0.05);

  // [8, 32] @ [32, 128] runs on one thread; the LSTM's [32, 256] @ [256, 1024] on the worker threads.
  for (const [batch, hidden, out] of [
    [8, 32, 128],
    [32, 256, 1024],
  ] as const) {
    for (const transposed of [false, true]) {
      it(`h [${batch}, ${hidden}] @ ${transposed ? "Wᵀ" : "W"}: new weights every call give eager's bits`, () => {
        const f = (w: NdArray, h0: NdArray, xs: NdArray) => recurrence(w, h0, xs, transposed);
        const jitted = jit(f);
        const h0 = random.normal(random.key(1), [batch, hidden]);
        for (let call = 0; call < 3; call++) {
          const w = weights(call, transposed ? [out, hidden] : [hidden, out]);
          const xs = random.normal(random.key(20 + call), [steps, batch, out]);
          const [hJit, ysJit] = jitted(w, h0, xs);
          const [hEager, ysEager] = f(w, h0, xs);
          expect(hJit.toTypedArray()).toEqual(hEager.toTypedArray());
          expect(ysJit.toTypedArray()).toEqual(ysEager.toTypedArray());
        }
      });
    }
  }

  it("an inner scan's const computed from the outer carry is packed again at every outer step", () => {
    const [batch, hidden] = [8, 32];
    // The inner scan's weights are computed from the outer carry at every outer step, into the same
    // buffer of the outer body's plan each time.
    const f = (w0: NdArray, h0: NdArray, xs: NdArray) =>
      scan(
        (w: NdArray, x: NdArray): [NdArray, NdArray] => {
          const [h] = recurrence(np.multiply(w, 0.9), h0, x, false);
          return [np.add(np.multiply(w, 0.5), np.multiply(np.sum(h), 0.01)), h];
        },
        w0,
        xs,
      );
    const xs = random.normal(random.key(3), [4, steps, batch, hidden]);
    const h0 = random.normal(random.key(1), [batch, hidden]);
    const w0 = weights(0, [hidden, hidden]);
    const [wJit, hsJit] = jit(f)(w0, h0, xs);
    const [wEager, hsEager] = f(w0, h0, xs);
    expect(wJit.toTypedArray()).toEqual(wEager.toTypedArray());
    expect(hsJit.toTypedArray()).toEqual(hsEager.toTypedArray());
  });
});
