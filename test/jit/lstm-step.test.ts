import { describe, expect, it } from "vitest";
import {
  jit,
  layers,
  type Array as NdArray,
  nn,
  np,
  optim,
  random,
  scan,
  switchCase,
  tree,
  valueAndGrad,
  whileLoop,
} from "../../src/index.js";
import { countAllocatedBytes } from "../helpers/allocations.js";
import { expectClose } from "../helpers/numeric.js";

// An LSTM training step is two scans (the forward recurrence, and the reverse scan of its transpose)
// between GEMMs; the scans' bodies run as sub-plans in the plan's memory, writing their rows and carries
// in place.
describe("a jitted LSTM training step in steady state", () => {
  const [seq, batch, hidden] = [6, 3, 8];
  const model = layers.lstm(hidden, hidden);
  const optimizer = optim.sgd({ lr: 0.01, momentum: 0.9 });
  type Params = ReturnType<typeof model.init>;
  type State = ReturnType<typeof optimizer.init>;
  const loss = (p: Params, xb: NdArray, yb: NdArray) => nn.mseLoss(model.apply(p, xb)[0], yb);
  const step = (p: Params, s: State, lossSum: NdArray, xb: NdArray, yb: NdArray) => {
    const [value, grads] = valueAndGrad(loss)(p, xb, yb);
    const [updates, next] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), next, lossSum.add(value)] as const;
  };
  const x = random.normal(random.key(1), [seq, batch, hidden]);
  const target = random.normal(random.key(2), [seq, batch, hidden]);

  it("allocates no ArrayBuffer bytes when parameters, optimizer state and loss sum are donated", () => {
    const jitted = jit(step, { donateArgnums: [0, 1, 2] });
    let params = model.init(random.key(0));
    let state = optimizer.init(params);
    let lossSum = np.zeros([]);
    for (let i = 0; i < 3; i++) [params, state, lossSum] = jitted(params, state, lossSum, x, target);
    const bytes = countAllocatedBytes(() => {
      for (let i = 0; i < 5; i++) [params, state, lossSum] = jitted(params, state, lossSum, x, target);
    });
    expect(bytes).toBe(0);
    expect(jitted.cacheInfo().misses).toBe(1);
  });

  it("computes the eager step's float64 parameters to 1e-12", () => {
    const f64 = (a: NdArray) => a.astype("float64");
    const [xs, ys] = [f64(x), f64(target)];
    const jitted = jit(step, { donateArgnums: [0, 1, 2] });
    let [pe, pj] = [tree.map(f64, model.init(random.key(0))), tree.map(f64, model.init(random.key(0)))];
    let [se, sj] = [optimizer.init(pe), optimizer.init(pj)];
    let [le, lj] = [np.zeros([], { dtype: "float64" }), np.zeros([], { dtype: "float64" })];
    for (let i = 0; i < 3; i++) {
      [pe, se, le] = step(pe, se, le, xs, ys);
      [pj, sj, lj] = jitted(pj, sj, lj, xs, ys);
    }
    expectClose(lj, le, 1e-12, 1e-14);
    for (const name of Object.keys(pe)) expectClose(pj[name]!, pe[name]!, 1e-12, 1e-14);
  });
});

describe("control flow in a jit plan allocates nothing per call", () => {
  const x = random.normal(random.key(3), [5, 4]);
  /** Bytes allocated by three calls after the first; each returns one fresh float32 scalar (4 bytes). */
  const bytesPerThreeCalls = (f: (a: NdArray) => NdArray) => {
    const jitted = jit(f);
    jitted(x);
    return countAllocatedBytes(() => {
      for (let i = 0; i < 3; i++) jitted(x);
    });
  };

  it("scan: rows of ys written in place, carries alternating between two buffers", () => {
    const f = (a: NdArray) => {
      const [carry, ys] = scan(
        (c: NdArray, row: NdArray): [NdArray, NdArray] => {
          const next = np.tanh(c.mul(row).add(row));
          return [next, next.mul(2)];
        },
        np.ones([4]),
        a,
      );
      return np.sum(ys).add(np.sum(carry));
    };
    expect(bytesPerThreeCalls(f)).toBe(3 * 4);
  });

  it("whileLoop and switchCase", () => {
    const f = (a: NdArray) => {
      const [, y] = whileLoop(
        ([i]: NdArray[]) => i!.less(7),
        ([i, v]: NdArray[]) => [i!.add(1), np.sin(v!).add(0.5)],
        [np.zeros([], { dtype: "int32" }), a],
      );
      const index = np.sum(a).greater(0).astype("int32");
      return np.sum(switchCase(index, [(v: NdArray) => v.mul(2), (v: NdArray) => v.sub(1)], y!));
    };
    expect(bytesPerThreeCalls(f)).toBe(3 * 4);
  });
});
