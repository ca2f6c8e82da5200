/**
 * Ops on the narrow dtypes: integers wrap as numpy's, float16 computes in float32 and rounds per op
 * (numpy 1.24's results, from dtype_reference.py, bit for bit, eagerly and under jit); np.array keeps a
 * typed array's dtype; astype wraps and rounds; ops without a rule for a dtype refuse it by name.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type DType, DTypeError } from "../../src/core/dtype.js";
import { grad, jit, type Array as NdArray, np, random } from "../../src/index.js";

type Enc = number | "nan" | "inf" | "-inf" | "-0";
const dec = (v: Enc): number =>
  v === "nan" ? Number.NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === "-0" ? -0 : v;

interface OpCase {
  fn: string;
  dtype: DType;
  x: Enc[];
  y?: Enc[];
  out: Enc[];
}

const { ops } = JSON.parse(readFileSync(new URL("./data/dtype-cases.json", import.meta.url), "utf8")) as {
  ops: OpCase[];
};

const callOp = (fn: string, args: NdArray[]): NdArray =>
  (np as unknown as Record<string, (...a: NdArray[]) => NdArray>)[fn]!(...args);

describe("ops on the narrow dtypes, against numpy 1.24", () => {
  it("has cases for every narrow dtype", () => {
    expect(new Set(ops.map((c) => c.dtype)).size).toBe(6);
    expect(ops.length).toBeGreaterThan(50);
  });
  for (const c of ops) {
    it(`${c.fn} ${c.dtype}`, () => {
      const args = [c.x, ...(c.y ? [c.y] : [])].map((v) => np.array(v.map(dec), { dtype: c.dtype }));
      const want = c.out.map(dec);
      for (const [how, out] of [
        ["eager", callOp(c.fn, args)],
        ["jit", jit((...a: NdArray[]) => callOp(c.fn, a))(...args) as NdArray],
      ] as const) {
        expect(out.dtype, how).toBe(c.dtype);
        const got = out.toArray() as number[];
        const bad = want.flatMap((w, i) => (Object.is(got[i], w) ? [] : [`${i}: ${got[i]} want ${w}`]));
        expect(bad.slice(0, 5), how).toEqual([]);
      }
    });
  }
});

describe("the narrow dtypes", () => {
  it("np.array keeps a typed array's dtype and values", () => {
    const cases: [ArrayBufferView, DType][] = [
      [new Uint8Array([0, 255]), "uint8"],
      [new Uint8ClampedArray([0, 255]), "uint8"],
      [new Int8Array([-128, 127]), "int8"],
      [new Uint16Array([0, 65535]), "uint16"],
      [new Int16Array([-32768, 32767]), "int16"],
      [new Uint32Array([0, 2 ** 32 - 1]), "uint32"],
    ];
    for (const [data, dtype] of cases) {
      const x = np.array(data);
      expect([x.dtype, x.toArray()]).toEqual([dtype, Array.from(data as Uint8Array)]);
    }
  });
  it("integers wrap as numpy's (uint8 200 + 100 is 44), casts truncate then wrap", () => {
    const a = np.array(new Uint8Array([200, 0]));
    expect(np.add(a, np.array(new Uint8Array([100, 1]))).toArray()).toEqual([44, 1]);
    expect(np.add(a, 100).toArray()).toEqual([44, 100]);
    expect(np.array([300.7, -1.5, -1], { dtype: "float64" }).astype("uint8").toArray()).toEqual([
      44, 255, 255,
    ]);
    expect(np.array([NaN, Infinity], { dtype: "float32" }).astype("int8").toArray()).toEqual([0, 0]);
    // A JS number that does not fit the array's integer dtype is refused, as JAX does.
    expect(() => np.add(a, 300)).toThrow(/300 does not fit uint8/);
  });
  it("promotes by the lattice: uint8 + int8 is int16, int + float16 is float16", () => {
    const u8 = np.array(new Uint8Array([255]));
    const i8 = np.array(new Int8Array([-1]));
    expect([np.add(u8, i8).dtype, np.add(u8, i8).toArray()]).toEqual(["int16", [254]]);
    const h = np.array([1.5], { dtype: "float16" });
    expect(np.add(u8, h).dtype).toBe("float16");
    expect(np.add(h, np.array([1], { dtype: "bfloat16" })).dtype).toBe("float32");
  });
  it("float16 rounds to nearest even and overflows to infinity; bfloat16 keeps float32's range", () => {
    const h = np.array([65504, 2049, 1e-8], { dtype: "float16" });
    expect(h.toArray()).toEqual([65504, 2048, 0]);
    expect(np.multiply(h, 2).toArray()).toEqual([Infinity, 4096, 0]);
    const b = np.array([1e38, 257], { dtype: "bfloat16" });
    expect(b.toArray()).toEqual([9.969209968386869e37, 256]); // torch: tensor([1e38, 257]).to(bfloat16)
    expect(String(np.array([0.1], { dtype: "float16" }))).toBe("array([0.09998], shape=[1], dtype=float16)");
  });
  it("float16 reductions and matmul compute in float32 and round once", () => {
    const x = np.array([2048, 1, 1], { dtype: "float16" });
    // Sequential float16 additions would give 2048; float32 accumulation gives 2050.
    expect([np.sum(x).dtype, np.sum(x).item()]).toEqual(["float16", 2050]);
    const m = np.matmul(
      np.array([[2048, 1, 1]], { dtype: "float16" }),
      np.ones([3, 1], { dtype: "float16" }),
    );
    expect([m.dtype, m.toArray()]).toEqual(["float16", [[2050]]]);
    expect(np.max(np.array([-1, -3], { dtype: "float16" })).item()).toBe(-1);
  });
  it("grad flows through float16 parameters", () => {
    const w = np.array([0.5, -2], { dtype: "float16" });
    const g = grad((p: NdArray) => np.sum(np.multiply(p, p)))(w);
    expect([g.dtype, g.toArray()]).toEqual(["float16", [1, -4]]);
  });
  it("a primitive without a rule for a narrow dtype refuses it, naming the primitive and the dtype", () => {
    const h = np.array([0.5], { dtype: "float16" });
    expect(() => random.erfInv(h)).toThrow(DTypeError);
    expect(() => random.erfInv(h)).toThrow(/^erf_inv: float16 operands are not supported/);
  });
});

describe("accumulating the narrow integers", () => {
  it("sum, prod and cumsum of 8- and 16-bit integers give uint32/int32, as jnp.sum", () => {
    const u8 = np.array(new Uint8Array([200, 100]));
    expect([np.sum(u8).dtype, np.sum(u8).item()]).toEqual(["uint32", 300]);
    expect(np.cumsum(np.array(new Int8Array([100, 100]))).toArray()).toEqual([100, 200]);
    expect(np.prod(np.array(new Int16Array([-300, 300]))).item()).toBe(-90000);
    // uint32 stays uint32 and wraps modulo 2**32, as numpy's uint32 arithmetic.
    expect(np.sum(np.array(new Uint32Array([2 ** 32 - 1, 2]))).item()).toBe(1);
  });
});
