import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { castScalar, DTYPES, type DType, promoteTypes, weakScalarDType } from "../../src/core/dtype.js";
import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from "../../src/core/half.js";

type Enc = number | "nan" | "inf" | "-inf" | "-0";
const dec = (v: Enc): number =>
  v === "nan" ? Number.NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === "-0" ? -0 : v;

interface Cases {
  float16FromFloat64: { in: Enc[]; bits: number[] };
  float16FromFloat32: { inBits: number[]; bits: number[] };
  float16Values: { bits: number[]; values: Enc[] };
  bfloat16FromFloat32: { inBits: number[]; bits: number[] };
  bfloat16FromFloat64: { in: Enc[]; bits: number[] };
  bfloat16Values: { bits: number[]; values: Enc[] };
  castFromFloat64: { in: Enc[]; out: Record<string, number[]> };
  castFromInt32: { in: number[]; out: Record<string, number[]> };
}

/** Written by dtype_reference.py (NumPy 1.24, PyTorch 1.13). */
const cases = JSON.parse(readFileSync(new URL("./data/dtype-cases.json", import.meta.url), "utf8")) as Cases;

const f32FromBits = (bits: number): number => new Float32Array(new Uint32Array([bits]).buffer)[0]!;

/** A NaN's payload is not a JS number's to keep: any NaN pattern of the format counts (numpy keeps payloads). */
const isF16NaN = (b: number) => (b & 0x7c00) === 0x7c00 && (b & 0x3ff) !== 0;
const isBf16NaN = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;

function expectBits(
  inputs: readonly number[],
  expected: readonly number[],
  convert: (v: number) => number,
  isNaN: (b: number) => boolean,
) {
  const mismatches: string[] = [];
  inputs.forEach((v, i) => {
    const want = expected[i]!;
    const got = convert(v);
    if (Number.isNaN(v) ? !(isNaN(got) && isNaN(want)) : got !== want)
      mismatches.push(`${v}: got 0x${got.toString(16)}, want 0x${want.toString(16)}`);
  });
  expect(mismatches.slice(0, 10)).toEqual([]);
  expect(inputs.length).toBeGreaterThan(1000);
}

describe("float16 and bfloat16 conversions, bit for bit", () => {
  it("float64 -> float16 rounds as numpy's astype(float16) (ties to even, subnormals, overflow, NaN)", () => {
    const c = cases.float16FromFloat64;
    expectBits(c.in.map(dec), c.bits, toFloat16Bits, isF16NaN);
  });
  it("float32 -> float16 as numpy, on random float32 bit patterns", () => {
    const c = cases.float16FromFloat32;
    expectBits(c.inBits.map(f32FromBits), c.bits, toFloat16Bits, isF16NaN);
  });
  it("float16 bits -> value as numpy; every non-NaN pattern converts back to itself", () => {
    const c = cases.float16Values;
    c.bits.forEach((b, i) => {
      expect(Object.is(fromFloat16Bits(b), dec(c.values[i]!)), `0x${b.toString(16)}`).toBe(true);
    });
    for (let b = 0; b < 0x10000; b++) if (!isF16NaN(b)) expect(toFloat16Bits(fromFloat16Bits(b))).toBe(b);
  });
  it("float32 -> bfloat16 as torch's .to(torch.bfloat16)", () => {
    const c = cases.bfloat16FromFloat32;
    expectBits(c.inBits.map(f32FromBits), c.bits, toBfloat16Bits, isBf16NaN);
  });
  it("float64 -> bfloat16 as torch (through float32)", () => {
    const c = cases.bfloat16FromFloat64;
    expectBits(c.in.map(dec), c.bits, toBfloat16Bits, isBf16NaN);
  });
  it("bfloat16 bits -> value as torch; every non-NaN pattern converts back to itself", () => {
    const c = cases.bfloat16Values;
    c.bits.forEach((b, i) => {
      expect(Object.is(fromBfloat16Bits(b), dec(c.values[i]!)), `0x${b.toString(16)}`).toBe(true);
    });
    for (let b = 0; b < 0x10000; b++) if (!isBf16NaN(b)) expect(toBfloat16Bits(fromBfloat16Bits(b))).toBe(b);
  });
});

describe("castScalar: numpy's astype to the integer dtypes (truncate, then wrap)", () => {
  const INTS: DType[] = ["uint8", "int8", "uint16", "int16", "uint32", "int32"];
  for (const d of INTS) {
    it(`float64 -> ${d}`, () => {
      const c = cases.castFromFloat64;
      expect(c.in.map((v) => castScalar(dec(v), d))).toEqual(c.out[d]);
    });
    it(`int32 -> ${d}`, () => {
      const c = cases.castFromInt32;
      expect(c.in.map((v) => castScalar(v, d))).toEqual(c.out[d]);
    });
  }
  it("NaN and infinities become 0 (numpy: platform specific); bool is v !== 0 (NaN is true, as numpy)", () => {
    for (const d of INTS) for (const v of [Number.NaN, Infinity, -Infinity]) expect(castScalar(v, d)).toBe(0);
    expect(castScalar(Number.NaN, "bool")).toBe(1);
    expect(castScalar(-0, "bool")).toBe(0);
    expect([castScalar(300, "uint8"), castScalar(-1, "uint8"), castScalar(200 + 100, "uint8")]).toEqual([
      44, 255, 44,
    ]);
  });
  it("to the half types: the stored bits, overflowing to infinity", () => {
    expect(castScalar(1, "float16")).toBe(0x3c00);
    expect(castScalar(1e5, "float16")).toBe(0x7c00);
    expect(castScalar(-1e39, "bfloat16")).toBe(0xff80);
  });
});

/**
 * JAX's binary promotion table, transcribed from docs/type_promotion.rst of jax-ml/jax (commit 2181078,
 * generated there by `dtypes._lattice_result_type`), without the complex columns. Rows and columns: b1 u1
 * u2 u4 u8 i1 i2 i4 i8 bf f2 f4 f8 i* f*. It is JAX with x64: we check our result against the
 * canonicalized entry (JAX without x64: i8 -> i4, u8 -> u4, weak types -> int32/float32), as JAX does.
 */
const JAX_TABLE = `
b1: b1 u1 u2 u4 u8 i1 i2 i4 i8 bf f2 f4 f8 i* f*
u1: u1 u1 u2 u4 u8 i2 i2 i4 i8 bf f2 f4 f8 u1 f*
u2: u2 u2 u2 u4 u8 i4 i4 i4 i8 bf f2 f4 f8 u2 f*
u4: u4 u4 u4 u4 u8 i8 i8 i8 i8 bf f2 f4 f8 u4 f*
u8: u8 u8 u8 u8 u8 f* f* f* f* bf f2 f4 f8 u8 f*
i1: i1 i2 i4 i8 f* i1 i2 i4 i8 bf f2 f4 f8 i1 f*
i2: i2 i2 i4 i8 f* i2 i2 i4 i8 bf f2 f4 f8 i2 f*
i4: i4 i4 i4 i8 f* i4 i4 i4 i8 bf f2 f4 f8 i4 f*
i8: i8 i8 i8 i8 f* i8 i8 i8 i8 bf f2 f4 f8 i8 f*
bf: bf bf bf bf bf bf bf bf bf bf f4 f4 f8 bf bf
f2: f2 f2 f2 f2 f2 f2 f2 f2 f2 f4 f2 f4 f8 f2 f2
f4: f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f4 f8 f4 f4
f8: f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8 f8
i*: i* u1 u2 u4 u8 i1 i2 i4 i8 bf f2 f4 f8 i* f*
f*: f* f* f* f* f* f* f* f* f* bf f2 f4 f8 f* f*`;

const COLUMNS = "b1 u1 u2 u4 u8 i1 i2 i4 i8 bf f2 f4 f8 i* f*".split(" ");
const CODE: Record<string, DType> = {
  b1: "bool",
  u1: "uint8",
  u2: "uint16",
  u4: "uint32",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  bf: "bfloat16",
  f2: "float16",
  f4: "float32",
  f8: "float64",
};
/** JAX's canonicalization without x64; weak results take the default types. */
const CANONICAL: Record<string, DType> = {
  ...CODE,
  u8: "uint32",
  i8: "int32",
  "i*": "int32",
  "f*": "float32",
};
const jaxTable = new Map<string, Map<string, string>>(
  JAX_TABLE.trim()
    .split("\n")
    .map((line) => {
      const [row, cells] = line.split(": ") as [string, string];
      return [row, new Map(cells.split(" ").map((c, k) => [COLUMNS[k]!, c]))];
    }),
);
const codeOf = (d: DType): string => Object.keys(CODE).find((k) => CODE[k] === d)!;

describe("promotion: JAX's lattice, canonicalized as JAX without x64", () => {
  it("promoteTypes equals JAX's table for every pair of dtypes", () => {
    const wrong: string[] = [];
    for (const a of DTYPES)
      for (const b of DTYPES) {
        const want = CANONICAL[jaxTable.get(codeOf(a))!.get(codeOf(b))!]!;
        if (promoteTypes(a, b) !== want) wrong.push(`${a}+${b}: ${promoteTypes(a, b)}, JAX ${want}`);
      }
    expect(wrong).toEqual([]);
    expect(DTYPES.length).toBe(11);
  });
  it("weakly typed JS numbers promote as JAX's i* and f*", () => {
    const wrong: string[] = [];
    for (const a of DTYPES)
      for (const [value, weak] of [
        [2, "i*"],
        [2.5, "f*"],
      ] as const) {
        const want = CANONICAL[jaxTable.get(codeOf(a))!.get(weak)!]!;
        if (weakScalarDType(a, value) !== want)
          wrong.push(`${a}+${value}: ${weakScalarDType(a, value)}, JAX ${want}`);
      }
    expect(wrong).toEqual([]);
  });
  it("the examples of the brief", () => {
    expect(promoteTypes("uint8", "int8")).toBe("int16");
    expect(promoteTypes("int32", "uint32")).toBe("int32");
    expect(promoteTypes("float16", "bfloat16")).toBe("float32");
    expect(promoteTypes("int16", "float16")).toBe("float16");
    expect(weakScalarDType("uint8", 2)).toBe("uint8");
    expect(weakScalarDType("float16", 2.5)).toBe("float16");
  });
});
