import { describe, expect, it } from "vitest";
import {
  checkpoint,
  cond,
  forLoop,
  grad,
  jit,
  jvp,
  makeProgram,
  type Array as NdArray,
  np,
  ShapeDtype,
  scan,
  vmap,
} from "../../src/index.js";
import { expectClose, numericGrad, seededArray } from "../helpers/numeric.js";

// A small recurrent cell: h' = tanh(W h + U x).
const W = seededArray([4, 4], 1).mul(0.5);
const U = seededArray([4, 3], 2);
const cell = (h: NdArray, x: NdArray): [NdArray, NdArray] => {
  const next = np.tanh(np.matmul(W, h).add(np.matmul(U, x)));
  return [next, np.sum(next)];
};
const xs = seededArray([5, 3], 3);
const h0 = seededArray([4], 4);

function unrolled(h: NdArray, rows: NdArray): [NdArray, NdArray] {
  const ys: NdArray[] = [];
  let carry = h;
  for (const x of rows) {
    const [c, y] = cell(carry, x);
    carry = c;
    ys.push(y);
  }
  return [carry, np.stack(ys)];
}

describe("scan", () => {
  it("equals the unrolled loop, forwards and in reverse", () => {
    const [h, ys] = scan(cell, h0, xs);
    const [hRef, ysRef] = unrolled(h0, xs);
    expectClose(h, hRef, 1e-14);
    expectClose(ys, ysRef, 1e-14);
    const [hRev] = scan(cell, h0, xs, { reverse: true });
    const [hRevRef] = unrolled(h0, np.flip(xs, { axis: 0 }));
    expectClose(hRev, hRevRef, 1e-14);
  });

  it("is differentiable in forward and reverse mode (checked by finite differences)", () => {
    const loss = (h: NdArray) => {
      const [hn, ys] = scan(cell, h, xs);
      return np.sum(hn.mul(hn)).add(np.sum(ys));
    };
    const g = grad(loss)(h0);
    expectClose(g, numericGrad(loss, h0), 1e-7);
    const v = seededArray([4], 9);
    const [, t] = jvp(loss, [h0], [v]);
    expect(t.item()).toBeCloseTo(np.sum(g.mul(v)).item(), 12);
    const lossXs = (rows: NdArray) => np.sum(scan(cell, h0, rows)[1]);
    expectClose(grad(lossXs)(xs), numericGrad(lossXs, xs), 1e-7);
  });

  it("works under vmap, jit and jit of grad", () => {
    const hs = seededArray([3, 4], 5);
    const batched = vmap((h: NdArray) => scan(cell, h, xs)[0])(hs);
    const looped = np.stack([...hs].map((h) => scan(cell, h, xs)[0]));
    expectClose(batched, looped, 1e-14);
    const batchedXs = vmap((rows: NdArray) => scan(cell, h0, rows)[1], { inAxes: 1 })(
      np.stack([xs, xs.mul(2)], { axis: 1 }),
    );
    expectClose(batchedXs, np.stack([scan(cell, h0, xs)[1], scan(cell, h0, xs.mul(2))[1]]), 1e-14);
    const loss = (h: NdArray) => np.sum(scan(cell, h, xs)[1]);
    expectClose(jit(loss)(h0), loss(h0), 1e-14);
    expectClose(jit(grad(loss))(h0), grad(loss)(h0), 1e-12);
    // Second order: grad of (grad · v) against finite differences of the gradient.
    const v = seededArray([4], 11);
    const gv = (h: NdArray) => np.sum(grad(loss)(h).mul(v));
    expectClose(grad(gv)(h0), numericGrad(gv, h0), 1e-6);
  });

  it("reverse mode is a scan of the known part and one reverse scan, not an unrolled loop", () => {
    const f = (w: NdArray, h: NdArray, rows: NdArray) => {
      const step = (c: NdArray, x: NdArray): [NdArray, NdArray] => {
        const next = np.tanh(np.matmul(w, c).add(np.matmul(U, x)));
        return [next, np.sum(next)];
      };
      const [hn, ys] = scan(step, h, rows);
      return np.sum(hn.mul(hn)).add(np.sum(ys.mul(ys)));
    };
    const g = grad(f, { argnums: [0, 1, 2] });
    const program = makeProgram(g)(W, h0, xs).toString();
    // One forward scan (stacking residuals) and its transpose, each over the 5 rows; nothing unrolled.
    expect(program.match(/= scan\[length=5 /g)).toHaveLength(2);
    expect(program.match(/= scan\[length=5 numCarry=\d+ reverse /g)).toHaveLength(1);
    expect(program.match(/tanh/g) ?? []).toHaveLength(0);
    const [gw, gh, gx] = g(W, h0, xs);
    expectClose(
      gw,
      numericGrad((w) => f(w, h0, xs), W),
      1e-7,
    );
    expectClose(
      gh,
      numericGrad((h) => f(W, h, xs), h0),
      1e-7,
    );
    expectClose(
      gx,
      numericGrad((x) => f(W, h0, x), xs),
      1e-7,
    );
    const [jw, jh, jx] = jit(g)(W, h0, xs);
    expectClose(jw, gw, 1e-13);
    expectClose(jh, gh, 1e-13);
    expectClose(jx, gx, 1e-13);
  });

  it("checks the carry", () => {
    expect(() => scan((c: NdArray, x: NdArray) => [c.reshape([2, 2]), x], h0, xs)).toThrow(
      /scan: the carry returned by the body differs/,
    );
    expect(() => scan(cell, h0, { a: xs, b: np.ones([4, 3]) } as never)).toThrow(/different leading sizes/);
  });
});

describe("forLoop and cond", () => {
  it("forLoop runs a body n times and differentiates", () => {
    const f = (x: NdArray) =>
      forLoop(4, (i, c: NdArray) => c.mul(0.5).add(np.sin(c)).add(i.astype("float64").mul(0.1)), x);
    let ref = h0;
    for (let i = 0; i < 4; i++)
      ref = ref
        .mul(0.5)
        .add(np.sin(ref))
        .add(0.1 * i);
    expectClose(f(h0), ref, 1e-14);
    const loss = (x: NdArray) => np.sum(f(x));
    expectClose(grad(loss)(h0), numericGrad(loss, h0), 1e-7);
  });

  it("cond picks a branch, eagerly and when traced, and differentiates through it", () => {
    const f = (x: NdArray) =>
      cond(
        np.sum(x).greater(0),
        (v: NdArray) => np.sin(v).mul(2),
        (v: NdArray) => np.cos(v),
        x,
      );
    const pos = np.array([0.5, 1], { dtype: "float64" });
    const neg = pos.neg();
    expectClose(f(pos), np.sin(pos).mul(2), 0);
    expectClose(f(neg), np.cos(neg), 0);
    expectClose(jit(f)(pos), np.sin(pos).mul(2), 1e-15);
    expectClose(jit(f)(neg), np.cos(neg), 1e-15);
    const loss = (x: NdArray) => np.sum(f(x));
    expectClose(grad(loss)(pos), np.cos(pos).mul(2), 1e-15);
    expectClose(grad(loss)(neg), np.sin(neg).neg(), 1e-15);
    expectClose(jit(grad(loss))(neg), np.sin(neg).neg(), 1e-15);
    const [, t] = jvp(f, [pos], [np.onesLike(pos)]);
    expectClose(t, np.cos(pos).mul(2), 1e-15);
    // A batched predicate: every example takes its own branch.
    const both = vmap(f)(np.stack([pos, neg]));
    expectClose(both, np.stack([np.sin(pos).mul(2), np.cos(neg)]), 1e-15);
    expect(makeProgram(f)(new ShapeDtype([2], "float64")).toString()).toMatch(/switch\[branches=/);
  });

  it("cond rejects branches that disagree", () => {
    expect(() =>
      cond(
        np.array(true),
        (v: NdArray) => v,
        (v: NdArray) => v.sum(),
        np.ones([2]),
      ),
    ).toThrow(/cond: the outputs of the true branch differ from those of the false branch/);
  });
});

describe("checkpoint", () => {
  it("gives the same values and gradients, and recomputes instead of saving intermediates", () => {
    const block = (v: NdArray) =>
      np.tanh(
        np
          .sin(v)
          .mul(v)
          .add(np.exp(v.mul(0.1))),
      );
    const remat = checkpoint(block);
    const x = seededArray([6], 7);
    const loss = (f: (v: NdArray) => NdArray) => (v: NdArray) => np.sum(f(f(v)));
    expectClose(loss(remat)(x), loss(block)(x), 0);
    expectClose(grad(loss(remat))(x), grad(loss(block))(x), 1e-14);
    expectClose(jit(grad(loss(remat)))(x), grad(loss(block))(x), 1e-13);
    const secondOrder = (f: (v: NdArray) => NdArray) =>
      grad((v: NdArray) => np.sum(grad((u: NdArray) => np.sum(f(u)))(v)));
    expectClose(secondOrder(remat)(x), secondOrder(block)(x), 1e-12);
    expectClose(
      vmap(grad(loss(remat)))(np.stack([x, x.mul(2)])),
      np.stack([grad(loss(block))(x), grad(loss(block))(x.mul(2))]),
      1e-13,
    );
    // The forward stays whole checkpoint equations; the backward recomputes the block's ops (its tanh)
    // from the saved inputs instead of reading saved intermediates.
    const text = makeProgram(grad(loss(remat)))(new ShapeDtype([6], "float64")).toString();
    expect(text.match(/= checkpoint\[/g)).toHaveLength(2);
    expect(text.match(/= tanh /g)?.length).toBe(2);
  });
});
