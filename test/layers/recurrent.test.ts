/**
 * Layers of any inputs and outputs, and the recurrent layers built on them: the generalised apply
 * (inputs, optional carries, options), sequential's refusal of a layer that is not one array in and one
 * out, a named model with several inputs, the recurrent layers' names, shapes, errors and dropout, and
 * their derivatives (vjp against finite differences in float64), vmap and jit (equal to eager; the loop is
 * one scan in the jitted plan).
 */
import { describe, expect, it } from "vitest";
import { grad, jit, layers, type NdArray, np, random, ShapeError, tree, vmap } from "../../src/index.js";
import { checkGrads } from "../../src/testing/index.js";
import { expectClose } from "../golden/golden.js";

const f64 = { dtype: "float64" } as const;
const normal = (seed: number, shape: number[]) => random.normal(random.key(seed), shape, f64);
type Params = layers.RecurrentParams;
const maxDiff = (a: NdArray, b: NdArray): number => np.max(np.abs(a.sub(b))).item();
const shapesOf = (t: unknown): Record<string, readonly number[]> =>
  Object.fromEntries(tree.flattenWithPath(t).map(([p, l]) => [p, l.shape]));

describe("layers with any inputs and outputs", () => {
  const lstm = layers.lstm(3, 4);
  const params = lstm.init(random.key(0), f64);
  const x = normal(1, [5, 2, 3]);

  it("apply takes the inputs, an optional carry, and the options last", () => {
    expect(lstm.inputNames).toEqual(["input", "hx"]);
    expect(lstm.requiredInputs).toBe(1);
    expect(lstm.singleArray).toBe(false);
    const [y, [h, c]] = lstm.apply(params, x);
    expect([y.shape, h.shape, c.shape]).toEqual([
      [5, 2, 4],
      [1, 2, 4],
      [1, 2, 4],
    ]);
    // Zeros as the carry are the default; an explicit undefined carry and the options change nothing in eval.
    const zeros = np.zeros([1, 2, 4], f64);
    expectClose(lstm.apply(params, x, [zeros, zeros])[0], y, { atol: 0, rtol: 0 });
    expectClose(lstm.apply(params, x, undefined, { train: false })[0], y, { atol: 0, rtol: 0 });
    // Options right after the required inputs are recognised by their keys.
    const train = { train: true } as unknown as [NdArray, NdArray];
    expectClose(lstm.apply(params, x, train)[0], y, { atol: 0, rtol: 0 });
  });

  it("a wrong number of inputs or a missing one is a clear error", () => {
    const apply = lstm.apply as (...args: unknown[]) => unknown;
    expect(() => apply(params)).toThrow(/lstm 3->4: apply: expected inputs \(input, hx\?\)/);
    expect(() => apply(params, x, undefined, {}, {})).toThrow(/expected inputs \(input, hx\?\)/);
    expect(() => apply(params, undefined)).toThrow(/input input is required/);
    expect(() => apply(params, x, undefined, { training: true })).toThrow(/training/);
    const linear = layers.linear(3, 2);
    expect(() => (linear.apply as (...a: unknown[]) => unknown)(linear.init(random.key(0)), [x])).toThrow(
      /linear 3->2: apply: the input must be an array, got a JS array/,
    );
  });

  it("sequential refuses a layer that is not one array in, one array out (types and run time)", () => {
    // @ts-expect-error an LSTM returns [output, hN], so it does not chain
    expect(() => layers.sequential(layers.linear(3, 3), layers.lstm(3, 4))).toThrow(
      /sequential: layer 1 \(lstm 3->4\) takes \(input, hx\) and is not one array in, one array out.*named/,
    );
    expect(layers.sequential(layers.linear(3, 3), layers.relu()).singleArray).toBe(true);
  });

  it("a named model with several inputs and a pytree output; its params, summary and repr", () => {
    const tagger = layers.named(
      { lstm: layers.lstm(3, 4, { bidirectional: true }), head: layers.linear(8, 2) },
      (m, [input, hx]: [NdArray, [NdArray, NdArray]?]) => {
        const [out, carry] = m.lstm(input, hx);
        return { logits: m.head(out), carry };
      },
      { name: "Tagger", inputs: ["input", "hx"], requiredInputs: 1 },
    );
    const p = tagger.init(random.key(2), f64);
    expect(shapesOf(p)).toEqual({
      "lstm.weight_ih_l0": [16, 3],
      "lstm.weight_hh_l0": [16, 4],
      "lstm.bias_ih_l0": [16],
      "lstm.bias_hh_l0": [16],
      "lstm.weight_ih_l0_reverse": [16, 3],
      "lstm.weight_hh_l0_reverse": [16, 4],
      "lstm.bias_ih_l0_reverse": [16],
      "lstm.bias_hh_l0_reverse": [16],
      "head.weight": [2, 8],
      "head.bias": [2],
    });
    const { logits, carry } = tagger.apply(p, x);
    expect(logits.shape).toEqual([5, 2, 2]);
    expect(carry[0].shape).toEqual([2, 2, 4]);
    const h0 = normal(3, [2, 2, 4]);
    const withCarry = tagger.apply(p, x, [h0, h0]);
    expect(withCarry.logits.shape).toEqual([5, 2, 2]);
    expect(layers.summary(tagger, p)).toContain(
      "Tagger(\n  (lstm): LSTM(3, 4, bidirectional=True)\n  (head): Linear(in_features=8, out_features=2, bias=True)\n)",
    );
    expect(layers.summary(tagger)).toContain("Total: 306 parameters in 10 arrays");
  });
});

describe("rnn, lstm and gru", () => {
  it("PyTorch's parameter names, shapes, order and default init bound 1/sqrt(hidden)", () => {
    const gru = layers.gru(3, 16, { numLayers: 2, bidirectional: true });
    const p = gru.init(random.key(0), f64);
    expect(Object.keys(p).slice(0, 5)).toEqual([
      "weight_ih_l0",
      "weight_hh_l0",
      "bias_ih_l0",
      "bias_hh_l0",
      "weight_ih_l0_reverse",
    ]);
    expect(p["weight_ih_l1"]!.shape).toEqual([48, 32]);
    expect(p["weight_hh_l1_reverse"]!.shape).toEqual([48, 16]);
    const all = Object.values(p).flatMap((a) => Array.from(a.toTypedArray()));
    expect(Math.max(...all.map(Math.abs))).toBeLessThanOrEqual(0.25);
    expect(Math.max(...all.map(Math.abs))).toBeGreaterThan(0.24);
    expect(Object.keys(layers.rnn(2, 3, { bias: false }).init(random.key(0)))).toEqual([
      "weight_ih_l0",
      "weight_hh_l0",
    ]);
    expect(
      layers.rnn(2, 3, { nonlinearity: "relu", dropout: 0.5, numLayers: 2, batchFirst: true }).repr,
    ).toBe("RNN(2, 3, num_layers=2, batch_first=True, dropout=0.5)");
  });

  it("unbatched input [L, H_in] gives [L, D*H] and carries [D*layers, H]", () => {
    const rnn = layers.rnn(3, 4, { numLayers: 2, bidirectional: true });
    const p = rnn.init(random.key(0), f64);
    const x = normal(1, [6, 3]);
    const [y, h] = rnn.apply(p, x);
    expect([y.shape, h.shape]).toEqual([
      [6, 8],
      [4, 4],
    ]);
    const [yb, hb] = rnn.apply(p, x.reshape([6, 1, 3]));
    expectClose(y, yb.reshape([6, 8]), { atol: 0, rtol: 0 });
    expectClose(h, hb.reshape([4, 4]), { atol: 0, rtol: 0 });
  });

  it("errors name the layer, the shapes and what was expected", () => {
    const lstm = layers.lstm(3, 4, { numLayers: 2 });
    const p = lstm.init(random.key(0));
    expect(() => lstm.apply(p, np.zeros([5, 2, 2]))).toThrow(ShapeError);
    expect(() => lstm.apply(p, np.zeros([5, 2, 2]))).toThrow(
      /lstm 3->4, 2 layers: expected input \[L, N, 3\] or unbatched \[L, 3\], got \[5,2,2\]/,
    );
    const h = np.zeros([1, 2, 4]);
    expect(() => lstm.apply(p, np.zeros([5, 2, 3]), [h, h])).toThrow(
      /expected h_0 of shape \[2,2,4\], got \[1,2,4\]/,
    );
    expect(() => layers.lstm(3, 4, { projSize: 2 } as object)).toThrow(/projSize/);
    expect(() => layers.gru(3, 0)).toThrow(/hiddenSize must be an integer >= 1/);
    expect(() => layers.rnn(3, 4, { nonlinearity: "sigmoid" as "tanh" })).toThrow(/nonlinearity/);
    expect(() => layers.lstm(3, 4, { dropout: 2 })).toThrow(/dropout must be in \[0, 1\]/);
    const dropping = layers.gru(3, 4, { numLayers: 2, dropout: 0.5 });
    expect(() =>
      dropping.apply(dropping.init(random.key(0)), np.zeros([5, 2, 3]), undefined, { train: true }),
    ).toThrow(/needs a key/);
  });

  it("dropout between layers only in training mode, by key", () => {
    const gru = layers.gru(3, 8, { numLayers: 2, dropout: 0.5 });
    const p = gru.init(random.key(0), f64);
    const x = normal(1, [4, 2, 3]);
    const evalOut = gru.apply(p, x)[0];
    expectClose(
      gru.apply(p, x, undefined, { train: true, key: random.key(5) })[0],
      gru.apply(p, x, undefined, { train: true, key: random.key(5) })[0],
      { atol: 0, rtol: 0 },
    );
    const a = gru.apply(p, x, undefined, { train: true, key: random.key(5) })[0];
    const b = gru.apply(p, x, undefined, { train: true, key: random.key(6) })[0];
    expect(maxDiff(a, evalOut)).toBeGreaterThan(0.01);
    expect(maxDiff(a, b)).toBeGreaterThan(0.01);
    // Without dropout, training mode is evaluation mode.
    const plain = layers.gru(3, 8, { numLayers: 2 });
    expectClose(plain.apply(p, x, undefined, { train: true, key: random.key(5) })[0], evalOut, {
      atol: 0,
      rtol: 0,
    });
  });

  it("vjp matches central differences in float64 (LSTM 2 layers bidirectional, GRU, RNN relu)", () => {
    const cases = [
      layers.lstm(2, 3, { numLayers: 2, bidirectional: true }),
      layers.gru(2, 3, { batchFirst: true }),
      layers.rnn(2, 3, { nonlinearity: "tanh", numLayers: 2 }),
    ] as const;
    const x = normal(7, [4, 2, 2]);
    const lstm = cases[0];
    const pl = lstm.init(random.key(1), f64);
    const c0 = normal(8, [4, 2, 3]);
    checkGrads(
      (p: Params, x: NdArray, h: NdArray, c: NdArray) => lstm.apply(p, x, [h, c]),
      [pl, x, c0, c0.mul(0.5)],
      { modes: ["rev"], maxCoordinates: 8 },
    );
    const gru = cases[1];
    checkGrads((p: Params, x: NdArray) => gru.apply(p, x), [gru.init(random.key(2), f64), x], {
      modes: ["rev"],
      maxCoordinates: 8,
    });
    const rnn = cases[2];
    checkGrads(
      (p: Params, x: NdArray, h: NdArray) => rnn.apply(p, x, h),
      [rnn.init(random.key(3), f64), x, normal(9, [2, 2, 3])],
      {
        modes: ["rev", "fwd"],
        maxCoordinates: 8,
      },
    );
  });

  it("vmap over a batch of unbatched sequences equals the batched call", () => {
    const lstm = layers.lstm(3, 4, { bidirectional: true });
    const p = lstm.init(random.key(0), f64);
    const x = normal(1, [5, 6, 3]); // [L, N, H_in]
    const [y, [h, c]] = lstm.apply(p, x);
    const [vy, [vh, vc]] = vmap((xi: NdArray) => lstm.apply(p, xi), { inAxes: 1, outAxes: [1, [1, 1]] })(x);
    const tol = { atol: 1e-14, rtol: 1e-12 };
    expectClose(vy, y, tol);
    expectClose(vh, h, tol);
    expectClose(vc, c, tol);
    // Per-example gradients: vmap of grad (a scan forward, a reverse scan back) equals one grad per example.
    const loss = (q: Params, xi: NdArray) => np.sum(np.square(lstm.apply(q, xi)[0]));
    const perExample = vmap(grad(loss), { inAxes: [null, 1] })(p, x);
    for (const n of [0, 5]) {
      const one = grad(loss)(p, np.take(x, n, { axis: 1 }));
      for (const k of ["weight_hh_l0", "bias_ih_l0_reverse"]) {
        expectClose(np.take(perExample[k]!, n, { axis: 0 }), one[k]!, tol);
      }
    }
  });

  it("jit equals eager, and a jitted LSTM runs each direction of each layer as one scan loop", () => {
    const lstm = layers.lstm(3, 4, { numLayers: 2, bidirectional: true, batchFirst: true });
    const p = lstm.init(random.key(0), f64);
    const x = normal(1, [2, 7, 3]);
    const f = (p: layers.RecurrentParams, x: NdArray) => lstm.apply(p, x);
    const [y, [h, c]] = f(p, x);
    const [jy, [jh, jc]] = jit(f)(p, x);
    const tol = { atol: 1e-14, rtol: 1e-12 };
    expectClose(jy, y, tol);
    expectClose(jh, h, tol);
    expectClose(jc, c, tol);
    const plan = jit(f).lower(p, x).toString();
    // Two layers, two directions: four scans of length 7, each a body compiled once.
    expect(plan.match(/= scan\[length=7 /g)?.length).toBe(4);
    expect(plan.match(/body: \d+ steps, compiled once/g)?.length).toBe(4);
  });
});
