/**
 * The code of transforms.md: grad, vjp/jvp, Jacobians and Hessians (of pytrees too), vmap (axisSize)
 * and per-example gradients, stopGradient, customVjp, customJvp, evalShape, and how they compose.
 * test/examples/guides.test.ts runs every function.
 */
import {
  customJvp,
  customVjp,
  evalShape,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jit,
  jvp,
  linearize,
  type NdArray,
  np,
  stopGradient,
  valueAndGrad,
  vjp,
  vmap,
} from "tracegrad";

export function gradients() {
  const f = (x: NdArray) => np.sum(np.sin(x).mul(x));
  const x = np.array([0, 1, 2]);
  const df = grad(f)(x); // sin(x) + x cos(x), elementwise
  const [value, sameGradient] = valueAndGrad(f)(x);

  // With respect to several arguments, and with an auxiliary output that is not differentiated.
  const loss = (w: NdArray, b: NdArray) => np.sum(w.mul(2).add(b).square());
  const [dw, db] = grad(loss, { argnums: [0, 1] })(np.ones([3]), np.zeros([3])) as [NdArray, NdArray];
  const withAux = (w: NdArray) => {
    const y = w.square();
    return [np.sum(y), { largest: np.max(y) }] as const;
  };
  const [dWithAux, aux] = grad(withAux, { hasAux: true })(np.array([1, -3]));
  return { df, value, sameGradient, dw, db, dWithAux, aux };
}

export function higherDerivatives() {
  const cube = (x: NdArray) => x.mul(x).mul(x);
  const d2 = grad(grad(cube))(np.scalar(2)); // d²/dx² x³ = 6x = 12
  const d3 = grad(grad(grad(cube)))(np.scalar(2)); // 6
  return { d2, d3 };
}

export function forwardAndReverse() {
  const f = (x: NdArray) => np.stack([x.sum(), x.square().sum()]); // R^3 -> R^2
  const x = np.array([1, 2, 3]);

  // Forward mode: the output and J·v for a tangent v, in one pass.
  const [y, jv] = jvp(f, [x], [np.array([1, 0, 0])]); // jv = column 0 of J = [1, 2]

  // Reverse mode: the output and a function for uᵀ·J, one pass per cotangent u.
  const [y2, pullback] = vjp(f, x);
  const [uj] = pullback(np.array([0, 1])); // row 1 of J = 2x = [2, 4, 6]

  // linearize: evaluate once, then apply J to as many tangents as you like.
  const [, applyJ] = linearize(f, x);
  const jv2 = applyJ(np.array([0, 1, 0])); // column 1 of J = [1, 4]
  return { y, jv, y2, uj, jv2 };
}

export function jacobiansAndHessians() {
  const f = (x: NdArray) => np.stack([x.sum(), x.square().sum()]);
  const x = np.array([1, 2, 3]);
  const forward = jacfwd(f)(x); // [2, 3]: one jvp per input coordinate
  const reverse = jacrev(f)(x); // the same, one vjp per output coordinate
  const cubes = (v: NdArray) => v.mul(v).mul(v).sum();
  const h = hessian(cubes)(x); // diag(6x): jacfwd(jacrev(f))
  return { forward, reverse, h };
}

export function pytreeJacobians() {
  const model = (p: { w: NdArray; b: NdArray }, x: NdArray) => ({
    y: np.matmul(x, p.w).add(p.b), // [2]
    norm: p.w.square().sum(), // []
  });
  const p = { w: np.ones([3, 2]), b: np.zeros([2]) };
  const x = np.array([1, 2, 3]);
  const J = jacrev(model)(p, x);
  // J.y.w: [2, 3, 2], J.y.b: [2, 2], J.norm.w: [3, 2], J.norm.b: [2]
  const [dParams, dInput] = jacfwd(model, { argnums: [0, 1] })(p, x).y; // [{ w, b }, [2, 3]]
  const [Jy, aux] = jacfwd((v: NdArray) => [v.square(), { max: v.max() }] as const, { hasAux: true })(x);
  const H = hessian((q: { a: NdArray; b: NdArray }) => q.a.mul(q.b).sum())({ a: x, b: x });
  // H.a.b = identity [3, 3]: the mixed second derivative; H.a.a = zeros
  return { J, dParams, dInput, Jy, aux, H };
}

export function batching() {
  const dot = (a: NdArray, b: NdArray) => np.sum(a.mul(b)); // written for one pair of vectors
  const as = np.array([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const bs = np.array([
    [1, 0],
    [0, 1],
    [1, 1],
  ]);
  const dots = vmap(dot)(as, bs); // [1, 4, 11]: mapped over axis 0 of both
  const withOne = vmap(dot, { inAxes: [0, null] })(as, np.array([1, -1])); // b is shared: [-1, -1, -1]
  return { dots, withOne };
}

export function axisSize() {
  const noise = (scale: NdArray) => np.ones([2]).mul(scale);
  const copies = vmap(noise, { inAxes: null, axisSize: 4 })(np.scalar(0.5)); // [4, 2]
  return { copies };
}

export function perExampleGradients() {
  // A linear model's squared error on ONE example...
  const loss = (w: NdArray, x: NdArray, y: NdArray) => np.dot(x, w).sub(y).square();
  const w = np.array([0.5, -0.5]);
  const xs = np.array([
    [1, 2],
    [3, 4],
    [5, 6],
    [7, 8],
  ]);
  const ys = np.array([1, 0, 1, 0]);
  // ...and its gradient for every example of a batch at once: w is shared, x and y are mapped.
  const perExample = vmap(grad(loss), { inAxes: [null, 0, 0] })(w, xs, ys); // [4, 2]
  // Their mean is the gradient of the mean loss.
  const meanLoss = (v: NdArray) => np.mean(vmap(loss, { inAxes: [null, 0, 0] })(v, xs, ys));
  const batchGradient = grad(meanLoss)(w);
  const mean = np.mean(perExample, { axis: 0 });
  // Per-example norms, e.g. to clip each example's gradient (DP-SGD).
  const norms = np.sqrt(np.sum(perExample.square(), { axis: 1 }));
  return { perExample, batchGradient, mean, norms };
}

export function stoppingGradients() {
  // Round in the forward pass, identity in the backward pass (a straight-through estimator).
  const roundStraightThrough = (x: NdArray) => x.add(stopGradient(np.round(x).sub(x)));
  const x = np.array([0.2, 1.7]);
  const rounded = roundStraightThrough(x); // [0, 2]
  const slope = grad((v: NdArray) => roundStraightThrough(v).sum())(x); // [1, 1], not [0, 0]
  return { rounded, slope };
}

export function customDerivatives() {
  // The identity, with a backward pass that clips the incoming gradient to [-1, 1].
  const clipGradient = customVjp(
    (x: NdArray) => x,
    (x: NdArray) => [x, null] as [NdArray, null], // output, and what the backward pass needs (nothing)
    (_saved: null, g: NdArray) => [np.clip(g, -1, 1)] as [NdArray], // one cotangent per argument
  );
  const f = (x: NdArray) => clipGradient(x).mul(10).sum();
  const g = grad(f)(np.array([1, 2])); // the 10 flowing back is clipped to 1: [1, 1], not [10, 10]

  // A numerically stable derivative: log(1 + e^x) has derivative sigmoid(x), which never overflows.
  const softplus = customVjp(
    (x: NdArray) => np.log1p(np.exp(x)),
    (x: NdArray) => [np.log1p(np.exp(x)), x] as [NdArray, NdArray],
    (x: NdArray, g: NdArray) => [g.mul(np.sigmoid(x))] as [NdArray],
  );
  const slope = grad((x: NdArray) => softplus(x).sum())(np.array([0, 100])); // [0.5, 1]
  return { g, slope };
}

export function customForwardRules() {
  const log1pexp = customJvp((x: NdArray) => np.log(np.add(1, np.exp(x))));
  log1pexp.defjvp(([x], [t]) => [log1pexp(x), t.mul(np.subtract(1, np.divide(1, np.add(1, np.exp(x)))))]);
  const x = np.array([0, 10, 100]);
  const forward = jvp(log1pexp, [x], [np.ones([3])])[1]; // [0.5, 0.99995, 1]
  const reverse = grad((v: NdArray) => log1pexp(v).sum())(x); // the same, by linearizing the rule
  const nested = jit(vmap(grad(log1pexp)))(x); // composes with jit and vmap too
  const naive = grad((v: NdArray) => np.log(np.add(1, np.exp(v))).sum())(x); // [0.5, 0.99995, NaN]

  // defjvps: one term per argument, each linear in its tangent (null: the argument does not contribute).
  const scaleBy = customJvp((a: NdArray, b: NdArray) => a.mul(b));
  scaleBy.defjvps(
    (ta, _out, _a, b) => ta.mul(b),
    (tb, _out, a) => tb.mul(a),
  );
  const [da, db] = grad((a: NdArray, b: NdArray) => scaleBy(a, b).sum(), { argnums: [0, 1] })(x, x.mul(2));
  return { forward, reverse, nested, naive, da, db };
}

export function shapesWithoutComputing() {
  const layer = (p: { w: NdArray; b: NdArray }, x: NdArray) => np.tanh(np.matmul(x, p.w).add(p.b));
  const params = {
    w: { shape: [784, 512], dtype: "float32" },
    b: { shape: [512], dtype: "float32" },
  } as const;
  const out = evalShape(layer, params, { shape: [100_000, 784], dtype: "float32" }); // shape [100000, 512]
  const gradShapes = evalShape(
    grad((p: { w: NdArray; b: NdArray }) => layer(p, np.ones([1, 784])).sum()),
    params,
  );
  return { out, gradShapes };
}

export function composition() {
  const loss = (w: NdArray, x: NdArray) => np.tanh(np.dot(x, w)).square();
  const w = np.array([0.1, 0.2, 0.3]);
  const xs = np.ones([5, 3]);
  // Per-example gradients, compiled: transforms nest in any order.
  const fast = jit(vmap(grad(loss), { inAxes: [null, 0] }));
  const perExample = fast(w, xs); // [5, 3]
  // Hessian-vector product without forming the Hessian: forward mode over reverse mode.
  const total = (v: NdArray) => loss(v, np.array([1, 2, 3]));
  const hvp = (v: NdArray, t: NdArray) => jvp(grad(total), [v], [t])[1];
  const hv = hvp(w, np.array([1, 0, 0]));
  const firstColumn = np.take(hessian(total)(w), 0, { axis: 1 }); // the same numbers
  return { perExample, hv, firstColumn };
}
