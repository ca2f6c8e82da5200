import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, nn, np, ShapeError } from "../../src/index.js";
import { expectClose } from "../helpers/numeric.js";

// Expected values from PyTorch 1.13 (float64): F.cross_entropy(logits, target, weight=w, ...).
const logits = np.array(
  [
    [1.0, 2.0, 0.5],
    [0.1, -1.0, 2.0],
    [0.3, 0.3, -0.7],
    [2.0, 1.0, 0.0],
  ],
  { dtype: "float64" },
);
const target = np.array([0, 2, 1, -100], { dtype: "int32" });
const weight = [0.2, 1.5, 3.0];

describe("crossEntropy and nllLoss with class weights (PyTorch's weight)", () => {
  it("weights each sample by its target class; 'mean' divides by the kept targets' summed weights", () => {
    expectClose(nn.crossEntropy(logits, target, { weight }), [0.45345094035666084], 1e-12);
    expectClose(nn.crossEntropy(logits, target, { weight, reduction: "sum" }), [2.131219419676306], 1e-12);
    expectClose(
      nn.crossEntropy(logits, target, { weight, reduction: "none" }),
      [0.292873756821589, 0.5453534567673402, 1.2929922060873766, 0],
      1e-12,
    );
    const logProbs = nn.logSoftmax(logits, { axis: 1 });
    expectClose(nn.nllLoss(logProbs, target, { weight }), [0.45345094035666084], 1e-12);
    expectClose(
      nn.nllLoss(logProbs, target, { weight: np.array(weight, { dtype: "float64" }), reduction: "none" }),
      [0.292873756821589, 0.5453534567673402, 1.2929922060873766, 0],
      1e-12,
    );
  });

  it("has PyTorch's gradient, also under jit", () => {
    const torchGrad = [
      -0.032713876696929836, 0.02674603060475585, 0.005967846092173978, 0.07960051584905622,
      0.026496709973601505, -0.10609722582265765, 0.13478259518665475, -0.18436634098355803,
      0.04958374579690328, 0, 0, 0,
    ];
    const loss = (x: NdArray) => nn.crossEntropy(x, target, { weight });
    expectClose(grad(loss)(logits), torchGrad, 1e-10, 1e-14);
    expectClose(jit(grad(loss))(logits), torchGrad, 1e-10, 1e-14);
  });

  it("combines with label smoothing as PyTorch does", () => {
    const opts = { weight, labelSmoothing: 0.1 };
    expectClose(nn.crossEntropy(logits, target, opts), [0.5475973069355334], 1e-12);
    expectClose(nn.crossEntropy(logits, target, { ...opts, reduction: "sum" }), [2.5737073425970074], 1e-12);
    expectClose(
      nn.crossEntropy(logits, target, { ...opts, reduction: "none" }),
      [0.4930041573163415, 0.6819643471662339, 1.398738838114432, 0],
      1e-12,
    );
    const torchGrad = [
      -0.02315346548947727, 0.03438418697899859, -0.01123072148952132, 0.07437894037551149,
      0.014592458180300118, -0.08897139855581157, 0.1339631892267278, -0.16249071148249208,
      0.02852752225576422, 0, 0, 0,
    ];
    expectClose(grad((x: NdArray) => nn.crossEntropy(x, target, opts))(logits), torchGrad, 1e-10, 1e-14);
  });

  it("weights probability targets per class and averages over the samples", () => {
    const probs = np.array(
      [
        [0.2, 0.3, 0.5],
        [1, 0, 0],
        [0, 0.5, 0.5],
        [0.1, 0.1, 0.8],
      ],
      { dtype: "float64" },
    );
    expectClose(nn.crossEntropy(logits, probs, { weight }), [3.266871603811439], 1e-12);
    expectClose(
      nn.crossEntropy(logits, probs, { weight, reduction: "none" }),
      [3.2140938803748105, 0.41635689711782264, 3.439488309131065, 5.997547328622058],
      1e-12,
    );
    expectClose(nn.crossEntropy(logits, probs, { weight, labelSmoothing: 0.1 }), [3.1825514765931167], 1e-12);
  });

  it("broadcasts the weights along the class axis of [N, C, d] inputs", () => {
    const x = np.arange(24, undefined, 1, { dtype: "float64" }).reshape([2, 3, 4]).div(7);
    const t = np.array(
      [
        [0, 1, 2, -100],
        [2, 2, 0, 1],
      ],
      { dtype: "int32" },
    );
    expectClose(nn.crossEntropy(x, t, { weight }), [0.8083131488894653], 1e-12);
    expectClose(nn.crossEntropy(x, t, { weight, labelSmoothing: 0.2 }), [0.7995118754335225], 1e-12);
  });

  it("rejects weights of the wrong shape", () => {
    expect(() => nn.crossEntropy(logits, target, { weight: [1, 2] })).toThrow(ShapeError);
    expect(() => nn.crossEntropy(logits, target, { weight: [1, 2] })).toThrow(/weight must have shape \[3\]/);
  });
});
