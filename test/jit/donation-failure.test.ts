/**
 * A donated call that fails at run time: once the plan may have written over a donated buffer, every
 * donated input is consumed (reading it throws DonationError), so no half-updated state stays readable;
 * a call that fails before any such write leaves its inputs intact.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  backend,
  DonationError,
  grad,
  jit,
  type Array as NdArray,
  nn,
  np,
  optim,
  setBackend,
  tree,
} from "../../src/index.js";

const backends = ["wasm", "js"] as const;
const initial = backend().name.startsWith("wasm") ? "wasm" : "js";
afterEach(() => setBackend(initial));

interface Params {
  emb: NdArray;
  w: NdArray;
  b: NdArray;
}

const opt = optim.adam({ lr: 0.1 });
const freshParams = (): Params => ({
  emb: np.arange(20).reshape([5, 4]).mul(0.1),
  w: np.ones([4, 3]).mul(0.5),
  b: np.zeros([3]),
});
const loss = (p: Params, ids: NdArray, y: NdArray) =>
  nn.crossEntropy(np.matmul(np.take(p.emb, ids, { axis: 0 }), p.w).add(p.b), y);

/** A training step whose last output reads the updated embedding at `probe` (checked at run time). */
const makeStep = () =>
  jit(
    (params: Params, state: unknown, ids: NdArray, y: NdArray, probe: NdArray) => {
      const grads = grad(loss)(params, ids, y);
      const [updates, state2] = opt.update(grads, state as never, params);
      const next = optim.applyUpdates(params, updates);
      return [next, state2, np.take(next.emb, probe, { axis: 0 })] as const;
    },
    { donateArgnums: [0, 1] },
  );

const ids = np.array([0, 2, 4], { dtype: "int32" });
const y = np.array([1, 0, 2], { dtype: "int32" });

const readable = (leaves: readonly unknown[]) =>
  leaves.filter((leaf) => {
    try {
      (leaf as NdArray).toArray();
      return true;
    } catch (error) {
      expect(error).toBeInstanceOf(DonationError);
      return false;
    }
  }).length;

describe.each(backends)("a donated jit call that fails at run time (%s backend)", (name) => {
  it("consumes every donated input once the plan may have written over one: none stays readable", () => {
    setBackend(name);
    const step = makeStep();
    let params = freshParams();
    let state = opt.init(params);
    // Two good steps first, so the wasm plan keeps params and state in its memory (homes) as it does in training.
    for (let i = 0; i < 2; i++) {
      const [p, s] = step(params, state, ids, y, np.array([1], { dtype: "int32" }));
      params = p;
      state = s;
    }
    const adamState = state as optim.AdamState;
    // What a step writes: the parameters, the count and both moments (the hyperparameters pass through).
    const written = [
      ...tree.leaves(params),
      adamState.count,
      ...tree.leaves(adamState.expAvg),
      ...tree.leaves(adamState.expAvgSq),
    ];
    const passedThrough = tree.leaves(adamState.hyperparams);
    const hyperparams = passedThrough.map((l) => (l as NdArray).toArray());
    expect(() => step(params, state, ids, y, np.array([7], { dtype: "int32" }))).toThrow(
      "take: index 7 is out of bounds for axis 0 with size 5",
    );
    expect(readable(written)).toBe(0);
    expect(passedThrough.map((l) => (l as NdArray).toArray())).toEqual(hyperparams);
    expect(() => params.w.add(1)).toThrow(/whose call failed/);
  });

  it("leaves the inputs readable and unchanged when it fails before writing over any of them", () => {
    setBackend(name);
    const step = makeStep();
    const params = freshParams();
    const state = opt.init(params);
    const before = [...tree.leaves(params), ...tree.leaves(state)].map((l) => (l as NdArray).toArray());
    const badLabels = np.array([1, 3, 2], { dtype: "int32" });
    expect(() => step(params, state, ids, badLabels, np.array([1], { dtype: "int32" }))).toThrow(RangeError);
    const after = [...tree.leaves(params), ...tree.leaves(state)].map((l) => (l as NdArray).toArray());
    expect(after).toEqual(before);
  });

  it("checks labels before any update even when the loss that reads them comes after it", () => {
    setBackend(name);
    // The update is traced first; the validation loss on the updated parameters reads the labels last.
    const stepThenValidate = jit(
      (params: Params, state: unknown, yValid: NdArray) => {
        const grads = grad(loss)(params, ids, y);
        const [updates, state2] = opt.update(grads, state as never, params);
        const next = optim.applyUpdates(params, updates);
        return [next, state2, loss(next, ids, yValid)] as const;
      },
      { donateArgnums: [0, 1] },
    );
    const params = freshParams();
    const state = opt.init(params);
    const before = [...tree.leaves(params), ...tree.leaves(state)].map((l) => (l as NdArray).toArray());
    expect(() => stepThenValidate(params, state, np.array([0, 9, 1], { dtype: "int32" }))).toThrow(
      "crossEntropy: target 9 at flat index 1 is out of range for 3 classes (ignoreIndex is -100)",
    );
    const after = [...tree.leaves(params), ...tree.leaves(state)].map((l) => (l as NdArray).toArray());
    expect(after).toEqual(before);
  });
});

describe("donation misuse", () => {
  it("throws DonationError (exported from the root) naming what went wrong", () => {
    const step = jit((w: NdArray, g: NdArray) => w.sub(g), { donateArgnums: 0 });
    const w = np.array([1, 2, 3]);
    step(w, np.ones([3]));
    expect(() => w.add(1)).toThrow(DonationError);
    expect(() => w.add(1)).toThrow(
      "this float32[3] array was donated to a jitted function (donateArgnums) and its buffer reused; use the function's outputs instead",
    );
    expect(() => step(w, np.ones([3]))).toThrow(DonationError);
    const both = jit((a: NdArray, b: NdArray) => a.add(b), { donateArgnums: [0, 1] });
    const x = np.ones([2]);
    expect(() => both(x, x)).toThrow(DonationError);
    expect(() => both(x, x)).toThrow(
      /jit\(.*\): a donated array is passed more than once \(argument leaves 0 and 1\)/,
    );
    expect(x.toArray()).toEqual([1, 1]);
  });
});
