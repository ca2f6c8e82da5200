/**
 * The `mnist` package's 10,000 digits in a compact form for the page: two IDX files (uint8 pixels
 * [N, 28, 28] and uint8 labels [N], in the package's order), gzipped at build time. Decoded here into
 * exactly the splits `io.mnist.loadBundled` gives in Node: the package stores each pixel as k/255 rounded
 * to three decimals, so the byte k gives it back.
 */
import * as E from "fp-ts/lib/Either.js";
import { type DType, io, np } from "../../src/index.js";

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** The digits' pixels and labels as IDX files (not yet gzipped). */
export interface DigitFiles {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

/** Pixel value for byte k, as the package's JSON holds it (k/255 to three decimals), in float32 as loadBundled reads it. */
const PIXEL_VALUES = Float32Array.from({ length: 256 }, (_, k) => Number((k / 255).toFixed(3)));

/** Encodes the package's digit files (`digits[d].data`: pixels of digit d's images) as IDX bytes. */
export function encodeDigits(digits: readonly { readonly data: readonly number[] }[]): DigitFiles {
  const count = digits.reduce((n, d) => n + d.data.length / PIXELS, 0);
  const pixels = new Uint8Array(count * PIXELS);
  const labels = new Uint8Array(count);
  let image = 0;
  digits.forEach(({ data }, digit) => {
    if (data.length % PIXELS !== 0) throw new Error(`encodeDigits: digit ${digit} holds a partial image`);
    for (let i = 0; i < data.length; i++) {
      const byte = Math.round(data[i]! * 255);
      if (PIXEL_VALUES[byte] !== Math.fround(data[i]!))
        throw new Error(`encodeDigits: pixel ${data[i]} of digit ${digit} is not k/255 to three decimals`);
      pixels[image * PIXELS + i] = byte;
    }
    labels.fill(digit, image, image + data.length / PIXELS);
    image += data.length / PIXELS;
  });
  return {
    images: io.mnist.writeIdx({ shape: [count, SIDE, SIDE], elementType: "uint8", data: pixels }),
    labels: io.mnist.writeIdx({ shape: [count], elementType: "uint8", data: labels }),
  };
}

/** Image preparation, as io.mnist.loadBundled's options. */
export interface DigitOptions {
  readonly dtype: DType;
  readonly normalize: { readonly mean: number; readonly std: number };
  readonly testFraction?: number;
}

/** The pixels of one 28x28 image in [0, 1], padded by 2 to 32x32 and normalized, into `out` at `offset`. */
export function prepareImage(
  pixels: ArrayLike<number>,
  out: Float32Array | Float64Array,
  offset: number,
  { mean, std }: DigitOptions["normalize"],
): void {
  const side = SIDE + 4;
  out.fill((0 - mean) / std, offset, offset + side * side);
  for (let r = 0; r < SIDE; r++)
    for (let c = 0; c < SIDE; c++)
      out[offset + (r + 2) * side + c + 2] = (pixels[r * SIDE + c]! - mean) / std;
}

/** The splits of io.mnist.loadBundled (pad 2) from the IDX files of encodeDigits. */
export function decodeDigits(files: DigitFiles, options: DigitOptions): io.mnist.MnistSplits {
  const read = (bytes: Uint8Array, what: string) => {
    const parsed = io.mnist.readIdx(bytes);
    if (E.isLeft(parsed)) throw new Error(`decodeDigits: ${what}: ${parsed.left.message}`);
    return parsed.right;
  };
  const images = read(files.images, "images");
  const labels = read(files.labels, "labels");
  const count = labels.shape[0]!;
  if (images.shape.join() !== `${count},${SIDE},${SIDE}`)
    throw new Error(`decodeDigits: images [${images.shape}] do not match ${count} labels`);
  const testFraction = options.testFraction ?? 0.2;
  const seen = new Array<number>(10).fill(0);
  const indices = { train: [] as number[], test: [] as number[] };
  for (let i = 0; i < count; i++) {
    const digit = labels.data[i]!;
    (io.mnist.isTestIndex(seen[digit]!++, testFraction) ? indices.test : indices.train).push(i);
  }
  const pixels = new Float32Array(PIXELS);
  const split = (chosen: number[]): io.mnist.LabeledImages => {
    const side = SIDE + 4;
    const data =
      options.dtype === "float64"
        ? new Float64Array(chosen.length * side * side)
        : new Float32Array(chosen.length * side * side);
    chosen.forEach((image, k) => {
      for (let p = 0; p < PIXELS; p++) pixels[p] = PIXEL_VALUES[images.data[image * PIXELS + p]!]!;
      prepareImage(pixels, data, k * side * side, options.normalize);
    });
    return {
      images: np.array(data, { shape: [chosen.length, 1, side, side], dtype: options.dtype }),
      labels: np.array(
        Int32Array.from(chosen, (i) => labels.data[i]!),
        { shape: [chosen.length], dtype: "int32" },
      ),
    };
  };
  return { train: split(indices.train), test: split(indices.test) };
}
