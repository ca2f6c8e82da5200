import { describe, expect, it } from "vitest";
import { grad, makeProgram, type NdArray, nn, np, ShapeDtype } from "../../src/index.js";
import { expectClose } from "../golden/golden.js";

const f64 = (data: number[] | number[][] | number[][][]): NdArray => np.array(data, { dtype: "float64" });
const i32 = (data: number[] | number): NdArray => np.array(data, { dtype: "int32" });
const TIGHT = { atol: 1e-14, rtol: 1e-13 };
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Row-wise log_softmax in plain JS, the reference for the class losses. */
function logSoftmaxRows(rows: number[][]): number[][] {
  return rows.map((row) => {
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    return row.map((v) => v - lse);
  });
}

describe("reductions and shape checks", () => {
  const input = f64([
    [1, 2],
    [3, 4],
  ]);
  const target = f64([
    [0, 2],
    [5, 1],
  ]);

  it("mseLoss: mean (default), sum, none", () => {
    expect(nn.mseLoss(input, target).item()).toBe((1 + 0 + 4 + 9) / 4);
    expect(nn.mseLoss(input, target, { reduction: "sum" }).item()).toBe(14);
    expect(nn.mseLoss(input, target, { reduction: "none" }).toArray()).toEqual([
      [1, 0],
      [4, 9],
    ]);
  });

  it("a target of another shape is an error naming the op and both shapes", () => {
    expect(() => nn.mseLoss(input, f64([1, 2]))).toThrow(
      /mseLoss: input shape \[2,2\] and target shape \[2\]/,
    );
    expect(() => nn.l1Loss(input, f64([[1, 2]]))).toThrow(/l1Loss.*\[2,2\].*\[1,2\]/);
    expect(() => nn.binaryCrossEntropyWithLogits(input, f64([1]))).toThrow(/binaryCrossEntropyWithLogits/);
  });

  it("an unknown reduction is an error", () => {
    expect(() => nn.mseLoss(input, target, { reduction: "avg" as "mean" })).toThrow(
      /mseLoss: option reduction must be one of "mean", "sum", "none"/,
    );
  });

  it("mseLoss gradient is 2 (x - y) / n", () => {
    const g = grad((x: NdArray) => nn.mseLoss(x, target))(input) as NdArray;
    expectClose(
      g,
      f64([
        [0.5, 0],
        [-1, 1.5],
      ]),
      TIGHT,
    );
  });
});

describe("l1, huber, smooth L1", () => {
  const input = f64([0, 0.5, -2, 3]);
  const target = f64([0, 0, 0, 0]);

  it("l1Loss is the mean absolute difference with derivative 0 at 0", () => {
    expect(nn.l1Loss(input, target).item()).toBe(5.5 / 4);
    const g = grad((x: NdArray) => nn.l1Loss(x, target, { reduction: "sum" }))(input) as NdArray;
    expect(values(g)).toEqual([0, 1, -1, 1]);
  });

  it("huberLoss: quadratic below delta, delta (|d| - delta/2) above", () => {
    const huber = (d: number, delta: number) =>
      Math.abs(d) < delta ? 0.5 * d * d : delta * (Math.abs(d) - 0.5 * delta);
    const ds = [0, 0.5, -2, 3];
    expectClose(nn.huberLoss(input, target, { reduction: "none" }), f64(ds.map((d) => huber(d, 1))), TIGHT);
    expectClose(
      nn.huberLoss(input, target, { delta: 2.5 }),
      f64([mean(ds.map((d) => huber(d, 2.5)))]).reshape([]),
      TIGHT,
    );
  });

  it("smoothL1Loss: huber / beta, and plain L1 at beta = 0", () => {
    const smooth = (d: number, beta: number) =>
      Math.abs(d) < beta ? (0.5 * d * d) / beta : Math.abs(d) - 0.5 * beta;
    const ds = [0, 0.5, -2, 3];
    expectClose(
      nn.smoothL1Loss(input, target, { reduction: "none", beta: 2.5 }),
      f64(ds.map((d) => smooth(d, 2.5))),
      TIGHT,
    );
    expect(nn.smoothL1Loss(input, target).item()).toBe(mean(ds.map((d) => smooth(d, 1))));
    expect(nn.smoothL1Loss(input, target, { beta: 0 }).item()).toBe(nn.l1Loss(input, target).item());
  });
});

describe("crossEntropy", () => {
  const rows = [
    [1, 2, 3],
    [1, 1, 1],
    [0.5, -2, 4],
  ];
  const logits = f64(rows);
  const labels = [2, 0, 1];
  const logp = logSoftmaxRows(rows);
  const nll = labels.map((c, n) => -logp[n]![c]!);

  it("is the mean over samples of -log_softmax at the target class", () => {
    expectClose(nn.crossEntropy(logits, i32(labels)), f64([mean(nll)]).reshape([]), TIGHT);
    expectClose(nn.crossEntropy(logits, i32(labels), { reduction: "none" }), f64(nll), TIGHT);
    expectClose(
      nn.crossEntropy(logits, i32(labels), { reduction: "sum" }),
      f64([nll[0]! + nll[1]! + nll[2]!]).reshape([]),
      TIGHT,
    );
  });

  it("takes a single sample [C] with a 0-d target", () => {
    expectClose(nn.crossEntropy(f64(rows[2]!), i32(1)), f64([nll[2]!]).reshape([]), TIGHT);
  });

  it("takes [N, C, d] logits with [N, d] targets (class axis 1)", () => {
    const x = f64([rows.map((r) => [r[0]!, r[1]!])]); // [1, 3, 2]: classes along axis 1
    const t = i32([2, 0]).reshape([1, 2]);
    const cols = [rows.map((r) => r[0]!), rows.map((r) => r[1]!)];
    const lp = logSoftmaxRows(cols);
    expectClose(nn.crossEntropy(x, t, { reduction: "none" }), f64([[-lp[0]![2]!, -lp[1]![0]!]]), TIGHT);
  });

  it("is stable for logits around +-1000", () => {
    const big = f64([
      [1000, -1000, 999],
      [-1000, -1000, -999],
    ]);
    const loss = nn.crossEntropy(big, i32([2, 0]), { reduction: "none" });
    expectClose(loss, f64([1 + Math.log1p(Math.exp(-1)), 1 + Math.log1p(2 * Math.exp(-1))]), {
      atol: 1e-12,
      rtol: 1e-12,
    });
    const g = grad((x: NdArray) => nn.crossEntropy(x, i32([2, 0])))(big) as NdArray;
    expect(values(g).every(Number.isFinite)).toBe(true);
  });

  it("has gradient (softmax - onehot) / N", () => {
    const g = grad((x: NdArray) => nn.crossEntropy(x, i32(labels)))(logits) as NdArray;
    const expected = logp.map((row, n) => row.map((l, c) => (Math.exp(l) - (c === labels[n] ? 1 : 0)) / 3));
    expectClose(g, f64(expected), TIGHT);
  });

  it("label smoothing follows PyTorch: (1 - s) nll + s * mean_c(-log p_c)", () => {
    const s = 0.1;
    const hand = labels.map(
      (c, n) => (1 - s) * -logp[n]![c]! + (s / 3) * -(logp[n]![0]! + logp[n]![1]! + logp[n]![2]!),
    );
    expectClose(
      nn.crossEntropy(logits, i32(labels), { labelSmoothing: s }),
      f64([mean(hand)]).reshape([]),
      TIGHT,
    );
    // The first two rows by hand: logits [1,2,3] with target 2, and a uniform row.
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const row0 = 0.9 * (lse - 3) + (0.1 / 3) * (3 * lse - 6);
    const row1 = Math.log(3);
    const firstTwo = values(
      nn.crossEntropy(logits, i32(labels), { labelSmoothing: s, reduction: "none" }),
    ).slice(0, 2);
    expect(firstTwo[0]).toBeCloseTo(row0, 14);
    expect(firstTwo[1]).toBeCloseTo(row1, 14);
    expect(() => nn.crossEntropy(logits, i32(labels), { labelSmoothing: 1.5 })).toThrow(/labelSmoothing/);
  });

  it("accepts class probabilities (optionally smoothed), averaging over samples", () => {
    const probs = [
      [0.2, 0.3, 0.5],
      [1, 0, 0],
      [0, 0.5, 0.5],
    ];
    const per = probs.map((p, n) => -p.reduce((acc, pc, c) => acc + pc * logp[n]![c]!, 0));
    expectClose(nn.crossEntropy(logits, f64(probs)), f64([mean(per)]).reshape([]), TIGHT);
    const s = 0.2;
    const smoothed = probs.map(
      (p, n) => -p.reduce((acc, pc, c) => acc + ((1 - s) * pc + s / 3) * logp[n]![c]!, 0),
    );
    expectClose(
      nn.crossEntropy(logits, f64(probs), { labelSmoothing: s, reduction: "none" }),
      f64(smoothed),
      TIGHT,
    );
    // One-hot probabilities give the same as class indices.
    const oneHot = labels.map((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)));
    expectClose(nn.crossEntropy(logits, f64(oneHot)), nn.crossEntropy(logits, i32(labels)), TIGHT);
  });

  it("skips ignored targets (PyTorch's default -100) and averages over the rest", () => {
    const withIgnored = i32([2, -100, 1]);
    expectClose(nn.crossEntropy(logits, withIgnored), f64([(nll[0]! + nll[2]!) / 2]).reshape([]), TIGHT);
    expect(values(nn.crossEntropy(logits, withIgnored, { reduction: "none" }))[1]).toBe(0);
    expectClose(
      nn.crossEntropy(logits, i32(labels), { ignoreIndex: 0 }),
      f64([(nll[0]! + nll[2]!) / 2]).reshape([]),
      TIGHT,
    );
    const g = grad((x: NdArray) => nn.crossEntropy(x, withIgnored))(logits) as NdArray;
    expect(values(g).slice(3, 6)).toEqual([0, 0, 0]);
    // Label smoothing leaves ignored rows out too.
    const s = 0.1;
    const smoothedRow = (n: number) =>
      (1 - s) * nll[n]! + (s / 3) * -(logp[n]![0]! + logp[n]![1]! + logp[n]![2]!);
    expectClose(
      nn.crossEntropy(logits, withIgnored, { labelSmoothing: s }),
      f64([(smoothedRow(0) + smoothedRow(2)) / 2]).reshape([]),
      TIGHT,
    );
  });

  it("rejects non-int32 class targets, wrong shapes and out-of-range labels, naming the op", () => {
    expect(() => nn.crossEntropy(logits, f64([2, 0, 1]))).toThrow(
      /crossEntropy: target must be int32 class indices of shape \[3\]/,
    );
    expect(() => nn.crossEntropy(logits, i32([2, 0]))).toThrow(
      /crossEntropy: target must hold int32 class indices of shape \[3\]/,
    );
    expect(() => nn.crossEntropy(logits, i32([2, 3, 1]))).toThrow(
      /crossEntropy: target 3 at flat index 1 is out of range for 3 classes/,
    );
    expect(() => nn.crossEntropy(logits, i32([2, -1, 1]))).toThrow(/out of range/);
    expect(() => nn.crossEntropy(np.scalar(1, "float64"), i32(0))).toThrow(/crossEntropy/);
  });

  it("traces the label value check into the program, to run when the values are there", () => {
    const program = makeProgram((x: NdArray, t: NdArray) => nn.crossEntropy(x, t))(
      new ShapeDtype([3, 3], "float32"),
      new ShapeDtype([3], "int32"),
    );
    expect(program.toString()).toContain("check_class_target[classes=3 ignoreIndex=-100]");
    expect(program.toString()).toContain("reduce_sum");
  });
});

describe("nllLoss", () => {
  const logProbs = f64([
    [-0.1, -2, -3],
    [-1, -0.5, -4],
  ]);

  it("picks -logProbs at the target, averaged over the kept samples", () => {
    expect(nn.nllLoss(logProbs, i32([0, 2])).item()).toBe((0.1 + 4) / 2);
    expect(nn.nllLoss(logProbs, i32([0, 2]), { reduction: "sum" }).item()).toBe(4.1);
    expect(nn.nllLoss(logProbs, i32([0, -100])).item()).toBe(0.1);
    expect(nn.nllLoss(logProbs, i32([1, 1]), { ignoreIndex: 1 }).item()).toBeNaN(); // 0 / 0, as PyTorch
    const g = grad((x: NdArray) => nn.nllLoss(x, i32([0, 2])))(logProbs) as NdArray;
    expect(g.toArray()).toEqual([
      [-0.5, 0, 0],
      [0, 0, -0.5],
    ]);
  });

  it("validates targets", () => {
    expect(() => nn.nllLoss(logProbs, i32([0, 7]))).toThrow(/nllLoss: target 7/);
    expect(() => nn.nllLoss(logProbs, np.array([0, 1]))).toThrow(/nllLoss: target must hold int32/);
  });
});

describe("binaryCrossEntropyWithLogits", () => {
  const xs = [-3, -0.5, 0, 0.7, 4];
  const ys = [0, 1, 0.5, 1, 0.2];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  const naive = (x: number, y: number) => -(y * Math.log(sig(x)) + (1 - y) * Math.log(1 - sig(x)));

  it("matches the naive formula and has gradient (sigmoid(x) - y) / n", () => {
    expectClose(
      nn.binaryCrossEntropyWithLogits(f64(xs), f64(ys), { reduction: "none" }),
      f64(xs.map((x, i) => naive(x, ys[i]!))),
      {
        atol: 1e-15,
        rtol: 1e-13,
      },
    );
    const g = grad((x: NdArray) => nn.binaryCrossEntropyWithLogits(x, f64(ys)))(f64(xs)) as NdArray;
    expectClose(g, f64(xs.map((x, i) => (sig(x) - ys[i]!) / 5)), TIGHT);
  });

  it("is stable for |x| = 1000", () => {
    const loss = nn.binaryCrossEntropyWithLogits(f64([1000, -1000, 1000]), f64([1, 0, 0]), {
      reduction: "none",
    });
    expect(values(loss)).toEqual([0, 0, 1000]);
    const g = grad((x: NdArray) => nn.binaryCrossEntropyWithLogits(x, f64([1, 0, 0]), { reduction: "sum" }))(
      f64([1000, -1000, 1000]),
    ) as NdArray;
    expect(values(g)).toEqual([0, 0, 1]);
  });

  it("posWeight scales the positive term", () => {
    const pw = 3;
    const weighted = (x: number, y: number) => -(pw * y * Math.log(sig(x)) + (1 - y) * Math.log(1 - sig(x)));
    expectClose(
      nn.binaryCrossEntropyWithLogits(f64(xs), f64(ys), { posWeight: pw, reduction: "none" }),
      f64(xs.map((x, i) => weighted(x, ys[i]!))),
      { atol: 1e-15, rtol: 1e-13 },
    );
    // Per class, broadcast along the last axis; stable at |x| = 1000 too.
    const x2 = f64([
      [1000, -1000],
      [0.5, -0.5],
    ]);
    const y2 = f64([
      [0, 1],
      [1, 1],
    ]);
    const loss = values(
      nn.binaryCrossEntropyWithLogits(x2, y2, { posWeight: f64([2, 4]), reduction: "none" }),
    );
    expect(loss[0]).toBe(1000);
    expect(loss[1]).toBe(4000);
    expect(loss[2]).toBeCloseTo(2 * -Math.log(sig(0.5)), 14);
    expect(loss[3]).toBeCloseTo(4 * -Math.log(sig(-0.5)), 14);
    expect(() => nn.binaryCrossEntropyWithLogits(x2, y2, { posWeight: f64([1, 2, 3]) })).toThrow(
      /binaryCrossEntropyWithLogits/,
    );
  });
});

describe("binaryCrossEntropy", () => {
  it("is -(y log p + (1 - y) log(1 - p)) with logs clamped at -100", () => {
    const p = [0.1, 0.5, 0.9];
    const y = [0, 1, 0.3];
    const naive = p.map((pi, i) => -(y[i]! * Math.log(pi) + (1 - y[i]!) * Math.log(1 - pi)));
    expectClose(nn.binaryCrossEntropy(f64(p), f64(y), { reduction: "none" }), f64(naive), TIGHT);
    const clamped = nn.binaryCrossEntropy(f64([0, 1, 0, 1]), f64([1, 0, 0, 1]), { reduction: "none" });
    expectClose(clamped, f64([100, 100, 0, 0]), { atol: 0, rtol: 0 });
  });

  it("has gradient (p - y) / (p (1 - p)) inside (0, 1), and stays finite at 0 and 1", () => {
    const p = [0.2, 0.6];
    const y = [1, 0.25];
    const g = grad((x: NdArray) => nn.binaryCrossEntropy(x, f64(y), { reduction: "sum" }))(f64(p)) as NdArray;
    expectClose(g, f64(p.map((pi, i) => (pi - y[i]!) / (pi * (1 - pi)))), TIGHT);
    const edge = grad((x: NdArray) => nn.binaryCrossEntropy(x, f64([1, 0])))(f64([0, 1])) as NdArray;
    expect(values(edge).every(Number.isFinite)).toBe(true);
  });

  it("rejects values outside [0, 1]", () => {
    expect(() => nn.binaryCrossEntropy(f64([1.5]), f64([1]))).toThrow(/binaryCrossEntropy: input 1.5/);
  });
});
