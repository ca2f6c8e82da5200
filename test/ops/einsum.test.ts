import { describe, expect, it } from "vitest";
import { grad, type NdArray, np, vjp } from "../../src/index.js";
import { expectClose } from "../golden/golden.js";

const TIGHT = { atol: 1e-12, rtol: 1e-12 };

/** Deterministic float64 values of a shape. */
function filled(shape: number[], seed = 1): NdArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 2);
  return np.array(data, { shape, dtype: "float64" });
}

/**
 * Reference einsum by explicit loops over every index (letters only, explicit output): the definition,
 * to check the matmul-based implementation against.
 */
function naiveEinsum(subscripts: string, ...operands: NdArray[]): NdArray {
  const [lhs, out] = subscripts.split("->") as [string, string];
  const terms = lhs.split(",");
  const sizes = new Map<string, number>();
  terms.forEach((t, k) => {
    [...t].forEach((l, a) => {
      sizes.set(l, operands[k]!.shape[a]!);
    });
  });
  const letters = [...sizes.keys()];
  const data = operands.map((o) => o.toTypedArray());
  const strides = operands.map((o) => o.shape.map((_, a) => o.shape.slice(a + 1).reduce((x, y) => x * y, 1)));
  const outShape = [...out].map((l) => sizes.get(l)!);
  const result = new Float64Array(outShape.reduce((a, b) => a * b, 1));
  const outStrides = outShape.map((_, a) => outShape.slice(a + 1).reduce((x, y) => x * y, 1));
  const value = new Map<string, number>();
  const visit = (depth: number): void => {
    if (depth === letters.length) {
      let product = 1;
      terms.forEach((t, k) => {
        let offset = 0;
        [...t].forEach((l, a) => {
          offset += value.get(l)! * strides[k]![a]!;
        });
        product *= data[k]![offset]!;
      });
      let o = 0;
      [...out].forEach((l, a) => {
        o += value.get(l)! * outStrides[a]!;
      });
      result[o]! += product;
      return;
    }
    const l = letters[depth]!;
    for (let i = 0; i < sizes.get(l)!; i++) {
      value.set(l, i);
      visit(depth + 1);
    }
  };
  visit(0);
  return np.array(result, { shape: outShape });
}

describe("einsum", () => {
  const cases: [string, number[][]][] = [
    [
      "ij,jk->ik",
      [
        [3, 4],
        [4, 5],
      ],
    ],
    [
      "ij,kj->ik",
      [
        [3, 4],
        [5, 4],
      ],
    ],
    [
      "bij,bjk->bik",
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    [
      "bij,bjk->kib",
      [
        [2, 3, 4],
        [2, 4, 5],
      ],
    ],
    ["i,i->", [[4], [4]]],
    ["i,j->ij", [[3], [4]]],
    [
      "ij,ij->ij",
      [
        [3, 4],
        [3, 4],
      ],
    ],
    ["ij,j->i", [[3, 4], [4]]],
    [
      "abc,cd->abd",
      [
        [2, 3, 4],
        [4, 2],
      ],
    ],
    [
      "ijk,ikl->jl",
      [
        [2, 3, 4],
        [2, 4, 3],
      ],
    ],
    [
      "ij,kl->",
      [
        [2, 3],
        [4, 2],
      ],
    ],
    [
      "ij,jk->",
      [
        [2, 3],
        [3, 2],
      ],
    ],
    ["ii->i", [[3, 3]]],
    ["ii->", [[3, 3]]],
    ["iji->j", [[3, 2, 3]]],
    ["ij->ji", [[3, 4]]],
    ["ijk->kj", [[2, 3, 4]]],
    ["ij->", [[3, 4]]],
    [
      "ij,jk,kl->il",
      [
        [2, 3],
        [3, 4],
        [4, 2],
      ],
    ],
    [
      "aB,Bc->ca",
      [
        [2, 3],
        [3, 4],
      ],
    ],
  ];

  for (const [subscripts, shapes] of cases) {
    it(`${subscripts} matches the definition`, () => {
      const operands = shapes.map((s, k) => filled(s, k + 1));
      const got = np.einsum(subscripts, ...operands);
      expect(got.dtype).toBe("float64");
      expectClose(got, naiveEinsum(subscripts, ...operands), TIGHT);
    });
  }

  it("implicit output: indices appearing once, sorted", () => {
    const a = filled([3, 4]);
    const b = filled([4, 5], 2);
    expectClose(np.einsum("ij,jk", a, b), np.matmul(a, b), TIGHT);
    expectClose(np.einsum("ji", a), np.transpose(a), TIGHT);
    expectClose(np.einsum("ii", filled([3, 3])), naiveEinsum("ii->", filled([3, 3])), TIGHT);
    expectClose(np.einsum(" i j , j k -> i k ", a, b), np.matmul(a, b), TIGHT);
  });

  it("ellipsis broadcasts leading axes", () => {
    const a = filled([5, 2, 3, 4]);
    const b = filled([4, 6], 2);
    expectClose(np.einsum("...ij,jk->...ik", a, b), np.matmul(a, b), TIGHT);
    const c = filled([2, 1, 4, 3], 3);
    const d = filled([3, 3, 2], 4);
    expectClose(np.einsum("...ij,...jk->...ik", c, d), np.matmul(c, d), TIGHT);
    expectClose(np.einsum("...ij", a), a, TIGHT);
    expect(np.einsum("i...->...", filled([3, 2, 5])).shape).toEqual([2, 5]);
  });

  it("promotes dtypes like the other ops", () => {
    const a = np.array([[1, 2]], { dtype: "int32" });
    const b = np.array([[3], [4]], { dtype: "int32" });
    const ab = np.einsum("ij,jk->ik", a, b);
    expect(ab.dtype).toBe("int32");
    expect(ab.toArray()).toEqual([[11]]);
    expect(np.einsum("ij,jk->ik", a, np.array([[0.5], [1]])).dtype).toBe("float32");
  });

  it("is differentiable: the gradient of a matrix product", () => {
    const a = filled([3, 4]);
    const b = filled([4, 5], 2);
    const ct = filled([3, 5], 3);
    const [, einsumVjp] = vjp((x: NdArray, y: NdArray) => np.einsum("ij,jk->ik", x, y), a, b);
    const [, matmulVjp] = vjp((x: NdArray, y: NdArray) => np.matmul(x, y), a, b);
    const [ga, gb] = einsumVjp(ct);
    const [ra, rb] = matmulVjp(ct);
    expectClose(ga, ra, TIGHT);
    expectClose(gb, rb, TIGHT);
    const trace = grad((x: NdArray) => np.einsum("ii->", x))(filled([3, 3])) as NdArray;
    expectClose(trace, np.eye(3, 3, { dtype: "float64" }), TIGHT);
  });

  it("reports mismatched sizes and bad subscripts, naming einsum and the shapes", () => {
    const a = filled([2, 3]);
    expect(() => np.einsum("ij,jk->ik", a, a)).toThrow(
      /einsum: index 'j' has size 3 in operand 0 \(shape \[2,3\]\) but 2 in operand 1 \(shape \[2,3\]\)/,
    );
    expect(() => np.einsum("ijk->i", a)).toThrow(/einsum: operand 0 has 3 indices "ijk" but rank 2.*\[2,3\]/);
    expect(() => np.einsum("ij,jk->ik", a)).toThrow(/einsum: 2 operand subscripts but 1 operands/);
    expect(() => np.einsum("i1->i", a)).toThrow(/einsum: operand 0 "i1" has '1'/);
    expect(() => np.einsum("ij->iz", a)).toThrow(/einsum: output index 'z' does not appear/);
    expect(() => np.einsum("ij->ii", a)).toThrow(/einsum: output index 'i' appears more than once/);
    expect(() => np.einsum("ij->i->j", a)).toThrow(/einsum: "->" appears more than once/);
    expect(() => np.einsum("...i...->i", a)).toThrow(/more than one "..."/);
  });
});

describe("tensordot", () => {
  it("contracts the last n axes of a with the first n of b", () => {
    const a = filled([2, 3, 4]);
    const b = filled([3, 4, 5], 2);
    expectClose(np.tensordot(a, b), naiveEinsum("ijk,jkl->il", a, b), TIGHT);
    expectClose(
      np.tensordot(a, filled([4, 5], 3), 1),
      naiveEinsum("ijk,kl->ijl", a, filled([4, 5], 3)),
      TIGHT,
    );
    expectClose(
      np.tensordot(filled([2]), filled([3], 2), 0),
      naiveEinsum("i,j->ij", filled([2]), filled([3], 2)),
      TIGHT,
    );
  });

  it("takes explicit axis lists, negative axes included", () => {
    const a = filled([3, 4, 5]);
    const b = filled([5, 2, 3], 2);
    expectClose(
      np.tensordot(a, b, [
        [0, 2],
        [2, 0],
      ]),
      naiveEinsum("ijk,kli->jl", a, b),
      TIGHT,
    );
    expectClose(np.tensordot(a, b, [-1, 0]), naiveEinsum("ijk,klm->ijlm", a, b), TIGHT);
  });

  it("reports mismatched axes", () => {
    expect(() => np.tensordot(filled([2, 3]), filled([2, 3]), [[1], [1, 0]])).toThrow(/tensordot: 1 axes/);
    expect(() => np.tensordot(filled([2, 3]), filled([2, 3]), [[1], [0]])).toThrow(
      /tensordot: axis 1 of the first operand has size 3 but axis 0 of the second has 2.*\[2,3\]/,
    );
    expect(() => np.tensordot(filled([2, 3]), filled([2, 3]), 3)).toThrow(
      /tensordot: cannot contract 3 axes/,
    );
  });
});
