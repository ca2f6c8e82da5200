/**
 * The code of gradient-checking.md: testing.checkGrads against finite differences, property tests with
 * fast-check, and assertAllClose. test/examples/guides.test.ts runs every function.
 */
import * as fc from "fast-check";
import { customVjp, grad, type NdArray, nn, np, tree } from "tracegrad";
import { testing } from "tracegrad/testing";

export function checkAFunction() {
  // A small model's loss, as a function of a parameter tree and an input.
  const params = {
    w: np.array([
      [0.3, -0.7],
      [1.1, 0.2],
    ]),
    b: np.array([0.1, -0.4]),
  };
  const x = np.array([0.5, -1.5]);
  const loss = (p: typeof params, input: NdArray) => np.sum(np.tanh(np.matmul(p.w, input).add(p.b)).square());
  // Forward (jvp) and reverse (vjp) derivatives against central differences, in float64.
  const report = testing.checkGrads(loss, [params, x]);
  // Second derivatives too (jvp of vjp, vjp of vjp, ...).
  const second = testing.checkGrads(loss, [params, x], { order: 2 });
  return { comparisons: report.comparisons, secondOrder: second.comparisons };
}

export function catchAWrongDerivative() {
  // x ↦ x², with a hand-written backward pass that forgot the factor 2.
  const square = customVjp(
    (x: NdArray) => x.square(),
    (x: NdArray) => [x.square(), x] as [NdArray, NdArray],
    (x: NdArray, g: NdArray) => [g.mul(x)] as [NdArray], // should be g * 2x
  );
  let message = "";
  try {
    // customVjp defines only the reverse mode, so check that one.
    testing.checkGrads((v: NdArray) => square(v).sum(), [np.array([1, 2, 3])], { modes: ["rev"] });
  } catch (error) {
    if (error instanceof testing.GradientCheckError) message = error.message;
  }
  return { message };
}

export function propertyTest() {
  // For every input fast-check draws (away from relu's kink at 0), the gradient matches the differences.
  const f = (x: NdArray) => nn.relu(x).mul(np.sin(x)).sum();
  fc.assert(
    fc.property(testing.arb.array({ shape: [4], avoid: [0] }), (x) => {
      testing.checkGrads(f, [x]);
    }),
    testing.propertyParameters(), // { numRuns } from LAWS_RUNS (default 20), and LAWS_SEED to replay
  );
  // Trees of arrays, for functions of parameter trees:
  const total = (t: testing.Tree<NdArray>) =>
    tree.leaves(t).reduce((sum, leaf) => sum.add(np.sin(leaf).mul(leaf).sum()), np.scalar(0, "float64"));
  let trees = 0;
  fc.assert(
    fc.property(testing.arb.tree(testing.arb.array({ shape: [2] })), (t) => {
      testing.checkGrads(total, [t]);
      trees += 1;
    }),
    testing.propertyParameters({ scale: 0.5 }), // half the runs: an expensive property
  );
  return { trees };
}

export function compareTrees() {
  const f = (x: NdArray) => np.sum(np.exp(x));
  const x = np.array([0, 1, 2], { dtype: "float64" });
  // Passes: grad(sum(exp(x))) is exp(x).
  testing.assertAllClose(grad(f)(x), np.exp(x), { rtol: 1e-12 });
  let message = "";
  try {
    testing.assertAllClose({ w: np.array([1, 2, 3]) }, { w: np.array([1, 2, 3.1]) }, { name: "params" });
  } catch (error) {
    if (error instanceof testing.AllCloseError) message = error.message; // names the path: w[2]
  }
  return { message };
}
