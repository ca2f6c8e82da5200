import { describe, expect, it } from "vitest";
import { grad, jit, makeProgram, type Array as NdArray, np, scan } from "../../src/index.js";
import { expectClose, numericGrad, seededArray } from "../helpers/numeric.js";

// A batched cell h' = tanh(h W + x U + b), as an RNN layer writes it: a weight and a bias the body reads.
const W = seededArray([4, 4], 11).mul(0.5);
const U = seededArray([3, 4], 12);
const B = seededArray([4], 13);
const h0 = seededArray([2, 4], 14);
const xs = seededArray([5, 2, 3], 15);

function loss(w: NdArray, b: NdArray, h: NdArray, rows: NdArray): NdArray {
  const step = (c: NdArray, x: NdArray): [NdArray, NdArray] => {
    const next = np.tanh(np.matmul(c, w).add(np.matmul(x, U)).add(b));
    return [next, next];
  };
  const [hn, ys] = scan(step, h, rows, { reverse: false });
  return np.sum(hn.mul(hn)).add(np.sum(ys.mul(ys.mul(0.5))));
}

function unrolledLoss(w: NdArray, b: NdArray, h: NdArray, rows: NdArray): NdArray {
  let c = h;
  let total = np.zeros([]);
  for (const x of rows) {
    c = np.tanh(np.matmul(c, w).add(np.matmul(x, U)).add(b));
    total = total.add(np.sum(c.mul(c.mul(0.5))));
  }
  return total.add(np.sum(c.mul(c)));
}

describe("scan: the weight and bias gradients are summed after the loop", () => {
  const g = grad(loss, { argnums: [0, 1, 2, 3] });

  it("the transposed scan carries only the hidden state's cotangent, not the weight's or the bias's", () => {
    const program = makeProgram(g)(W, B, h0, xs).toString();
    // Accumulating dW and db in the loop would make them carries (numCarry=3).
    expect(program.match(/= scan\[length=5 numCarry=\d+ reverse /g)).toEqual([
      "= scan[length=5 numCarry=1 reverse ",
    ]);
  });

  it("computes the unrolled loop's gradients (float64), eagerly and jitted", () => {
    const got = g(W, B, h0, xs);
    const want = grad(unrolledLoss, { argnums: [0, 1, 2, 3] })(W, B, h0, xs);
    got.forEach((x, i) => expectClose(x, want[i]!, 1e-13));
    expectClose(
      got[0]!,
      numericGrad((w) => loss(w, B, h0, xs), W),
      1e-7,
    );
    expectClose(
      got[1]!,
      numericGrad((b) => loss(W, b, h0, xs), B),
      1e-7,
    );
    jit(g)(W, B, h0, xs).forEach((x, i) => expectClose(x, got[i]!, 1e-13));
  });
});
