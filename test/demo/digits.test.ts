/** The demo's compact digits decode to exactly the splits io.mnist.loadBundled gives in Node. */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeDigits, encodeDigits } from "../../docs/demo/digits.js";
import { MNIST_NORMALIZATION } from "../../docs/demo/training.js";
import { io } from "../../src/node.js";

const mnist = dirname(createRequire(import.meta.url).resolve("mnist/package.json"));
const digits = Array.from(
  { length: 10 },
  (_, d) => JSON.parse(readFileSync(join(mnist, "src", "digits", `${d}.json`), "utf8")) as { data: number[] },
);

/** The first index where two typed arrays differ (NaN payloads and the sign of zero included), or -1. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

describe("docs/demo/digits.ts", () => {
  const files = encodeDigits(digits);

  it("stores the 10,000 digits in a byte per pixel", () => {
    expect(files.images.length).toBe(16 + 10_000 * 28 * 28);
    expect(files.labels.length).toBe(8 + 10_000);
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`decodes to loadBundled's ${dtype} splits, value for value`, () => {
      const want = io.mnist.loadBundled({ dtype, normalize: MNIST_NORMALIZATION });
      const got = decodeDigits(files, { dtype, normalize: MNIST_NORMALIZATION });
      for (const split of ["train", "test"] as const) {
        expect(got[split].images.shape).toEqual(want[split].images.shape);
        expect(got[split].images.dtype).toBe(dtype);
        // (toEqual walks 8 million values too slowly)
        expect(firstDifference(got[split].images.toTypedArray(), want[split].images.toTypedArray())).toBe(-1);
        expect(firstDifference(got[split].labels.toTypedArray(), want[split].labels.toTypedArray())).toBe(-1);
      }
    });
  }

  it("refuses a pixel that is not k/255 to three decimals", () => {
    const odd = [{ data: Array.from({ length: 784 }, (_, i) => (i === 5 ? 0.5 : 0)) }];
    expect(() => encodeDigits(odd)).toThrow(/pixel 0.5 of digit 0/);
  });
});
