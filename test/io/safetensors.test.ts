import fc from "fast-check";
import * as E from "fp-ts/lib/Either.js";
import { describe, expect, it } from "vitest";
import { ConcreteArray } from "../../src/core/array.js";
import { DTYPES, INT_RANGE, storageFor } from "../../src/core/dtype.js";
import { type DType, io, NdArray, np, tree } from "../../src/index.js";
import type { DecodeError, DecodeErrorKind } from "../../src/io/safetensors.js";

const { safetensors } = io;

// ---------------------------------------------------------------------------------------------------
// helpers

const ALL_KINDS: readonly DecodeErrorKind[] = [
  "not-safetensors",
  "header-length-beyond-file",
  "header-too-large",
  "invalid-json",
  "invalid-header",
  "duplicate-key",
  "invalid-metadata",
  "unknown-dtype",
  "bad-dimension",
  "shape-offset-mismatch",
  "offsets-out-of-order",
  "overlapping-offsets",
  "hole-in-data",
  "offsets-beyond-data",
  "trailing-bytes",
  "integer-out-of-range",
  "bad-path",
  "template-mismatch",
];

/** A file from header JSON text (unpadded) and data bytes, with the true header length. */
function fileOf(header: string, data: ArrayLike<number> = []): Uint8Array {
  const text = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(Array.from(data), 8 + text.length);
  return out;
}

function tensorHeader(entries: Record<string, unknown>): string {
  return JSON.stringify(entries);
}

function expectError(bytes: Uint8Array, kind: DecodeErrorKind, key?: string): DecodeError {
  const result = safetensors.decode(bytes);
  if (E.isRight(result))
    throw new Error(`expected a ${kind} error, got tensors ${Object.keys(result.right).join(", ")}`);
  expect(result.left.kind).toBe(kind);
  expect(typeof result.left.message).toBe("string");
  if (key !== undefined) expect(result.left.key).toBe(key);
  return result.left;
}

function expectRight<A>(result: E.Either<DecodeError, A>): A {
  if (E.isLeft(result)) throw new Error(`expected success, got ${result.left.kind}: ${result.left.message}`);
  return result.right;
}

function bytesOf(x: NdArray): Uint8Array {
  const data = x.toTypedArray();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Same dtype, shape and bytes (so NaN payloads and -0 count). */
function expectSameArray(got: unknown, want: NdArray, path: string): void {
  expect(got, path).toBeInstanceOf(NdArray);
  const g = got as NdArray;
  expect(g.dtype, path).toBe(want.dtype);
  expect(g.shape, path).toEqual(want.shape);
  expect(Buffer.from(bytesOf(g)).equals(Buffer.from(bytesOf(want))), `${path} bytes`).toBe(true);
}

/** Deep equality of two trees of arrays: same structure, same leaves bit for bit. */
function expectSameTree(got: unknown, want: unknown): void {
  expect(tree.treeDefToString(tree.structure(got))).toBe(tree.treeDefToString(tree.structure(want)));
  const g = tree.flattenWithPath<NdArray>(got);
  const w = tree.flattenWithPath<NdArray>(want);
  expect(g.map(([p]) => p)).toEqual(w.map(([p]) => p));
  g.forEach(([p, leaf], i) => expectSameArray(leaf, w[i]![1], p));
}

// ---------------------------------------------------------------------------------------------------
// arbitraries

const DTYPE_LIST: readonly DType[] = DTYPES;

const shapeArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 });

function valuesArb(dtype: DType, n: number): fc.Arbitrary<NdArray> {
  return fc.constant(null).chain(() => {
    switch (dtype) {
      case "float32":
        return fc.float32Array({ minLength: n, maxLength: n }).map((d) => np.array(d));
      case "float64":
        return fc.float64Array({ minLength: n, maxLength: n }).map((d) => np.array(d));
      case "int32":
        return fc.int32Array({ minLength: n, maxLength: n }).map((d) => np.array(d));
      case "bool":
        return fc
          .array(fc.boolean(), { minLength: n, maxLength: n })
          .map((d) => np.array(Uint8Array.from(d, Number), { dtype: "bool" }));
      default: {
        // The narrow dtypes: any value of the integers, any bits (NaN payloads included) of the halves.
        const [min, max] = INT_RANGE[dtype] ?? [0, 0xffff];
        return fc.array(fc.integer({ min, max }), { minLength: n, maxLength: n }).map((d) => {
          const storage = storageFor(dtype, n);
          storage.set(d);
          return new ConcreteArray([n], dtype, storage) as NdArray;
        });
      }
    }
  });
}

const arrayArb: fc.Arbitrary<NdArray> = fc
  .tuple(fc.constantFrom(...DTYPE_LIST), shapeArb)
  .chain(([dtype, shape]) =>
    valuesArb(
      dtype,
      shape.reduce((a, b) => a * b, 1),
    ).map((flat) => flat.reshape(shape)),
  );

// Keys without dots or digits only, so paths are unambiguous and objects never read back as arrays.
const keyArb = fc.stringMatching(/^[a-z_][a-z0-9_]{0,5}$/);

/** Trees of arrays whose every container is non-empty (empty containers hold no tensors to save). */
const treeArb: fc.Arbitrary<unknown> = fc.letrec<{ node: unknown }>((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    arrayArb,
    fc.dictionary(keyArb, tie("node"), { minKeys: 1, maxKeys: 4 }),
    fc.array(tie("node"), { minLength: 1, maxLength: 3 }),
  ),
})).node;

const rootTreeArb = fc.dictionary(keyArb, treeArb, { minKeys: 1, maxKeys: 4 });

// ---------------------------------------------------------------------------------------------------

describe("safetensors: round trip", () => {
  it("decode(encode(t)) gives every leaf under its path, bit for bit (all dtypes)", () => {
    fc.assert(
      fc.property(rootTreeArb, (t) => {
        const decoded = expectRight(safetensors.decode(safetensors.encode(t)));
        const want = tree.flattenWithPath<NdArray>(t);
        expect(Object.keys(decoded).sort()).toEqual(want.map(([p]) => p).sort());
        for (const [path, leaf] of want) expectSameArray(decoded[path], leaf, path);
      }),
      { numRuns: 200 },
    );
  });

  it("decodeTree(encode(t)) rebuilds the nested tree, with and without a template", () => {
    fc.assert(
      fc.property(rootTreeArb, (t) => {
        const bytes = safetensors.encode(t);
        expectSameTree(expectRight(safetensors.decodeTree(bytes, t)), t);
        // Without a template object key order may differ (JS puts integer-like keys first); compare by path.
        const rebuilt = expectRight(safetensors.decodeTree(bytes));
        const byPath = new Map(tree.flattenWithPath<NdArray>(rebuilt));
        for (const [path, leaf] of tree.flattenWithPath<NdArray>(t))
          expectSameArray(byPath.get(path), leaf, path);
        expect(byPath.size).toBe(tree.leaves(t).length);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps metadata, pads the header to 8 bytes with spaces, and aligns every tensor", () => {
    const t = {
      flag: np.array([true, false, true]),
      w: np.array([1, 2, 3], { dtype: "float64" }),
      layers: [{ b: np.array([1, 2], { dtype: "int32" }) }, { b: np.array([0.5]) }],
    };
    const bytes = safetensors.encode(t, { metadata: { format: "pt", note: "héllo" } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    expect(headerText.endsWith(" ") || headerText.endsWith("}")).toBe(true);
    const header = JSON.parse(headerText) as Record<
      string,
      { dtype: string; data_offsets: [number, number] }
    >;
    expect(Object.keys(header)[0]).toBe("__metadata__");
    expect(Object.keys(header).slice(1)).toEqual(["flag", "w", "layers.0.b", "layers.1.b"]);
    const width: Record<string, number> = { F64: 8, F32: 4, I32: 4, BOOL: 1 };
    for (const [key, info] of Object.entries(header)) {
      if (key === "__metadata__") continue;
      expect(info.data_offsets[0] % width[info.dtype]!, key).toBe(0);
    }
    const file = expectRight(safetensors.decodeFile(bytes));
    expect(file.metadata).toEqual({ format: "pt", note: "héllo" });
    expectSameTree(expectRight(safetensors.decodeTree(bytes)), t);
  });

  it("rebuilds JS arrays from contiguous numeric segments only", () => {
    const one = np.array([1]);
    const rebuilt = expectRight(
      safetensors.unflattenPaths([
        ["layers.1.w", one],
        ["layers.0.w", one],
        ["gaps.0", one],
        ["gaps.2", one],
        ["padded.00", one],
      ]),
    ) as Record<string, unknown>;
    expect(Array.isArray(rebuilt.layers)).toBe(true);
    expect((rebuilt.layers as unknown[]).length).toBe(2);
    expect(Array.isArray(rebuilt.gaps)).toBe(false);
    expect(Object.keys(rebuilt.gaps as object)).toEqual(["0", "2"]);
    expect(Array.isArray(rebuilt.padded)).toBe(false);
  });

  it("a tree that is a single array round-trips under the empty key", () => {
    const x = np.array([[1, 2]]);
    expectSameTree(expectRight(safetensors.decodeTree(safetensors.encode(x))), x);
  });

  it("encode refuses leaves that are not arrays and paths that collide", () => {
    expect(() => safetensors.encode({ a: 3 })).toThrow(TypeError);
    expect(() => safetensors.encode({ "a.b": np.array([1]), a: { b: np.array([2]) } })).toThrow(/two leaves/);
    expect(() => safetensors.encode({ __metadata__: np.array([1]) })).toThrow(/reserved/);
  });
});

describe("safetensors: a known-good file written byte by byte", () => {
  // Written out by hand from the format's description, so this does not depend on our own encoder.
  const header =
    '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},' +
    '"b":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"c":{"dtype":"F16","shape":[3],"data_offsets":[24,30]},' +
    '"d":{"dtype":"BOOL","shape":[2],"data_offsets":[30,32]}}';
  const data = [
    // a: float32 1.0, -2.5
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x20, 0xc0,
    // b: int64 7, -3
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    // c: float16 1.0, -2.0, 65504
    0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b,
    // d: bool true, false
    0x01, 0x00,
  ];
  const lengthBytes = [header.length, 0, 0, 0, 0, 0, 0, 0]; // header.length < 256
  const bytes = Uint8Array.from([...lengthBytes, ...Array.from(header, (ch) => ch.charCodeAt(0)), ...data]);

  it("decodes every tensor with the right dtype, shape and values", () => {
    expect(header.length).toBeLessThan(256);
    const file = expectRight(safetensors.decodeFile(bytes));
    expect(file.metadata).toEqual({ format: "pt" });
    const { a, b, c, d } = file.tensors as Record<string, NdArray>;
    expect([a!.dtype, a!.shape, a!.toArray()]).toEqual(["float32", [2], [1, -2.5]]);
    expect([b!.dtype, b!.shape, b!.toArray()]).toEqual(["int32", [2], [7, -3]]);
    expect([c!.dtype, c!.shape, c!.toArray()]).toEqual(["float16", [3], [1, -2, 65504]]);
    expect([d!.dtype, d!.shape, d!.toArray()]).toEqual(["bool", [2], [true, false]]);
  });

  it("accepts tensors listed out of data order, and empty tensors", () => {
    const h = tensorHeader({
      second: { dtype: "I32", shape: [1], data_offsets: [4, 8] },
      empty: { dtype: "F32", shape: [0, 3], data_offsets: [4, 4] },
      first: { dtype: "I32", shape: [], data_offsets: [0, 4] },
    });
    const t = expectRight(safetensors.decode(fileOf(h, [1, 0, 0, 0, 2, 0, 0, 0])));
    expect(Object.keys(t)).toEqual(["second", "empty", "first"]);
    expect(t.first!.item()).toBe(1);
    expect(t.second!.toArray()).toEqual([2]);
    expect(t.empty!.shape).toEqual([0, 3]);
  });
});

describe("safetensors: half floats", () => {
  it("decodes binary16 exactly: normals, subnormals, zeros, infinities, NaN", () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, 0.333251953125],
      [0x7bff, 65504],
      [0x0400, 2 ** -14], // smallest normal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Number.POSITIVE_INFINITY],
      [0xfc00, Number.NEGATIVE_INFINITY],
    ];
    for (const [bits, value] of cases) expect(safetensors.halfToFloat(bits), bits.toString(16)).toBe(value);
    expect(Object.is(safetensors.halfToFloat(0x8000), -0)).toBe(true);
    expect(safetensors.halfToFloat(0x7e00)).toBeNaN();
    expect(safetensors.halfToFloat(0xfe01)).toBeNaN();
  });

  it("every binary16 value is exact in float32 and ordered like the bits", () => {
    let previous = Number.NEGATIVE_INFINITY;
    for (let bits = 0; bits < 0x7c00; bits++) {
      const v = safetensors.halfToFloat(bits);
      expect(Math.fround(v)).toBe(v);
      if (bits > 0 && !(v > previous)) throw new Error(`not increasing at ${bits.toString(16)}`);
      previous = v;
    }
  });

  it("decodes bfloat16 as the top half of a float32", () => {
    expect(safetensors.bfloat16ToFloat(0x3f80)).toBe(1);
    expect(safetensors.bfloat16ToFloat(0xc040)).toBe(-3);
    expect(safetensors.bfloat16ToFloat(0x0001)).toBe(2 ** -133); // subnormal
    expect(safetensors.bfloat16ToFloat(0x7f80)).toBe(Number.POSITIVE_INFINITY);
    expect(safetensors.bfloat16ToFloat(0x7fc0)).toBeNaN();
    const h = tensorHeader({ x: { dtype: "BF16", shape: [2], data_offsets: [0, 4] } });
    const x = expectRight(safetensors.decode(fileOf(h, [0x80, 0x3f, 0x40, 0xc0]))).x!;
    expect([x.dtype, x.toArray()]).toEqual(["bfloat16", [1, -3]]);
  });
});

describe("safetensors: integer dtypes", () => {
  it("reads I64 into int32 when every value fits, including the int32 extremes", () => {
    const data = new BigInt64Array([2147483647n, -2147483648n, 0n, -1n]);
    const h = tensorHeader({ x: { dtype: "I64", shape: [4], data_offsets: [0, 32] } });
    const x = expectRight(safetensors.decode(fileOf(h, new Uint8Array(data.buffer)))).x!;
    expect(x.dtype).toBe("int32");
    expect(x.toArray()).toEqual([2147483647, -2147483648, 0, -1]);
  });

  for (const [dtype, value] of [
    ["I64", 2147483648n],
    ["I64", -2147483649n],
    ["I64", 1n << 40n],
    ["U64", 1n << 63n],
  ] as const) {
    it(`refuses ${dtype} ${value}, which does not fit int32`, () => {
      const data = dtype === "I64" ? new BigInt64Array([1n, value]) : new BigUint64Array([1n, value]);
      const h = tensorHeader({ big: { dtype, shape: [2], data_offsets: [0, 16] } });
      const error = expectError(fileOf(h, new Uint8Array(data.buffer)), "integer-out-of-range", "big");
      expect(error.message).toContain(String(value));
    });
  }

  it("reads U8, I8, I16, U16 and U32 into their own dtypes, not widened", () => {
    const h = tensorHeader({
      u8: { dtype: "U8", shape: [2], data_offsets: [0, 2] },
      i8: { dtype: "I8", shape: [2], data_offsets: [2, 4] },
      i16: { dtype: "I16", shape: [1], data_offsets: [4, 6] },
      u16: { dtype: "U16", shape: [1], data_offsets: [6, 8] },
      u32: { dtype: "U32", shape: [1], data_offsets: [8, 12] },
    });
    const t = expectRight(
      safetensors.decode(fileOf(h, [255, 1, 255, 1, 0xfe, 0xff, 0xfe, 0xff, 7, 0, 0, 0])),
    );
    expect([t.u8!.toArray(), t.i8!.toArray(), t.i16!.toArray(), t.u16!.toArray(), t.u32!.toArray()]).toEqual([
      [255, 1],
      [-1, 1],
      [-2],
      [65534],
      [7],
    ]);
    expect([t.u8!.dtype, t.i8!.dtype, t.i16!.dtype, t.u16!.dtype, t.u32!.dtype]).toEqual([
      "uint8",
      "int8",
      "int16",
      "uint16",
      "uint32",
    ]);
    const big = tensorHeader({ u32: { dtype: "U32", shape: [1], data_offsets: [0, 4] } });
    expect(expectRight(safetensors.decode(fileOf(big, [0, 0, 0, 0x80]))).u32!.toArray()).toEqual([2 ** 31]);
  });

  it("reads any non-zero BOOL byte as true", () => {
    const h = tensorHeader({ b: { dtype: "BOOL", shape: [3], data_offsets: [0, 3] } });
    const b = expectRight(safetensors.decode(fileOf(h, [0, 2, 255]))).b!;
    expect(Array.from(b.toTypedArray())).toEqual([0, 1, 1]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Hostile files: each one a typed error, never an exception.

const F32x2 = { dtype: "F32", shape: [2], data_offsets: [0, 8] };
const EIGHT_BYTES = [0, 0, 0, 0, 0, 0, 0, 0];

describe("safetensors: hostile files", () => {
  it("empty and short files: header-length-beyond-file", () => {
    expectError(new Uint8Array(0), "header-length-beyond-file");
    expectError(new Uint8Array(7), "header-length-beyond-file");
  });

  it("header length beyond the file: header-length-beyond-file", () => {
    const bytes = fileOf(tensorHeader({ x: F32x2 }), EIGHT_BYTES);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(bytes.length), true);
    expectError(bytes, "header-length-beyond-file");
  });

  it("header over 100 MB: header-too-large (without reading or allocating it)", () => {
    for (const claimed of [100_000_001n, 1n << 40n, (1n << 64n) - 1n]) {
      const bytes = new Uint8Array(16);
      new DataView(bytes.buffer).setBigUint64(0, claimed, true);
      bytes[8] = "{".charCodeAt(0);
      expectError(bytes, "header-too-large");
    }
  });

  it("invalid JSON: invalid-json", () => {
    for (const text of [
      "",
      "{",
      '{"a":}',
      "{'a':1}",
      '{"__metadata__":{},}',
      "{} x",
      '{"x":{"shape":[01]}}',
      '{"x":{"shape":[-]}}',
      '{"x":{"dtype":"F32" "shape":[2]}}',
      '{"x":{"extra":[1,]}}',
      '{"x":{"extra":tru}}',
      '{"__metadata__":{"a":"\\x"}}',
      '{"__metadata__":{"a":"\\u12"}}',
      '{"__metadata__":{"a":"\u0001"}}',
      '{"__metadata__":{"a":"b',
    ]) {
      expectError(fileOf(text), "invalid-json");
    }
  });

  it("a 100 MB-class header of tiny values is refused at its first bad entry, without building a JSON tree", () => {
    // JSON.parse or a generic tree would hold millions of values here; the header reader keeps none of them.
    const zeros = `{"x":{"dtype":"F32","shape":[${"0,".repeat(5_000_000)}0],"data_offsets":[0,1]}}`;
    expectError(fileOf(zeros), "offsets-beyond-data", "x");
    const empties = `{${Array.from({ length: 1_000_000 }, (_, i) => `"k${i}":{}`).join(",")}}`;
    expectError(fileOf(empties), "invalid-header", "k0");
    const unknownFields = `{"x":{"extra":[${"[],".repeat(3_000_000)}[]]}}`;
    expectError(fileOf(unknownFields), "invalid-header", "x");
  });

  it("header not UTF-8: invalid-json", () => {
    const bytes = fileOf("{}  ");
    bytes[10] = 0xff;
    expectError(bytes, "invalid-json");
  });

  it("a header that does not start with '{' (a BOM, whitespace, another JSON value): not-safetensors", () => {
    for (const text of ["[]", "42", '"x"', "null", "true", "\ufeff{}", " {}"]) {
      expectError(fileOf(text), "not-safetensors");
    }
  });

  it("tensor entries of the wrong form: invalid-header", () => {
    expectError(fileOf('{"x":[1,2]}'), "invalid-header", "x");
    expectError(fileOf('{"x":{"dtype":"F32","shape":[2]}}', EIGHT_BYTES), "invalid-header", "x");
    expectError(
      fileOf('{"x":{"dtype":7,"shape":[2],"data_offsets":[0,8]}}', EIGHT_BYTES),
      "invalid-header",
      "x",
    );
    expectError(
      fileOf('{"x":{"dtype":"F32","shape":2,"data_offsets":[0,8]}}', EIGHT_BYTES),
      "invalid-header",
      "x",
    );
    expectError(
      fileOf('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,4,8]}}', EIGHT_BYTES),
      "invalid-header",
      "x",
    );
    expectError(
      fileOf('{"x":{"dtype":"F32","shape":[2],"data_offsets":[-0,8]}}', EIGHT_BYTES),
      "invalid-header",
      "x",
    );
    expectError(
      fileOf('{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}}', EIGHT_BYTES),
      "invalid-header",
      "x",
    );
  });

  it("nesting 100,000 levels deep: invalid-header, no stack overflow", () => {
    expectError(fileOf(`{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}`), "invalid-header");
    expectError(fileOf("[".repeat(100_000)), "not-safetensors");
  });

  it("unknown dtype: unknown-dtype", () => {
    for (const dtype of ["Q7", "f32", "", "F8_E4M3", "__proto__", "toString"]) {
      expectError(fileOf(tensorHeader({ x: { ...F32x2, dtype } }), EIGHT_BYTES), "unknown-dtype", "x");
    }
  });

  it("shape and offsets disagree: shape-offset-mismatch", () => {
    expectError(
      fileOf(tensorHeader({ x: { ...F32x2, shape: [3] } }), EIGHT_BYTES),
      "shape-offset-mismatch",
      "x",
    );
    expectError(
      fileOf(tensorHeader({ x: { ...F32x2, shape: [] } }), EIGHT_BYTES),
      "shape-offset-mismatch",
      "x",
    );
    expectError(
      fileOf(tensorHeader({ x: { ...F32x2, dtype: "F64" } }), EIGHT_BYTES),
      "shape-offset-mismatch",
      "x",
    );
  });

  it("product of dimensions overflowing 2^53 and 2^64: shape-offset-mismatch, nothing allocated", () => {
    const huge = 2 ** 26;
    expectError(
      fileOf(tensorHeader({ x: { ...F32x2, shape: [huge, huge, huge] } }), EIGHT_BYTES),
      "shape-offset-mismatch",
    );
    // 2^32 · 2^32 = 2^64 wraps to 0 in 64-bit arithmetic; with a 0-byte range a wrapping check would accept it.
    expectError(
      fileOf(tensorHeader({ x: { dtype: "U8", shape: [2 ** 32, 2 ** 32], data_offsets: [0, 0] } })),
      "shape-offset-mismatch",
    );
    const manyDims = Array.from({ length: 10_000 }, () => 2 ** 40);
    expectError(
      fileOf(tensorHeader({ x: { ...F32x2, shape: manyDims } }), EIGHT_BYTES),
      "shape-offset-mismatch",
    );
  });

  it("a zero dimension next to a huge one is an empty tensor", () => {
    const x = expectRight(
      safetensors.decode(
        fileOf(tensorHeader({ x: { dtype: "F32", shape: [0, 2 ** 40], data_offsets: [0, 0] } })),
      ),
    ).x!;
    expect(x.size).toBe(0);
  });

  it("negative, fractional, exponent, string, unsafe or absurd dimensions: bad-dimension", () => {
    for (const dim of [
      "-1",
      "2.5",
      "2.0",
      "1e3",
      '"2"',
      "null",
      "[2]",
      "9007199254740993",
      "1" + "0".repeat(400),
    ]) {
      const text = `{"x":{"dtype":"F32","shape":[${dim}],"data_offsets":[0,8]}}`;
      expectError(fileOf(text, EIGHT_BYTES), "bad-dimension", "x");
    }
  });

  it("end before begin: offsets-out-of-order", () => {
    expectError(
      fileOf(tensorHeader({ x: { dtype: "F32", shape: [0], data_offsets: [8, 0] } }), EIGHT_BYTES),
      "offsets-out-of-order",
      "x",
    );
  });

  it("overlapping tensors: overlapping-offsets", () => {
    const h = tensorHeader({ a: F32x2, b: { dtype: "F32", shape: [1], data_offsets: [4, 8] } });
    expectError(fileOf(h, EIGHT_BYTES), "overlapping-offsets");
    const same = tensorHeader({ a: F32x2, b: F32x2 });
    expectError(fileOf(same, EIGHT_BYTES), "overlapping-offsets");
  });

  it("bytes between tensors: hole-in-data", () => {
    const h = tensorHeader({
      a: { dtype: "F32", shape: [1], data_offsets: [0, 4] },
      b: { dtype: "U8", shape: [1], data_offsets: [6, 7] },
    });
    expectError(fileOf(h, EIGHT_BYTES.slice(0, 7)), "hole-in-data", "b");
    const leading = tensorHeader({ b: { dtype: "U8", shape: [1], data_offsets: [1, 2] } });
    expectError(fileOf(leading, [0, 0]), "hole-in-data", "b");
  });

  it("offsets past the data: offsets-beyond-data", () => {
    expectError(
      fileOf(tensorHeader({ x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }), EIGHT_BYTES),
      "offsets-beyond-data",
      "x",
    );
    const far = '{"x":{"dtype":"F32","shape":[2],"data_offsets":[0,99999999999999999999999]}}';
    expectError(fileOf(far, EIGHT_BYTES), "offsets-beyond-data", "x");
  });

  it("bytes after the last tensor: trailing-bytes", () => {
    expectError(fileOf(tensorHeader({ x: F32x2 }), [...EIGHT_BYTES, 1]), "trailing-bytes");
    expectError(fileOf("{}", [1]), "trailing-bytes");
  });

  it("duplicate keys in the JSON text: duplicate-key (JSON.parse would keep the last)", () => {
    const x = '{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    expectError(fileOf(`{"x":${x},"x":${x}}`, EIGHT_BYTES), "duplicate-key", "x");
    expectError(fileOf(`{"x":${x},"\\u0078":${x}}`, EIGHT_BYTES), "duplicate-key", "x");
    expectError(
      fileOf('{"x":{"dtype":"F64","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', EIGHT_BYTES),
      "duplicate-key",
      "dtype",
    );
    expectError(fileOf(`{"__metadata__":{"a":"1","a":"2"},"x":${x}}`, EIGHT_BYTES), "duplicate-key", "a");
  });

  it("metadata that is not an object of strings: invalid-metadata", () => {
    const x = '"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}';
    expectError(fileOf(`{"__metadata__":{"epoch":3},${x}}`, EIGHT_BYTES), "invalid-metadata", "epoch");
    expectError(fileOf(`{"__metadata__":{"a":{"b":"c"}},${x}}`, EIGHT_BYTES), "invalid-metadata", "a");
    expectError(fileOf(`{"__metadata__":["a"],${x}}`, EIGHT_BYTES), "invalid-metadata");
    expect(E.isRight(safetensors.decode(fileOf(`{"__metadata__":null,${x}}`, EIGHT_BYTES)))).toBe(true);
  });

  it("a key named __proto__ is an own property and changes no prototype", () => {
    const h = '{"__proto__":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const t = expectRight(safetensors.decode(fileOf(h, EIGHT_BYTES)));
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
    expect(Object.keys(t)).toEqual(["__proto__"]);
    const nested = '{"a.__proto__.polluted":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}';
    const rebuilt = expectRight(safetensors.decodeTree(fileOf(nested, EIGHT_BYTES))) as Record<
      string,
      object
    >;
    expect(Object.getPrototypeOf(rebuilt.a)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("paths that cannot form one tree: bad-path", () => {
    const h = tensorHeader({
      a: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
      "a.b": { dtype: "U8", shape: [1], data_offsets: [1, 2] },
    });
    expect(safetensors.decodeTree(fileOf(h, [1, 2]))).toMatchObject({ left: { kind: "bad-path" } });
    const deep = tensorHeader({
      ["x.".repeat(100_000) + "y"]: { dtype: "U8", shape: [1], data_offsets: [0, 1] },
    });
    expect(safetensors.decodeTree(fileOf(deep, [1]))).toMatchObject({ left: { kind: "bad-path" } });
  });

  it("a file that does not match the template: template-mismatch", () => {
    const bytes = safetensors.encode({ w: np.array([1, 2]), b: np.array([3]) });
    const check = (template: unknown, key: string) =>
      expect(safetensors.decodeTree(bytes, template)).toMatchObject({
        left: { kind: "template-mismatch", key },
      });
    check({ w: np.array([1, 2]) }, "b");
    check({ w: np.array([1, 2]), b: np.array([3]), c: np.array([4]) }, "c");
    check({ w: np.array([1, 2, 3]), b: np.array([3]) }, "w");
    check({ w: np.array([1, 2], { dtype: "float64" }), b: np.array([3]) }, "w");
  });
});

// ---------------------------------------------------------------------------------------------------
// Fuzzing: corrupted variants of valid files decode to a consistent result or a typed error, never a throw.

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 200);

type Mutation =
  | { kind: "flip"; at: number; value: number }[]
  | { kind: "data-flip"; at: number; value: number }
  | { kind: "truncate"; keep: number }
  | { kind: "header-length"; value: bigint }
  | { kind: "header-text"; edit: "delete" | "insert" | "replace"; at: number; text: string }
  | { kind: "header-number"; nth: number; value: string };

const JSON_NOISE = fc.constantFrom(
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  '"',
  "\\",
  "0",
  "-1",
  "1e9",
  "x",
  '"F16"',
  '"I64"',
  '"x"',
  " ",
  "\u00e9",
  "\ud800",
  "null",
);

// Weighted towards edits that keep the file parseable, so the deeper checks (offsets, shapes, values) get exercised.
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.array(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
    { minLength: 1, maxLength: 4 },
  ),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("data-flip" as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  },
  fc.record({ kind: fc.constant("truncate" as const), keep: fc.nat() }),
  fc.record({
    kind: fc.constant("header-length" as const),
    value: fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 400n })),
  }),
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("header-text" as const),
      edit: fc.constantFrom("delete" as const, "insert" as const, "replace" as const),
      at: fc.nat(),
      text: JSON_NOISE,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("header-number" as const),
      nth: fc.nat(),
      value: fc.oneof(
        fc.integer({ min: -2, max: 100 }).map(String),
        fc.constantFrom("2.5", "1e3", "9007199254740993", "18446744073709551616", '"1"', "null"),
      ),
    }),
  },
);

function mutate(bytes: Uint8Array, mutation: Mutation): Uint8Array {
  const out = bytes.slice();
  if (Array.isArray(mutation)) {
    for (const { at, value } of mutation) out[at % out.length] = value;
    return out;
  }
  if (out.length < 8) return out; // no header left to edit
  // The length may already be corrupt: clamp it, so edits land in whatever follows the length field.
  const claimed = new DataView(out.buffer).getBigUint64(0, true);
  const headerLength = Number(claimed < BigInt(out.length - 8) ? claimed : BigInt(out.length - 8));
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  const rest = bytes.subarray(8 + headerLength);
  const withHeader = (text: string): Uint8Array => {
    const encoded = new TextEncoder().encode(text);
    const file = new Uint8Array(8 + encoded.length + rest.length);
    new DataView(file.buffer).setBigUint64(0, BigInt(encoded.length), true);
    file.set(encoded, 8);
    file.set(rest, 8 + encoded.length);
    return file;
  };
  switch (mutation.kind) {
    case "data-flip":
      if (rest.length > 0) out[8 + headerLength + (mutation.at % rest.length)] = mutation.value;
      return out;
    case "truncate":
      return out.slice(0, mutation.keep % (out.length + 1));
    case "header-length":
      new DataView(out.buffer).setBigUint64(0, mutation.value, true);
      return out;
    case "header-text": {
      const at = mutation.at % (header.length + 1);
      if (mutation.edit === "insert")
        return withHeader(header.slice(0, at) + mutation.text + header.slice(at));
      if (mutation.edit === "delete")
        return withHeader(header.slice(0, at) + header.slice(at + mutation.text.length));
      return withHeader(header.slice(0, at) + mutation.text + header.slice(at + mutation.text.length));
    }
    case "header-number": {
      const numbers = [...header.matchAll(/\d+/g)];
      if (numbers.length === 0) return out;
      const m = numbers[mutation.nth % numbers.length]!;
      return withHeader(header.slice(0, m.index) + mutation.value + header.slice(m.index + m[0].length));
    }
  }
}

describe("safetensors: fuzzing corrupted files", () => {
  it(`decode returns a consistent tree or a typed DecodeError, never throws (${FUZZ_RUNS} runs; FUZZ_RUNS to change)`, () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(rootTreeArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (t, mutations) => {
        const bytes = mutations.reduce(mutate, safetensors.encode(t, { metadata: { step: "1" } }));
        const result = safetensors.decodeFile(bytes); // a throw fails the property
        const outcome = E.isLeft(result) ? result.left.kind : "ok";
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        if (E.isLeft(result)) {
          expect(ALL_KINDS).toContain(result.left.kind);
          expect(result.left.message.length).toBeGreaterThan(0);
          return;
        }
        // Success: every tensor is self-consistent, nothing is bigger than the bytes justify, and it re-encodes.
        let allocated = 0;
        for (const [key, x] of Object.entries(result.right.tensors)) {
          const data = x.toTypedArray();
          expect(data.length, key).toBe(x.shape.reduce((a, b) => a * b, 1));
          if (x.dtype === "bool") expect(data.every((v) => v === 0 || v === 1)).toBe(true);
          allocated += data.byteLength;
        }
        // No widening: at most as many bytes of storage as the file has (I64 narrows to int32).
        expect(allocated).toBeLessThanOrEqual(bytes.length);
        const again = expectRight(safetensors.decode(safetensors.encode(result.right.tensors)));
        for (const [key, x] of Object.entries(result.right.tensors)) expectSameArray(again[key], x, key);
      }),
      { numRuns: FUZZ_RUNS },
    );
    // A fuzzer whose mutations always fail in the same way would test little: make sure it reaches deep checks.
    if (FUZZ_RUNS >= 200) expect(outcomes.size).toBeGreaterThan(5);
    console.log(`safetensors fuzz outcomes over ${FUZZ_RUNS} runs:`, Object.fromEntries(outcomes));
  });
});
