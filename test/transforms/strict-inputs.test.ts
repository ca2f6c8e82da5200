import { describe, expect, it } from "vitest";
import {
  grad,
  hessian,
  jacfwd,
  jacrev,
  jit,
  type NdArray,
  np,
  ShapeError,
  testing,
  valueAndGrad,
  vjp,
  vmap,
} from "../../src/index.js";

const f64 = (v: number[]) => np.array(v, { dtype: "float64" });
const i32 = (v: number[]) => np.array(v, { dtype: "int32" });

describe("grad and the Jacobians reject integer and bool inputs, as JAX", () => {
  const castSum = (x: NdArray) => np.sum(x.astype("float32").mul(2));

  it("grad of an int input cast to float inside names the argument and its dtype", () => {
    expect(() => grad(castSum)(i32([1, 2]))).toThrow(
      /grad requires float inputs \(float32 or float64\), but argument 0 is int32\[2\].*use vjp, or set allowInt: true/,
    );
    expect(() => valueAndGrad(castSum)(np.array([true, false]))).toThrow(
      /valueAndGrad requires float inputs .* argument 0 is bool\[2\]/,
    );
  });

  it("names the position and the tree path of the offending leaf", () => {
    const loss = (_a: NdArray, p: { layer: { w: NdArray; steps: NdArray } }) =>
      np.sum(p.layer.w.mul(p.layer.steps.astype("float64")));
    const params = { layer: { w: f64([1, 2]), steps: i32([3, 4]) } };
    expect(() => grad(loss, { argnums: 1 })(f64([0]), params)).toThrow(
      /but argument 1 at layer\.steps is int32\[2\]/,
    );
    expect(() => jit(grad(loss, { argnums: [0, 1] }))(f64([0]), params)).toThrow(
      /argument 1 at layer\.steps/,
    );
  });

  it("allowInt gives zeros of the input's dtype", () => {
    const g = grad(castSum, { allowInt: true })(i32([1, 2]));
    expect(g.dtype).toBe("int32");
    expect(g.toArray()).toEqual([0, 0]);
    // vjp needs no opt-in (as JAX).
    const [, back] = vjp(castSum, i32([1, 2]));
    expect((back(np.scalar(1)) as [NdArray])[0].toArray()).toEqual([0, 0]);
  });

  it("jacrev, jacfwd and hessian reject them too", () => {
    const f = (x: NdArray) => x.astype("float64").mul(3);
    expect(() => jacrev(f)(i32([1, 2]))).toThrow(/jacrev requires float inputs .* argument 0 is int32\[2\]/);
    expect(jacrev(f, { allowInt: true })(i32([1, 2])).toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(() => jacfwd(f)(i32([1, 2]))).toThrow(/jacfwd requires float inputs .* use jvp directly/);
    expect(() => hessian((x: NdArray) => np.sum(f(x)))(i32([1, 2]))).toThrow(/hessian requires float inputs/);
    expect(() => jacfwd(f, { allowInt: true } as never)).toThrow(/jacfwd: unknown option 'allowInt'/);
  });
});

describe("testing.checkGrads never passes on nothing", () => {
  it("an int input alone is an error naming it, not success with 0 comparisons", () => {
    expect(() => testing.checkGrads((x: NdArray) => np.sum(x.astype("float64")), [i32([1, 2])])).toThrow(
      /checkGrads: no float input to differentiate with respect to \(args\.0 is int32\[2\]\)/,
    );
  });

  it("so are int and bool inputs with a JS number", () => {
    expect(() =>
      testing.checkGrads(
        (x: NdArray, k: number) => np.sum(x.astype("float64")).mul(k),
        [np.array([true]), 2],
      ),
    ).toThrow(/no float input .*args\.0 is bool\[1\], args\.1 is the number 2/);
  });
});

describe("vmap", () => {
  it("inconsistent axis sizes are a ShapeError naming each argument, axis and size (JAX's message)", () => {
    const f = vmap((a: NdArray, b: { w: NdArray }) => a.add(b.w), { inAxes: [0, { w: 1 }] });
    let error: unknown;
    try {
      f(np.ones([3]), { w: np.ones([2, 4]) });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ShapeError);
    expect((error as Error).message).toBe(
      "vmap got inconsistent sizes for array axes to be mapped:\n" +
        "  * one axis had size 3: axis 0 of argument 0 of type float32[3]\n" +
        "  * one axis had size 4: axis 1 of argument 1 at w of type float32[2,4]",
    );
  });

  it("no mapped argument is a ShapeError", () => {
    expect(() => vmap((a: NdArray) => a, { inAxes: null })(np.ones([2]))).toThrow(ShapeError);
  });

  it("inAxes null and outAxes null mean unmapped (as JAX's None), not axis 0", () => {
    const f = vmap((a: NdArray, b: NdArray) => [a.mul(2), b], { inAxes: [0, null], outAxes: [0, null] });
    const [doubled, same] = f(np.ones([3, 2]), np.ones([5])) as NdArray[];
    expect(doubled!.shape).toEqual([3, 2]);
    expect(same!.shape).toEqual([5]);
  });

  it("axisName is rejected: there are no collective operations", () => {
    expect(() => vmap((a: NdArray) => a, { axisName: "batch" } as never)).toThrow(
      /vmap: axisName is not supported: tracegrad has no collective operations/,
    );
  });
});
