import { describe, expect, it } from "vitest";
import { jit, np, optim, ShapeError } from "../../src/index.js";

const params = { conv1: { weight: np.zeros([2, 3]), bias: np.zeros([2]) } };
const grads = { conv1: { weight: np.ones([2, 3]), bias: np.ones([2]) } };

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("optim.applyUpdates takes updates of exactly the params' structure, shapes and dtypes", () => {
  it("does not broadcast an update of another shape", () => {
    const e = thrown(() => optim.applyUpdates({ w: np.zeros([2]) }, { w: np.ones([2, 1]) }));
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toBe("optim.applyUpdates: the update at w has shape [2,1] but the param has [2]");
    const nested = thrown(() =>
      optim.applyUpdates(params, { conv1: { weight: np.ones([1, 3]), bias: np.ones([2]) } }),
    );
    expect(nested.message).toMatch(/the update at conv1\.weight has shape \[1,3\] but the param has \[2,3\]/);
  });

  it("does not cast an update of another dtype", () => {
    const e = thrown(() =>
      optim.applyUpdates({ w: np.zeros([2]) }, { w: np.ones([2], { dtype: "float64" }) }),
    );
    expect(e).toBeInstanceOf(ShapeError);
    expect(e.message).toMatch(/the update at w is float64 but the param is float32/);
  });

  it("checks under jit too (at trace time)", () => {
    expect(() => jit(optim.applyUpdates)({ w: np.zeros([2]) }, { w: np.ones([1]) })).toThrow(
      /the update at w has shape \[1\] but the param has \[2\]/,
    );
  });

  it("still adds matching updates", () => {
    expect(optim.applyUpdates(params, grads).conv1.bias.toArray()).toEqual([1, 1]);
  });
});

describe("optimizers take gradients of exactly the params' shapes", () => {
  it("SGD without momentum: a [1] gradient for a [2] param is an error (from update with params, or from applyUpdates)", () => {
    const sgd = optim.sgd({ lr: 0.1 });
    const p = { w: np.zeros([2]) };
    const g = { w: np.ones([1]) };
    const state = sgd.init(p);
    expect(() => sgd.update(g, state, p)).toThrow(
      /sgd\.update: the gradient at w has shape \[1\] but the params has \[2\]/,
    );
    const [updates] = sgd.update(g, state);
    expect(() => optim.applyUpdates(p, updates)).toThrow(ShapeError);
  });

  it("Adam: a gradient of another dtype than the param is an error naming the path", () => {
    const adam = optim.adam();
    const state = adam.init(params);
    const g64 = { conv1: { weight: np.ones([2, 3], { dtype: "float64" }), bias: np.ones([2]) } };
    expect(() => adam.update(g64, state, params)).toThrow(
      /adam\.update: the gradient at conv1\.weight is float64 but the params is float32/,
    );
  });
});

describe("update without its state names what is missing", () => {
  const cases: [string, optim.GradientTransformation][] = [
    ["adam", optim.adam()],
    ["adamw", optim.adamw()],
    ["sgd", optim.sgd({ lr: 0.1, momentum: 0.9 })],
    ["rmsprop", optim.rmsprop()],
    ["adagrad", optim.adagrad()],
  ];
  it.each(cases)("%s", (name, opt) => {
    const update = opt.update as (g: unknown, s?: unknown, p?: unknown) => unknown;
    expect(() => update(grads)).toThrow(
      new RegExp(
        `^${name}\\.update: the optimizer state is missing \\(got undefined\\): call update\\(grads, state, params\\) with the state from ${name}\\(\\.\\.\\.\\)\\.init\\(params\\)`,
      ),
    );
    expect(() => update(grads, { count: np.scalar(0, "int32") })).toThrow(
      new RegExp(`^${name}\\.update: the state has no `),
    );
    expect(() => update(undefined, opt.init(params))).toThrow(
      new RegExp(`^${name}\\.update: the gradients are missing`),
    );
  });

  it("swapped arguments (params where the state goes) are caught too", () => {
    const adam = optim.adam();
    const update = adam.update as (g: unknown, s: unknown) => unknown;
    expect(() => update(grads, params)).toThrow(/adam\.update: the state has no count, expAvg, expAvgSq/);
  });

  it("scaleByLearningRate and applyUpdates", () => {
    const t = optim.scaleByLearningRate(0.1);
    expect(() => (t.update as (g: unknown) => unknown)(grads)).toThrow(
      /scaleByLearningRate\.update: the optimizer state is missing/,
    );
    expect(() => (optim.applyUpdates as (p: unknown) => unknown)(params)).toThrow(
      /applyUpdates: the updates are missing/,
    );
  });
});
