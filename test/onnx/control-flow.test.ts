/**
 * Control flow exported to ONNX (while as Loop, scan as Scan, or as Loop with scan outputs when it scans
 * no input, switch/cond as nested If)
 * and run in ONNX Runtime against tracegrad: a training loop in a whileLoop, a scan RNN forward and its
 * gradient (a reverse scan), a switch whose index is a model input (clamped as lax.switch clamps).
 */
import { describe, expect, it } from "vitest";
import { programToOnnxGraph } from "../../src/compiler/onnx-export.js";
import { type DType, grad, lax, type NdArray, np, random } from "../../src/index.js";
import { makeProgram } from "../../src/transforms/make-program.js";
import { expectSameInOrt } from "./ort.js";

type Float = "float32" | "float64";
const DTYPES: readonly Float[] = ["float32", "float64"];

const scalar = (value: number, dtype: DType): NdArray => np.array(value, { dtype });

function normal(seed: number, shape: number[], dtype: Float): NdArray {
  return random.normal(random.key(seed), shape, { dtype });
}

/** The op types of the top level of `f`'s exported graph. */
function topLevelOps(f: (...args: NdArray[]) => NdArray[], args: NdArray[]): string[] {
  const traced = makeProgram(f)(...args);
  return programToOnnxGraph(traced.program, traced.consts).nodes.map((n) => n.opType);
}

/** Least squares by gradient descent until the loss is below `tol` or 200 steps have run. */
function trainLoop(w0: NdArray, x: NdArray, y: NdArray, tol: NdArray): NdArray[] {
  const loss = (w: NdArray) => np.mean(np.square(np.subtract(np.matmul(x, w), y)));
  const [w, steps] = lax.whileLoop(
    ([w, i]: [NdArray, NdArray]) => np.logicalAnd(np.greater(loss(w), tol), np.less(i, 200)),
    ([w, i]: [NdArray, NdArray]) => [np.subtract(w, np.multiply(grad(loss)(w), 0.1)), np.add(i, 1)],
    [w0, scalar(0, "int32")] as [NdArray, NdArray],
  );
  return [w, steps, loss(w)];
}

/** A tanh RNN over the rows of xs: [final state, every state]. */
function rnn(h0: NdArray, xs: NdArray, wh: NdArray, wx: NdArray, options = {}): NdArray[] {
  const [h, hs] = lax.scan(
    (h: NdArray, x: NdArray) => {
      const next = np.tanh(np.add(np.matmul(h, wh), np.matmul(x, wx)));
      return [next, next] as [NdArray, NdArray];
    },
    h0,
    xs,
    options,
  );
  return [h, hs];
}

describe("onnx export of control flow, run in ONNX Runtime", () => {
  for (const dtype of DTYPES) {
    it(`whileLoop as Loop: a gradient-descent training loop that stops on the loss, ${dtype}`, async () => {
      const x = normal(1, [8, 3], dtype);
      const y = np.matmul(x, normal(2, [3, 1], dtype));
      const w0 = np.zeros([3, 1], { dtype });
      const tol = scalar(1e-3, dtype);
      const [, steps] = trainLoop(w0, x, y, tol);
      // The loop stops on the loss, before the step limit (so the condition's data dependence is tested).
      expect(steps!.item()).toBeGreaterThan(1);
      expect(steps!.item()).toBeLessThan(200);
      await expectSameInOrt(trainLoop, [w0, x, y, tol], dtype === "float32" ? 1e-4 : 1e-10);
    });

    it(`forLoop with traced bounds (a while), ${dtype}`, async () => {
      const f = (n: NdArray, x: NdArray) =>
        lax.forLoop(
          scalar(0, "int32"),
          n,
          (i, acc: NdArray) => np.add(np.multiply(acc, 0.5), i.astype(dtype)),
          x,
        );
      await expectSameInOrt(f, [scalar(7, "int32"), normal(3, [4], dtype)]);
      await expectSameInOrt(f, [scalar(0, "int32"), normal(3, [4], dtype)]);
    });

    it(`scan as Scan: an RNN forward, forward and reverse, ${dtype}`, async () => {
      const args = [
        normal(1, [2, 4], dtype),
        normal(2, [5, 2, 3], dtype),
        normal(3, [4, 4], dtype),
        normal(4, [3, 4], dtype),
      ];
      await expectSameInOrt((h0, xs, wh, wx) => rnn(h0!, xs!, wh!, wx!), args);
      await expectSameInOrt((h0, xs, wh, wx) => rnn(h0!, xs!, wh!, wx!, { reverse: true }), args);
      expect(topLevelOps((h0, xs, wh, wx) => rnn(h0!, xs!, wh!, wx!), args)).toContain("Scan");
    });

    it(`scan over no input (a counted loop with outputs) as Loop, forward and reverse, ${dtype}`, async () => {
      // Rows depend on the iteration, so a reverse scan's rows must come back in row order.
      const counted = (options: { reverse?: boolean }) => (x: NdArray) =>
        lax.scan(
          (c: NdArray) => {
            const next = np.add(np.multiply(c, 0.5), 1);
            return [next, np.multiply(next, c)] as [NdArray, NdArray];
          },
          x,
          null,
          { length: 4, ...options },
        );
      const x = normal(6, [3], dtype);
      await expectSameInOrt((a) => counted({})(a!), [x]);
      await expectSameInOrt((a) => counted({ reverse: true })(a!), [x]);
      expect(topLevelOps((a) => counted({})(a!), [x])).toContain("Loop");
    });

    it(`scan's gradient (a reverse scan over residuals), ${dtype}`, async () => {
      const args = [
        normal(1, [2, 4], dtype),
        normal(2, [5, 2, 3], dtype),
        normal(3, [4, 4], dtype),
        normal(4, [3, 4], dtype),
      ];
      const loss = (h0: NdArray, xs: NdArray, wh: NdArray, wx: NdArray) => {
        const [h, hs] = rnn(h0, xs, wh, wx);
        return np.add(np.sum(np.square(h!)), np.mean(hs!));
      };
      const f = (h0: NdArray, xs: NdArray, wh: NdArray, wx: NdArray) =>
        grad(loss, { argnums: [0, 2, 3] })(h0, xs, wh, wx) as NdArray[];
      await expectSameInOrt((...a) => f(a[0]!, a[1]!, a[2]!, a[3]!), args);
    });

    it(`switchCase and cond as nested If, the index a model input (clamped), ${dtype}`, async () => {
      const f = (i: NdArray, x: NdArray) => [
        lax.switchCase(
          i,
          [(a: NdArray) => np.sin(a), (a: NdArray) => np.multiply(a, 2), (a: NdArray) => np.exp(a)],
          x,
        ),
        lax.cond(
          np.greater(i, 0),
          (a: NdArray) => np.cos(a),
          (a: NdArray) => np.negative(a),
          x,
        ),
      ];
      for (const index of [-1, 0, 1, 2, 5])
        await expectSameInOrt(f, [scalar(index, "int32"), normal(5, [3, 2], dtype)]);
    });
  }
});
