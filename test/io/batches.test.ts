/** io.batches over any tree of arrays: one shuffle shared by every leaf, the tree's structure kept. */
import { describe, expect, expectTypeOf, it } from "vitest";
import { io, type NdArray, np, random, ShapeError } from "../../src/index.js";
import type { Batch } from "../../src/io/batches.js";

const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const n = 11;
/** Row i of every leaf below encodes example i, so rows taken together must agree. */
const features = np.reshape(np.arange(0, n * 3, 1, { dtype: "float64" }), [n, 3]); // row i: 3i, 3i+1, 3i+2
const mask = np.arange(0, n, 1, { dtype: "int32" }).mul(2); // row i: 2i
const targets = np.reshape(np.arange(0, n * 4, 1, { dtype: "float32" }), [n, 2, 2]); // row i: 4i..4i+3

describe("io.batches of a tree", () => {
  it("keeps the tree's structure and cuts every leaf to the same rows, covering each example once", () => {
    const data = { inputs: [features, mask], targets };
    const out = [...io.batches(random.key(3), data, 4)];
    expectTypeOf(out[0]!).toEqualTypeOf<typeof data>();
    expect(out.map((b) => b.targets.shape)).toEqual([
      [4, 2, 2],
      [4, 2, 2],
      [3, 2, 2],
    ]);
    const seen: number[] = [];
    for (const b of out) {
      expect(Object.keys(b)).toEqual(["inputs", "targets"]);
      const [f, m] = b.inputs as NdArray[];
      expect(f!.dtype).toBe("float64");
      expect(m!.dtype).toBe("int32");
      const examples = values(m!).map((v) => v / 2);
      expect(values(f!)).toEqual(examples.flatMap((i) => [3 * i, 3 * i + 1, 3 * i + 2]));
      expect(values(b.targets)).toEqual(examples.flatMap((i) => [4 * i, 4 * i + 1, 4 * i + 2, 4 * i + 3]));
      seen.push(...examples);
    }
    expect(seen).not.toEqual([...seen].sort((a, b) => a - b)); // shuffled
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  });

  it("shuffles a tree exactly as it shuffles { images, labels } with the same key", () => {
    const key = random.key(7);
    const legacy = [...io.batches(key, { images: targets, labels: mask }, 5)].flatMap((b) => values(b.y));
    const tree = [...io.batches(key, { labels: mask, other: features }, 5)].flatMap((b) => values(b.labels));
    const pair = [...io.batches(key, [features, mask], 5)].flatMap((b) => values(b[1]!));
    expect(tree).toEqual(legacy);
    expect(pair).toEqual(legacy);
  });

  it("batches one array into arrays, in order without shuffle", () => {
    const out = [...io.batches(random.key(0), mask, 4, { shuffle: false, dropLast: true })];
    expectTypeOf(out[0]!).toEqualTypeOf<NdArray>();
    expect(out.map(values)).toEqual([
      [0, 2, 4, 6],
      [8, 10, 12, 14],
    ]);
  });

  it("yields { x, y } only for exactly { images, labels }", () => {
    const legacy = io.batches(random.key(0), { images: targets, labels: mask }, 4).next();
    expectTypeOf(legacy.value!).toEqualTypeOf<Batch>();
    expect(Object.keys(legacy.value!)).toEqual(["x", "y"]);
    const more = io.batches(random.key(0), { images: targets, labels: mask, weights: features }, 4).next();
    expectTypeOf(more.value!).toEqualTypeOf<{ images: NdArray; labels: NdArray; weights: NdArray }>();
    expect(Object.keys(more.value!)).toEqual(["images", "labels", "weights"]);
  });

  it("rejects leaves of different leading sizes, scalars, non-arrays and empty trees, naming the leaf", () => {
    const first = <T>(data: T) => io.batches(random.key(0), data, 2).next();
    expect(() => first({ a: features, b: { c: np.zeros([3]) } })).toThrow(
      new ShapeError(
        "io.batches: every array needs the same leading size (the examples), got 'a' float64[11,3], 'b.c' float32[3]",
      ),
    );
    expect(() => first({ a: features, s: np.array(1) })).toThrow(/'s' is float32\[\], a scalar/);
    expect(() => first({ a: features, step: 3 })).toThrow(
      new TypeError("io.batches: every leaf of the data must be an array, but 'step' is a number"),
    );
    expect(() => first({})).toThrow(new TypeError("io.batches: the data holds no arrays"));
  });
});
