/** The README's first example, runnable: `npx tsx docs/examples/quickstart.ts`. */
import { grad, jit, type NdArray, np, vmap } from "tracegrad";

export function main(): { before: number; after: number; perExampleShape: readonly number[] } {
  // A pure function of a parameter tree.
  const loss = (p: { w: NdArray; b: NdArray }, x: NdArray, y: NdArray) =>
    np.mean(np.square(np.tanh(np.matmul(x, p.w).add(p.b)).sub(y)));

  const params = { w: np.zeros([3, 1]), b: np.zeros([1]) };
  const x = np.array([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const y = np.array([[0.5], [-0.5]]);

  const step = jit((p: typeof params) => {
    const g = grad(loss)(p, x, y); // same tree structure as p
    return { w: p.w.sub(g.w.mul(0.03)), b: p.b.sub(g.b.mul(0.03)) };
  });
  let trained = params;
  for (let i = 0; i < 100; i++) trained = step(trained);
  console.log(loss(params, x, y).item(), "->", loss(trained, x, y).item());

  // Per-example gradients: map grad over the batch axis of x and y, not over the parameters.
  const perExample = vmap(grad(loss), { inAxes: [null, 0, 0] })(trained, x, y);
  console.log(perExample.w.shape); // [2, 3, 1]: one gradient of w per example

  return {
    before: loss(params, x, y).item(),
    after: loss(trained, x, y).item(),
    perExampleShape: perExample.w.shape,
  };
}

if (process.argv[1] && /quickstart\.ts$/.test(process.argv[1])) main();
