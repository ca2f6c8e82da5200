/**
 * The `mnist` package's 10,000 digits in a compact form for the page: two IDX files (uint8 pixels
 * [N, 28, 28] and uint8 labels [N], in the package's order), gzipped at build time. Decoded here into
 * exactly the splits `io.mnist.loadBundled` gives in Node (through `io.mnist.splitDigits`): the package
 * stores each pixel as k/255 rounded to three decimals, so the byte k gives it back.
 */
import * as E from "fp-ts/lib/Either.js";
import { io } from "tracegrad";

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

/** The splits of io.mnist.loadBundled (its options) from the IDX files of encodeDigits. */
export function decodeDigits(files: DigitFiles, options: io.mnist.BundledOptions): io.mnist.MnistSplits {
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
  // Each digit's pixels in the package's order, as its JSON file holds them.
  const perDigit = Array.from({ length: 10 }, () => [] as number[]);
  for (let i = 0; i < count; i++) perDigit[labels.data[i]!]!.push(i);
  const digits = perDigit.map((indices) => {
    const pixels = new Float32Array(indices.length * PIXELS);
    indices.forEach((image, k) => {
      for (let p = 0; p < PIXELS; p++)
        pixels[k * PIXELS + p] = PIXEL_VALUES[images.data[image * PIXELS + p]!]!;
    });
    return pixels;
  });
  return io.mnist.splitDigits(digits, options);
}
