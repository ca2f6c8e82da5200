/**
 * Checkpoints: any tree of arrays and numbers (parameters, optimizer state, an RNG key, the step) saved as
 * one safetensors file that PyTorch's `safetensors.torch.load_file` can also read.
 *
 * JS numbers in the tree (an optimizer's step count, say) are stored as 0-d float64 tensors, and their
 * paths are listed in the metadata entry `tracegrad.numbers`, so `load` gives numbers back as numbers.
 * Paths become keys (`params.conv1.weight`); without a template, `load` rebuilds the tree from them, so
 * empty subtrees and nulls (which hold no tensors) are not restored: pass the tree you saved (or one of
 * the same structure) as the template to get exactly its shape back.
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { ConcreteArray, NdArray } from "../core/array.js";
import { flattenWithPath, map as mapTree } from "../tree/index.js";
import { type DecodeError, decodeFile, encode, fillTemplate, unflattenPaths } from "./safetensors.js";

/** A file that could not be read. */
export interface IoError {
  readonly kind: "io-error";
  readonly path: string;
  /** Node's error code (`ENOENT`, `EACCES`, ...), when it gave one. */
  readonly code?: string;
  readonly message: string;
}

export interface SaveOptions {
  /** Strings stored in the file's `__metadata__` (keys starting with `tracegrad.` are reserved). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Metadata key listing the paths of leaves that were JS numbers. */
export const NUMBERS_METADATA_KEY = "tracegrad.numbers";
const RESERVED_PREFIX = "tracegrad.";

/**
 * Writes `tree` to `path` atomically: to a temporary file in the same directory, flushed to disk, then
 * renamed over `path`, so a crash never leaves a half-written checkpoint. Leaves must be arrays or
 * numbers (TypeError otherwise); rejects with Node's error when the file cannot be written.
 */
export async function save(path: string, tree: unknown, options: SaveOptions = {}): Promise<void> {
  const bytes = encodeCheckpoint(tree, options);
  const temporary = join(
    dirname(path),
    `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`,
  );
  try {
    const handle = await open(temporary, "wx");
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The safetensors bytes `save` writes: numbers become 0-d float64 tensors, listed in the metadata. */
export function encodeCheckpoint(tree: unknown, options: SaveOptions = {}): Uint8Array {
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.metadata ?? {})) {
    if (key.startsWith(RESERVED_PREFIX))
      throw new TypeError(`checkpoint.save: metadata key '${key}' is reserved`);
    metadata[key] = value;
  }
  const numberPaths = flattenWithPath<unknown>(tree)
    .filter(([, leaf]) => typeof leaf === "number")
    .map(([path]) => path);
  if (numberPaths.length > 0) metadata[NUMBERS_METADATA_KEY] = JSON.stringify(numberPaths);
  const arrays = mapTree(
    (leaf: unknown) =>
      typeof leaf === "number" ? new ConcreteArray([], "float64", Float64Array.of(leaf)) : leaf,
    tree,
  );
  return encode(arrays, { metadata });
}

/**
 * Reads a checkpoint written by `save` (or any safetensors file). With a template, the result has the
 * template's structure and every leaf is checked against it; without one, the tree comes from the keys.
 * Never throws: unreadable files give an IoError, malformed ones a DecodeError.
 */
export async function load<T = unknown>(
  path: string,
  template?: T,
): Promise<E.Either<DecodeError | IoError, T>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const message = `cannot read checkpoint ${path}: ${error instanceof Error ? error.message : String(error)}`;
    return E.left(
      code === undefined ? { kind: "io-error", path, message } : { kind: "io-error", path, code, message },
    );
  }
  return decodeCheckpoint<T>(bytes, template);
}

/** The tree in checkpoint bytes (see `load`). */
export function decodeCheckpoint<T = unknown>(bytes: Uint8Array, template?: T): E.Either<DecodeError, T> {
  const file = decodeFile(bytes);
  if (E.isLeft(file)) return file;
  const { tensors, metadata } = file.right;
  const numbers = Object.hasOwn(metadata, NUMBERS_METADATA_KEY)
    ? parseNumberPaths(metadata[NUMBERS_METADATA_KEY]!, tensors)
    : E.right([]);
  if (E.isLeft(numbers)) return numbers;
  const numberPaths = new Set(numbers.right);
  if (template !== undefined) return fillTemplate(tensors, template);
  const entries = Object.entries(tensors).map(([key, array]): [string, unknown] => [
    key,
    numberPaths.has(key) ? array.item() : array,
  ]);
  return unflattenPaths(entries) as E.Either<DecodeError, T>;
}

/** The `tracegrad.numbers` list, checked: a JSON array of keys of one-element tensors. */
function parseNumberPaths(
  text: string,
  tensors: Readonly<Record<string, NdArray>>,
): E.Either<DecodeError, string[]> {
  const bad = (why: string): E.Either<DecodeError, never> =>
    E.left({
      kind: "invalid-metadata",
      message: `metadata ${NUMBERS_METADATA_KEY}: ${why}`,
      key: NUMBERS_METADATA_KEY,
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return bad("not JSON");
  }
  if (!Array.isArray(parsed)) return bad("not a JSON array of keys");
  for (const key of parsed) {
    if (typeof key !== "string") return bad("not a JSON array of keys");
    const tensor = Object.hasOwn(tensors, key) ? tensors[key] : undefined;
    if (!(tensor instanceof NdArray) || tensor.size !== 1)
      return bad(`'${key.slice(0, 80)}' is not a one-element tensor`);
  }
  return E.right(parsed as string[]);
}
