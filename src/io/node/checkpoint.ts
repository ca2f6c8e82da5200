/**
 * Checkpoint files (Node): `save` writes a tree as one safetensors file, atomically; `load` reads it back.
 * The format and the bytes are `encodeCheckpoint`/`decodeCheckpoint` of io (io/checkpoint.ts).
 * @module
 */
import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import * as E from "fp-ts/lib/Either.js";
import { checkOptions } from "../../core/options.js";
import { decodeCheckpoint, encodeCheckpoint, type SaveOptions } from "../checkpoint.js";
import type { DecodeError } from "../safetensors.js";

/** A file that could not be read. */
export interface IoError {
  readonly kind: "io-error";
  readonly path: string;
  /** Node's error code (`ENOENT`, `EACCES`, ...), when it gave one. */
  readonly code?: string;
  readonly message: string;
}

/**
 * Writes `tree` to `path` atomically: to a temporary file in the same directory, flushed to disk, then
 * renamed over `path`, so a crash never leaves a half-written checkpoint. Leaves must be arrays or
 * numbers (TypeError otherwise); rejects with Node's error when the file cannot be written.
 */
export async function save(path: string, tree: unknown, options: SaveOptions = {}): Promise<void> {
  checkOptions("io.save", options, ["metadata"]);
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
  // The message names the file: "not a safetensors file" means little without which one.
  return E.mapLeft((error: DecodeError): DecodeError => ({ ...error, message: `${path}: ${error.message}` }))(
    decodeCheckpoint<T>(bytes, template),
  );
}
