import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import * as E from "fp-ts/lib/Either.js";
import { afterAll, describe, expect, it } from "vitest";
import { type NdArray, np, random } from "../../src/index.js";
import type { IdxArray, IdxError } from "../../src/io/mnist.js";
import { io } from "../../src/node.js";

const { mnist } = io;
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
/** Bitwise equality of two arrays' storage (fast for millions of elements, unlike a deep compare). */
const sameBytes = (a: NdArray, b: NdArray): boolean => {
  const [x, y] = [a.toTypedArray(), b.toTypedArray()];
  return Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(
    Buffer.from(y.buffer, y.byteOffset, y.byteLength),
  );
};

/** The package's raw images of one digit, 784 floats each (each file read once). */
const rawCache = new Map<number, number[]>();
function rawDigit(d: number): number[] {
  const cached = rawCache.get(d);
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve("mnist/package.json"));
  const file = join(root, "src", "digits", `${d}.json`);
  const data = (JSON.parse(readFileSync(file, "utf8")) as { data: number[] }).data;
  rawCache.set(d, data);
  return data;
}

const PER_DIGIT = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

describe("mnist.loadBundled", () => {
  const { train, test } = mnist.loadBundled();

  it("splits the 10,000 bundled digits 80/20 into [N,1,32,32] float32 images and int32 labels", () => {
    expect(train.images.shape[0]! + test.images.shape[0]!).toBe(10_000);
    const testCount = PER_DIGIT.reduce((n, c) => n + Math.floor(c / 5), 0);
    expect(test.images.shape).toEqual([testCount, 1, 32, 32]);
    expect(train.images.shape).toEqual([10_000 - testCount, 1, 32, 32]);
    expect(train.images.dtype).toBe("float32");
    expect(train.labels.dtype).toBe("int32");
    expect(train.labels.shape).toEqual([train.images.shape[0]]);
    const px = train.images.toTypedArray();
    expect(Math.min(...px.slice(0, 100_000))).toBe(0);
    expect(px.every((v) => v >= 0 && v <= 1)).toBe(true);
  });

  it("keeps every digit's share in both splits", () => {
    const count = (labels: NdArray) => {
      const c = new Array<number>(10).fill(0);
      for (const l of values(labels)) c[l]! += 1;
      return c;
    };
    expect(count(test.labels)).toEqual(PER_DIGIT.map((n) => Math.floor(n / 5)));
    expect(count(train.labels)).toEqual(PER_DIGIT.map((n) => n - Math.floor(n / 5)));
  });

  it("is deterministic: every 5th image of each digit goes to test", () => {
    const again = mnist.loadBundled();
    expect(sameBytes(again.test.images, test.images)).toBe(true);
    expect(sameBytes(again.train.images, train.images)).toBe(true);
    expect(sameBytes(again.train.labels, train.labels)).toBe(true);
    // The first test image is image 4 of digit 0; the first train images are 0..3 of digit 0.
    const zeros = rawDigit(0);
    const center = (images: NdArray, i: number) =>
      values(
        np.slice(images, [{ start: i, stop: i + 1 }, {}, { start: 2, stop: 30 }, { start: 2, stop: 30 }]),
      );
    expect(center(test.images, 0)).toEqual(Array.from(Float32Array.from(zeros.slice(4 * 784, 5 * 784))));
    expect(center(train.images, 3)).toEqual(Array.from(Float32Array.from(zeros.slice(3 * 784, 4 * 784))));
    expect(center(train.images, 4)).toEqual(Array.from(Float32Array.from(zeros.slice(5 * 784, 6 * 784))));
    expect(mnist.isTestIndex(4, 0.2)).toBe(true);
    expect(Array.from({ length: 10 }, (_, i) => mnist.isTestIndex(i, 0.2))).toEqual([
      false,
      false,
      false,
      false,
      true,
      false,
      false,
      false,
      false,
      true,
    ]);
  });

  it("pads with zeros around the original pixels", () => {
    const first = values(np.slice(train.images, [{ start: 0, stop: 1 }])); // [1,1,32,32]
    const at = (r: number, c: number) => first[r * 32 + c]!;
    for (let i = 0; i < 32; i++) {
      for (const border of [0, 1, 30, 31]) {
        expect(at(border, i)).toBe(0);
        expect(at(i, border)).toBe(0);
      }
    }
    const raw = Float32Array.from(rawDigit(0).slice(0, 784));
    for (let r = 0; r < 28; r++) for (let c = 0; c < 28; c++) expect(at(r + 2, c + 2)).toBe(raw[r * 28 + c]);
    const unpadded = mnist.loadBundled({ pad: 0, testFraction: 0.5, dtype: "float64" });
    expect(unpadded.train.images.shape.slice(1)).toEqual([1, 28, 28]);
    expect(unpadded.train.images.dtype).toBe("float64");
    expect(unpadded.test.images.shape[0]).toBe(PER_DIGIT.reduce((n, c) => n + Math.floor(c / 2), 0));
  });

  it("normalizes after padding, so the border is -mean/std", () => {
    const { mean, std } = mnist.MNIST_NORMALIZATION;
    const normalized = mnist.loadBundled({ normalize: { mean, std }, testFraction: 1 });
    expect(normalized.train.images.shape[0]).toBe(0);
    const first = values(np.slice(normalized.test.images, [{ start: 0, stop: 1 }]));
    expect(first[0]).toBeCloseTo(-mean / std, 6);
    const raw = rawDigit(0)[4 * 784 + 14 * 28 + 14]!;
    expect(first[16 * 32 + 16]).toBeCloseTo((raw - mean) / std, 5);
    expect(() => mnist.loadBundled({ testFraction: 1.5 })).toThrow(RangeError);
  });
});

describe("IDX", () => {
  const images: IdxArray = {
    shape: [3, 2, 2],
    elementType: "uint8",
    data: Uint8Array.from([0, 1, 2, 3, 10, 20, 30, 40, 255, 254, 253, 252]),
  };
  const labels: IdxArray = { shape: [3], elementType: "uint8", data: Uint8Array.from([7, 0, 9]) };
  const leftOf = (bytes: Uint8Array): IdxError => {
    const r = mnist.readIdx(bytes);
    if (E.isRight(r)) throw new Error("expected a Left");
    return r.left;
  };

  it("round-trips a small synthetic file, with the MNIST magic numbers", () => {
    const bytes = mnist.writeIdx(images);
    expect(new DataView(bytes.buffer).getUint32(0, false)).toBe(mnist.IDX_IMAGES_MAGIC);
    expect(Array.from(bytes.slice(4, 16))).toEqual([0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 2]);
    const parsed = mnist.readIdx(bytes);
    expect(E.isRight(parsed) && parsed.right).toEqual(images);
    expect(new DataView(mnist.writeIdx(labels).buffer).getUint32(0, false)).toBe(mnist.IDX_LABELS_MAGIC);
  });

  it("round-trips the other element types, big-endian", () => {
    const cases: IdxArray[] = [
      { shape: [2], elementType: "int8", data: Int8Array.from([-5, 100]) },
      { shape: [2, 1], elementType: "int16", data: Int16Array.from([-300, 300]) },
      { shape: [3], elementType: "int32", data: Int32Array.from([-1, 2 ** 30, 7]) },
      { shape: [1, 2], elementType: "float32", data: Float32Array.from([0.5, -1.25]) },
      { shape: [2], elementType: "float64", data: Float64Array.from([Math.PI, -1e300]) },
    ];
    for (const c of cases) expect(mnist.readIdx(mnist.writeIdx(c))).toEqual(E.right(c));
    const i16 = mnist.writeIdx(cases[1]!);
    expect(Array.from(i16.slice(-4))).toEqual([0xfe, 0xd4, 0x01, 0x2c]);
  });

  it("reads from a subarray view (byteOffset) correctly", () => {
    const bytes = mnist.writeIdx(labels);
    const padded = new Uint8Array(bytes.length + 5);
    padded.set(bytes, 5);
    expect(mnist.readIdx(padded.subarray(5))).toEqual(E.right(labels));
  });

  it("rejects a bad magic number", () => {
    const bytes = mnist.writeIdx(labels);
    for (const [index, value] of [
      [0, 1],
      [1, 8],
      [2, 0x07],
    ] as const) {
      const bad = bytes.slice();
      bad[index] = value;
      expect(leftOf(bad).kind).toBe("badMagic");
    }
    expect(leftOf(new TextEncoder().encode("<html>not found</html>")).message).toMatch(
      /bad magic number 0x3c68746d/,
    );
  });

  it("rejects truncated headers", () => {
    expect(leftOf(new Uint8Array([0, 0, 8]))).toMatchObject({
      kind: "truncated",
      headerBytes: 4,
      fileBytes: 3,
    });
    const bytes = mnist.writeIdx(images);
    expect(leftOf(bytes.slice(0, 10))).toMatchObject({ kind: "truncated", headerBytes: 16, fileBytes: 10 });
  });

  it("rejects data that does not match the dims (short or long)", () => {
    const bytes = mnist.writeIdx(images);
    expect(leftOf(bytes.slice(0, bytes.length - 1))).toMatchObject({
      kind: "sizeMismatch",
      expectedBytes: 12,
      actualBytes: 11,
    });
    const long = new Uint8Array(bytes.length + 3);
    long.set(bytes);
    expect(leftOf(long)).toMatchObject({
      kind: "sizeMismatch",
      expectedBytes: 12,
      actualBytes: 15,
      shape: [3, 2, 2],
    });
    const f64 = mnist.writeIdx({ shape: [2], elementType: "float64", data: Float64Array.from([1, 2]) });
    expect(leftOf(f64.slice(0, -4))).toMatchObject({
      kind: "sizeMismatch",
      expectedBytes: 16,
      actualBytes: 12,
    });
  });

  it("rejects absurd dims without allocating them", () => {
    const huge = new Uint8Array(16);
    const view = new DataView(huge.buffer);
    view.setUint32(0, 0x00000803, false);
    view.setUint32(4, 0xffffffff, false);
    view.setUint32(8, 0xffffffff, false);
    view.setUint32(12, 0xffffffff, false);
    expect(leftOf(huge)).toMatchObject({ kind: "absurdDims", shape: [0xffffffff, 0xffffffff, 0xffffffff] });
    expect(leftOf(new Uint8Array([0, 0, 8, 0]))).toMatchObject({ kind: "absurdDims", shape: [] });
    // Large but representable dims are a size mismatch against the (tiny) file.
    view.setUint32(4, 60000, false);
    view.setUint32(8, 28, false);
    view.setUint32(12, 28, false);
    expect(leftOf(huge)).toMatchObject({ kind: "sizeMismatch", expectedBytes: 60000 * 784, actualBytes: 0 });
  });

  describe("loadIdxFiles", () => {
    const dir = mkdtempSync(join(tmpdir(), "tracegrad-idx-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const image28 = (seed: number): Uint8Array =>
      Uint8Array.from({ length: 784 }, (_, i) => (i * 7 + seed) % 256);
    const write = (name: string, a: IdxArray, gzip = false) =>
      writeFileSync(
        join(dir, gzip ? `${name}.gz` : name),
        gzip ? gzipSync(mnist.writeIdx(a)) : mnist.writeIdx(a),
      );

    it("reads the four files (plain or gzipped) into padded [N,1,32,32] images in [0,1]", () => {
      const trainPixels = new Uint8Array([...image28(1), ...image28(2)]);
      write("train-images-idx3-ubyte", { shape: [2, 28, 28], elementType: "uint8", data: trainPixels });
      write("train-labels-idx1-ubyte", { shape: [2], elementType: "uint8", data: Uint8Array.from([3, 8]) });
      write("t10k-images-idx3-ubyte", { shape: [1, 28, 28], elementType: "uint8", data: image28(3) }, true);
      write("t10k-labels-idx1-ubyte", { shape: [1], elementType: "uint8", data: Uint8Array.from([5]) }, true);
      const result = mnist.loadIdxFiles(dir);
      if (E.isLeft(result)) throw new Error(result.left.message);
      const { train, test } = result.right;
      expect(train.images.shape).toEqual([2, 1, 32, 32]);
      expect(values(train.labels)).toEqual([3, 8]);
      expect(values(test.labels)).toEqual([5]);
      const px = train.images.toTypedArray();
      expect(px[0]).toBe(0);
      expect(px[2 * 32 + 2]).toBe(Math.fround(1 / 255));
      expect(px[32 * 32 + 2 * 32 + 2]).toBe(Math.fround(2 / 255));
    });

    it("reports missing and malformed files with their path", () => {
      const empty = mkdtempSync(join(tmpdir(), "tracegrad-idx-empty-"));
      const missing = mnist.loadIdxFiles(empty);
      expect(E.isLeft(missing) && missing.left).toMatchObject({ kind: "missingFile" });
      rmSync(empty, { recursive: true, force: true });
      writeFileSync(join(dir, "train-labels-idx1-ubyte"), new Uint8Array([0, 0, 8, 1, 0, 0, 0, 9, 1]));
      const bad = mnist.loadIdxFiles(dir);
      expect(E.isLeft(bad) && bad.left).toMatchObject({
        kind: "sizeMismatch",
        file: join(dir, "train-labels-idx1-ubyte"),
      });
      write("train-labels-idx1-ubyte", {
        shape: [3],
        elementType: "uint8",
        data: Uint8Array.from([1, 2, 3]),
      });
      const mismatch = mnist.loadIdxFiles(dir);
      expect(E.isLeft(mismatch) && mismatch.left).toMatchObject({ kind: "notMnist" });
    });
  });
});

describe("io.batches", () => {
  const n = 23;
  const images = np.reshape(np.arange(0, n * 4, 1, { dtype: "float32" }), [n, 1, 2, 2]);
  const labels = np.arange(0, n, 1, { dtype: "int32" });
  const epoch = (key: random.Key, batchSize: number, options = {}) => [
    ...io.batches(key, { images, labels }, batchSize, options),
  ];

  it("covers each example exactly once per epoch, x and y aligned", () => {
    const out = epoch(random.key(0), 5);
    expect(out.map((b) => b.x.shape[0])).toEqual([5, 5, 5, 5, 3]);
    const seen = out.flatMap((b) => values(b.y));
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    for (const b of out) {
      expect(b.x.shape.slice(1)).toEqual([1, 2, 2]);
      const firstPixels = values(b.x).filter((_, i) => i % 4 === 0);
      expect(firstPixels).toEqual(values(b.y).map((l) => l * 4));
    }
  });

  it("shuffles by key: same key same order, different keys different orders", () => {
    const order = (key: random.Key) => epoch(key, 4).flatMap((b) => values(b.y));
    expect(order(random.key(1))).toEqual(order(random.key(1)));
    expect(order(random.key(1))).not.toEqual(order(random.key(2)));
    expect(order(random.key(1))).not.toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("dropLast and shuffle: false", () => {
    expect(epoch(random.key(0), 5, { dropLast: true }).map((b) => b.y.shape[0])).toEqual([5, 5, 5, 5]);
    expect(epoch(random.key(0), 10, { shuffle: false }).flatMap((b) => values(b.y))).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    expect(() => epoch(random.key(0), 0)).toThrow(RangeError);
    expect(() => [
      ...io.batches(random.key(0), { images, labels: np.zeros([3], { dtype: "int32" }) }, 2),
    ]).toThrow(/same leading size/);
  });

  it("batches the bundled digits", () => {
    const { test } = mnist.loadBundled();
    const first = io.batches(random.key(0), test, 64).next();
    expect(first.done).toBe(false);
    if (!first.done) {
      expect(first.value.x.shape).toEqual([64, 1, 32, 32]);
      expect(first.value.y.dtype).toBe("int32");
    }
  });
});

describe("uint8 images (no float copy on the host)", () => {
  it("loadBundled({ dtype: 'uint8' }) gives the pixel bytes: the float images are their k/255 to 3 decimals", () => {
    const bytes = mnist.loadBundled({ dtype: "uint8" });
    const floats = mnist.loadBundled();
    expect(bytes.train.images.dtype).toBe("uint8");
    expect(bytes.train.images.shape).toEqual(floats.train.images.shape);
    const b = bytes.test.images.toTypedArray();
    const f = floats.test.images.toTypedArray();
    expect(b).toBeInstanceOf(Uint8Array);
    let worst = 0;
    for (let i = 0; i < f.length; i++) worst = Math.max(worst, Math.abs(b[i]! / 255 - f[i]!));
    expect(worst).toBeLessThanOrEqual(0.0005 + 1e-7); // the package rounds k/255 to 3 decimals
    expect(values(bytes.test.labels)).toEqual(values(floats.test.labels));
  });
  it("refuses normalize with uint8 images (normalize after converting, inside the step)", () => {
    expect(() => mnist.loadBundled({ dtype: "uint8", normalize: { mean: 0.1307, std: 0.3081 } })).toThrow(
      /uint8 images are the raw bytes/,
    );
  });
});
