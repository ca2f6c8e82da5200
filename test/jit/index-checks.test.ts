/**
 * Index checks hold in compiled plans as they do eagerly: every op that indexes with data (class labels
 * of nllLoss and crossEntropy, take, takeAlongAxis, scatterAdd, and the scatter in take's gradient)
 * throws the same RangeError (naming the op, the bad index and the valid range) eagerly and jitted, on
 * both backends; an ignored label is not an error. So does binaryCrossEntropy's check of its
 * probabilities.
 */
import { afterEach, describe, expect, it } from "vitest";
import { backend, grad, jit, type Array as NdArray, nn, np, setBackend, vmap } from "../../src/index.js";
import { countAllocatedBytes } from "../helpers/allocations.js";

const initial = backend().name.startsWith("wasm") ? "wasm" : "js";
afterEach(() => setBackend(initial));

const i32 = (values: number[] | number[][]) => np.array(values, { dtype: "int32" });

/** The error `f` throws, as its class and message (fails the test when it returns). */
function errorOf(f: () => unknown): { type: string; message: string } {
  try {
    f();
  } catch (error) {
    return { type: (error as Error).constructor.name, message: (error as Error).message };
  }
  throw new Error("expected an error, got a value");
}

type Case = [name: string, fn: (...xs: NdArray[]) => NdArray, args: () => NdArray[], message: string];

const cases: Case[] = [
  [
    "crossEntropy with a label past the last class",
    (x, t) => nn.crossEntropy(x, t),
    () => [np.zeros([2, 10]), i32([3, 10])],
    "crossEntropy: target 10 at flat index 1 is out of range for 10 classes (ignoreIndex is -100)",
  ],
  [
    "crossEntropy with labels -1",
    (x, t) => nn.crossEntropy(x, t),
    () => [np.zeros([2, 10]), i32([-1, -1])],
    "crossEntropy: target -1 at flat index 0 is out of range for 10 classes (ignoreIndex is -100)",
  ],
  [
    "the gradient of crossEntropy",
    (x, t) => grad((z: NdArray) => nn.crossEntropy(z, t!))(x!) as NdArray,
    () => [
      np.zeros([2, 4, 3]),
      i32([
        [0, 1, 2],
        [3, 4, 0],
      ]),
    ],
    "crossEntropy: target 4 at flat index 4 is out of range for 4 classes (ignoreIndex is -100)",
  ],
  [
    "nllLoss",
    (x, t) => nn.nllLoss(x, t, { ignoreIndex: -1 }),
    () => [np.zeros([3, 5]), i32([-1, 5, 0])],
    "nllLoss: target 5 at flat index 1 is out of range for 5 classes (ignoreIndex is -1)",
  ],
  [
    "take",
    (x, i) => np.take(x, i, { axis: 0 }),
    () => [np.ones([3, 2]), i32([0, -4])],
    "take: index -4 is out of bounds for axis 0 with size 3",
  ],
  [
    "take under vmap",
    (x, i) => vmap((row: NdArray) => np.take(row, i!))(x!) as NdArray,
    () => [np.ones([3, 2]), i32([1, 2])],
    "take: index 2 is out of bounds for axis 1 with size 2",
  ],
  [
    "the gradient of take (a scatter-add)",
    (x, i) => grad((z: NdArray) => np.take(z, i!, { axis: 1 }).sum())(x!) as NdArray,
    () => [np.ones([3, 2]), i32([1, 7])],
    "take: index 7 is out of bounds for axis 1 with size 2",
  ],
  [
    "takeAlongAxis",
    (x, i) => np.takeAlongAxis(x, i, { axis: 1 }),
    () => [np.ones([2, 3]), i32([[0], [3]])],
    "takeAlongAxis: index 3 is out of bounds for axis 1 with size 3",
  ],
  [
    "scatterAdd",
    (x, i) => np.scatterAdd(x, i, 1, { axis: 0 }),
    () => [np.zeros([2, 3]), i32([2])],
    "scatterAdd: index 2 is out of bounds for axis 0 with size 2",
  ],
  [
    "binaryCrossEntropy with a value that is not a probability",
    (p, y) => nn.binaryCrossEntropy(p, y),
    () => [np.array([0.5, 1.5]), np.array([1, 0])],
    "binaryCrossEntropy: input 1.5 at flat index 1 is not a probability in [0, 1]",
  ],
];

describe.each(["wasm", "js"] as const)("index checks on the %s backend", (name) => {
  it.each(cases)(
    "%s: the same RangeError eagerly, jitted, and from the cached plan",
    (_, fn, args, message) => {
      setBackend(name);
      const eager = errorOf(() => fn(...args()));
      expect(eager).toEqual({ type: "RangeError", message });
      const jitted = jit(fn);
      expect(errorOf(() => jitted(...args()))).toEqual(eager);
      expect(errorOf(() => jitted(...args()))).toEqual(eager);
    },
  );

  it("skips ignored labels under jit as eagerly, and the jitted loss equals the eager one", () => {
    setBackend(name);
    const logits = np.array([
      [1, 2, 3],
      [0.5, -1, 2],
      [3, 0, 0],
    ]);
    const ce = (x: NdArray, t: NdArray) => nn.crossEntropy(x, t);
    const withIgnored = i32([2, -100, 0]);
    expect(jit(ce)(logits, withIgnored).item()).toBe(ce(logits, withIgnored).item());
    const nll = (x: NdArray, t: NdArray) => nn.nllLoss(x, t, { ignoreIndex: 7 });
    const labels = i32([7, 1, 7]);
    expect(jit(nll)(logits, labels).item()).toBe(nll(logits, labels).item());
    expect(nll(logits, labels).item()).toBe(1);
  });
});

describe("indexing in a compiled plan", () => {
  it.each(["wasm", "js"] as const)(
    "a donated step that gathers rows and scatters their gradient allocates nothing in steady state (%s)",
    (name) => {
      setBackend(name);
      const loss = (emb: NdArray, ids: NdArray, y: NdArray) => {
        const logits = np.take(emb, ids, { axis: 0 });
        const picked = np.takeAlongAxis(logits, y.reshape([-1, 1]), { axis: 1 });
        return nn.crossEntropy(logits, y).add(picked.sum());
      };
      const step = jit(
        (emb: NdArray, ids: NdArray, y: NdArray) => emb.sub(grad(loss)(emb, ids, y).mul(0.1)),
        {
          donateArgnums: 0,
        },
      );
      const ids = i32([0, 3, 3, 1]);
      const y = i32([1, 0, 0, 0]);
      const start = np
        .array([
          [0, 0.25],
          [0.5, 0.75],
          [1, 1.25],
          [1.5, 1.75],
        ])
        .astype("float64");
      let emb = start;
      let eager = start.add(0);
      for (let i = 0; i < 3; i++) {
        emb = step(emb, ids, y);
        eager = eager.sub((grad(loss)(eager, ids, y) as NdArray).mul(0.1));
      }
      expect(emb.toArray()).toEqual(eager.toArray());
      const bytes = countAllocatedBytes(() => {
        for (let i = 0; i < 5; i++) emb = step(emb, ids, y);
      });
      expect(bytes).toBe(0);
    },
  );
});
