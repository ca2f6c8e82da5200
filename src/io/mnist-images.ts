/**
 * The work of io.mnist's splitDigits and fromIdx, with the name of the public function their errors
 * name (`tracegrad/node`'s loadBundled and loadIdxFiles call them too).
 * @module
 */
import * as E from "fp-ts/lib/Either.js";
import { ConcreteArray } from "../core/array.js";
import { isFloat, storageFor } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import type {
  BundledOptions,
  IdxArray,
  ImageOptions,
  LabeledImages,
  MnistSplits,
  NotMnistError,
} from "./mnist.js";

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/**
 * Whether image `i` of a digit goes to the test split: exactly floor(n * testFraction) images, spread
 * evenly. For testFraction = 0.2 that is every 5th image (indices 4, 9, 14, ...) of each digit.
 */
export function isTestIndex(i: number, testFraction: number): boolean {
  return Math.floor((i + 1) * testFraction) > Math.floor(i * testFraction);
}

/** splitDigits, its errors naming `who`. */
export function splitDigitsAs(
  who: string,
  digits: readonly ArrayLike<number>[],
  options: BundledOptions,
): MnistSplits {
  checkOptions(who, options, ["pad", "dtype", "normalize", "testFraction"]);
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction >= 0 && testFraction <= 1)) {
    throw new RangeError(`${who}: testFraction must be in [0, 1], got ${testFraction}`);
  }
  if (digits.length !== 10)
    throw new RangeError(`${who}: expected the pixels of 10 digits, got ${digits.length}`);
  const train: Sample[] = [];
  const test: Sample[] = [];
  digits.forEach((pixels, digit) => {
    if (pixels.length % PIXELS !== 0) {
      throw new RangeError(
        `${who}: digit ${digit} has ${pixels.length} pixels, not a whole number of ${SIDE}x${SIDE} images`,
      );
    }
    const count = pixels.length / PIXELS;
    for (let i = 0; i < count; i++) {
      const sample: Sample = { pixels, offset: i * PIXELS, label: digit };
      (isTestIndex(i, testFraction) ? test : train).push(sample);
    }
  });
  return {
    train: toLabeledImages(who, train, options),
    test: toLabeledImages(who, test, options),
  };
}

/** One 28x28 image inside a larger buffer of pixels in [0, 1]. */
interface Sample {
  readonly pixels: ArrayLike<number>;
  readonly offset: number;
  readonly label: number;
}

function toLabeledImages(
  who: string,
  samples: readonly Sample[],
  options: ImageOptions,
  /** Whether the samples' pixels are bytes (0-255, IDX files) rather than values in [0, 1]. */
  bytes = false,
): LabeledImages {
  const pad = options.pad ?? 2;
  const dtype = options.dtype ?? "float32";
  if (!Number.isInteger(pad) || pad < 0)
    throw new RangeError(`${who}: pad must be a non-negative integer, got ${pad}`);
  if (!isFloat(dtype) && dtype !== "uint8")
    throw new TypeError(`${who}: images must be float32, float64 or uint8, got ${dtype}`);
  if (dtype === "uint8" && options.normalize)
    throw new TypeError(
      `${who}: uint8 images are the raw bytes; normalize them after converting to float (inside the jitted step), not here`,
    );
  const { mean, std } = options.normalize ?? { mean: 0, std: 1 };
  if (!(std > 0)) throw new RangeError(`${who}: normalize.std must be positive, got ${std}`);
  const side = SIDE + 2 * pad;
  const n = samples.length;
  const images = storageFor(dtype, n * side * side);
  const labels = new Int32Array(n);
  // uint8: the byte itself, or of a pixel in [0, 1] (the bundled digits are k/255 to 3 decimals: k again).
  // Float: bytes scaled to float32 [0, 1] first, as torchvision's ToTensor.
  const value =
    dtype === "uint8"
      ? (p: number) => (bytes ? p : Math.round(p * 255))
      : (p: number) => ((bytes ? Math.fround(p / 255) : p) - mean) / std;
  const background = value(0);
  if (background !== 0) images.fill(background);
  samples.forEach((s, k) => {
    labels[k] = s.label;
    const base = k * side * side;
    for (let r = 0; r < SIDE; r++) {
      const row = base + (r + pad) * side + pad;
      for (let c = 0; c < SIDE; c++) images[row + c] = value(s.pixels[s.offset + r * SIDE + c]!);
    }
  });
  return {
    images: new ConcreteArray([n, 1, side, side], dtype, images),
    labels: new ConcreteArray([n], "int32", labels),
  };
}

/** fromIdx, its errors naming `who`. */
export function fromIdxAs(
  who: string,
  images: IdxArray,
  labels: IdxArray,
  options: ImageOptions,
): E.Either<NotMnistError, LabeledImages> {
  checkOptions(who, options, ["pad", "dtype", "normalize"]);
  const [n, h, w] = images.shape;
  if (images.elementType !== "uint8" || images.shape.length !== 3 || h !== SIDE || w !== SIDE) {
    return E.left({
      kind: "notMnist",
      part: "images",
      message: `expected uint8 images [N,28,28], got ${images.elementType} [${images.shape.join(",")}]`,
    });
  }
  if (labels.elementType !== "uint8" || labels.shape.length !== 1 || labels.shape[0] !== n) {
    return E.left({
      kind: "notMnist",
      part: "labels",
      message: `expected ${n} uint8 labels, got ${labels.elementType} [${labels.shape.join(",")}]`,
    });
  }
  // The bytes as they are: no float copy (scaled to [0, 1] per pixel where float images are asked for).
  const samples: Sample[] = [];
  for (let i = 0; i < n!; i++)
    samples.push({ pixels: images.data, offset: i * PIXELS, label: labels.data[i]! });
  return E.right(toLabeledImages(who, samples, options, true));
}
