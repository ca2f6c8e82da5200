/**
 * Checkpoints: any tree of arrays and numbers (parameters, optimizer state, an RNG key, the step) saved as
 * one safetensors file that PyTorch's `safetensors.torch.load_file` can also read.
 *
 * JS numbers in the tree (an optimizer's step count, say) are stored as 0-d float64 tensors, and their
 * paths are listed in the metadata entry `tracegrad.numbers`, so `load` gives numbers back as numbers.
 * Paths become keys (`params.conv1.weight`); without a template, `load` rebuilds the tree from them, so
 * empty subtrees and nulls (which hold no tensors) are not restored: pass the tree you saved (or one of
 * the same structure) as the template to get exactly its shape back.
 *
 * The bytes (`encodeCheckpoint`, `decodeCheckpoint`) work everywhere; `save` and `load` of a file are in
 * `tracegrad/node`.
 */
import * as E from "fp-ts/lib/Either.js";
import { ConcreteArray, NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { flattenWithPath, map as mapTree } from "../tree/index.js";
import { type DecodeError, decodeFile, encode, fillTemplate, unflattenPaths } from "./safetensors.js";

/** Options of `io.save` and `io.encodeCheckpoint`. */
export interface SaveOptions {
  /** Strings stored in the file's `__metadata__` (keys starting with `tracegrad.` are reserved). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Metadata key listing the paths of leaves that were JS numbers. */
export const NUMBERS_METADATA_KEY = "tracegrad.numbers";
const RESERVED_PREFIX = "tracegrad.";

/** The safetensors bytes `save` (of `tracegrad/node`) writes: numbers become 0-d float64 tensors, listed in the metadata. */
export function encodeCheckpoint(tree: unknown, options: SaveOptions = {}): Uint8Array {
  checkOptions("io.encodeCheckpoint", options, ["metadata"]);
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
 * The tree in checkpoint bytes, as `load` (of `tracegrad/node`) reads it: with a template, the result has
 * the template's structure and every leaf is checked against it; without one, the tree comes from the
 * keys. Never throws: malformed bytes give a DecodeError.
 */
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
