/**
 * safetensors: the checkpoint format of Hugging Face and PyTorch users (https://github.com/huggingface/safetensors).
 *
 * Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON
 * (`name -> { dtype, shape, data_offsets: [begin, end] }`, plus an optional `__metadata__` of strings),
 * then the raw little-endian tensor bytes; offsets count from the start of that data section.
 *
 * Keys are tree paths (`conv1.weight`, `layers.0.bias`). `decode` treats its input as hostile: every
 * malformed file gives a typed `DecodeError` (never an exception, a hang, or an allocation sized by what
 * the header claims rather than by the bytes actually present).
 * @module
 */
import * as E from "fp-ts/lib/Either.js";
import { ConcreteArray, NdArray } from "../core/array.js";
import type { DType, TypedArray } from "../core/dtype.js";
import { fromBfloat16Bits, fromFloat16Bits } from "../core/half.js";
import { checkOptions } from "../core/options.js";
import { flattenWithPath } from "../tree/index.js";
import { isPlainObject } from "../tree/treedef.js";

// ---------------------------------------------------------------------------------------------------
// Errors

/** Why `decode` rejected a file: one kind per way a file can be malformed. */
export type DecodeErrorKind =
  /** Not a safetensors file at all: the header after the 8-byte length does not start with `{`. */
  | "not-safetensors"
  /** Fewer than 8 bytes, or a header length that points past the end of the file. */
  | "header-length-beyond-file"
  /** A header length over 100 MB, the reference implementation's limit. */
  | "header-too-large"
  /** The header is not UTF-8 JSON. */
  | "invalid-json"
  /** Valid JSON, but not a safetensors header (not an object, a field missing or of the wrong type, absurd nesting). */
  | "invalid-header"
  /** The same key twice in one JSON object (JSON.parse would silently keep the last). */
  | "duplicate-key"
  /** `__metadata__` is not an object of strings. */
  | "invalid-metadata"
  /** A dtype this library cannot read. */
  | "unknown-dtype"
  /** A dimension that is not a non-negative integer, or one too large to be exact in a JS number. */
  | "bad-dimension"
  /** The shape's byte size differs from the length given by data_offsets. */
  | "shape-offset-mismatch"
  /** A tensor whose data_offsets end before they begin. */
  | "offsets-out-of-order"
  /** Two tensors whose byte ranges overlap. */
  | "overlapping-offsets"
  /** Bytes between two tensors that belong to neither. */
  | "hole-in-data"
  /** A tensor whose bytes extend past the end of the file. */
  | "offsets-beyond-data"
  /** Bytes after the last tensor. */
  | "trailing-bytes"
  /** An integer tensor (I64, U64) holding a value that does not fit int32. */
  | "integer-out-of-range"
  /** Paths that cannot form one tree (`a` is both a leaf and a subtree), or absurdly deep paths. */
  | "bad-path"
  /** The file's tensors differ from the template's leaves (a missing or extra key, shape or dtype). */
  | "template-mismatch";

/** A rejected file, as a value (decode never throws on bad input). */
export interface DecodeError {
  /** What is wrong, to match on. */
  readonly kind: DecodeErrorKind;
  /** A readable explanation. */
  readonly message: string;
  /** The tensor (or metadata) key the error is about, when there is one. */
  readonly key?: string;
}

/** Keys in messages are cut short: a hostile key may be megabytes long. */
function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function fail(kind: DecodeErrorKind, message: string, key?: string): E.Either<DecodeError, never> {
  return E.left(key === undefined ? { kind, message } : { kind, message, key });
}

// ---------------------------------------------------------------------------------------------------
// Dtypes

/** safetensors dtype names this module reads; it writes all but I64 and U64. */
export type SafetensorsDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "I64"
  | "U64"
  | "I32"
  | "U32"
  | "I16"
  | "U16"
  | "I8"
  | "U8"
  | "BOOL";

const ITEM_BYTES: Readonly<Record<SafetensorsDType, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  U64: 8,
  I32: 4,
  U32: 4,
  I16: 2,
  U16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * What each file dtype becomes here: its own dtype (F16 float16, BF16 bfloat16, U8 uint8, ... stored as
 * they are, never widened); I64 and U64 narrow to int32 when every value fits (else an
 * `integer-out-of-range` error).
 */
const TARGET_DTYPE: Readonly<Record<SafetensorsDType, DType>> = {
  F64: "float64",
  F32: "float32",
  F16: "float16",
  BF16: "bfloat16",
  I64: "int32",
  U64: "int32",
  I32: "int32",
  U32: "uint32",
  I16: "int16",
  U16: "uint16",
  I8: "int8",
  U8: "uint8",
  BOOL: "bool",
};

/** The file dtype of each dtype: every dtype is written as it is stored. */
const WRITE_DTYPE: Readonly<Record<DType, SafetensorsDType>> = {
  float32: "F32",
  float64: "F64",
  float16: "F16",
  bfloat16: "BF16",
  int32: "I32",
  uint32: "U32",
  int16: "I16",
  uint16: "U16",
  int8: "I8",
  uint8: "U8",
  bool: "BOOL",
};

// Dtypes of the format that we know but do not read, so the error can say "unsupported" rather than "unknown".
const KNOWN_UNREAD_DTYPES = new Set(["F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"]);

function isSafetensorsDType(name: string): name is SafetensorsDType {
  return Object.hasOwn(ITEM_BYTES, name);
}

/** IEEE 754 binary16 bits to a number: subnormals, signed zeros, infinities and NaN included. */
export const halfToFloat: (bits: number) => number = fromFloat16Bits;

/** bfloat16 bits to a number: bfloat16 is the top half of a float32. */
export const bfloat16ToFloat: (bits: number) => number = fromBfloat16Bits;

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// ---------------------------------------------------------------------------------------------------
// Encoding

/** Options of `encode`. */
export interface EncodeOptions {
  /** Free-form strings stored under `__metadata__` (as Python's `save_file(..., metadata=...)`). */
  readonly metadata?: Readonly<Record<string, string>>;
}

const METADATA_KEY = "__metadata__";

/**
 * A safetensors file holding every leaf of `tree` under its path (`conv1.weight`). The header lists the
 * tensors in tree order; the data section places wider dtypes first so every tensor is aligned to its
 * item size (as the reference implementation does), and the header is space-padded to a multiple of 8.
 * Leaves must be arrays; throws a TypeError otherwise, or when two leaves would share a key.
 */
export function encode(tree: unknown, options: EncodeOptions = {}): Uint8Array {
  checkOptions("safetensors.encode", options, ["metadata"]);
  const leaves = flattenWithPath<unknown>(tree);
  const seen = new Set<string>();
  const entries = leaves.map(([path, leaf]) => {
    if (!(leaf instanceof NdArray)) {
      throw new TypeError(
        `safetensors.encode: the leaf at '${path || "<root>"}' is ${describeValue(leaf)}, not an array`,
      );
    }
    if (path === METADATA_KEY)
      throw new TypeError(`safetensors.encode: '${METADATA_KEY}' is reserved for metadata`);
    if (seen.has(path)) {
      throw new TypeError(
        `safetensors.encode: two leaves have the path '${clip(path)}' (an object key containing a dot?)`,
      );
    }
    seen.add(path);
    const array = leaf.concrete();
    return {
      path,
      array,
      fileDType: WRITE_DTYPE[array.dtype],
      byteLength: array.size * array.storage.BYTES_PER_ELEMENT,
    };
  });

  // Stable sort by item size, widest first: each tensor then starts at a multiple of its own item size.
  const layout = entries
    .map((entry, order) => ({ entry, order }))
    .sort((a, b) => ITEM_BYTES[b.entry.fileDType] - ITEM_BYTES[a.entry.fileDType] || a.order - b.order);
  const offsets = new Map<string, [number, number]>();
  let dataLength = 0;
  for (const { entry } of layout) {
    offsets.set(entry.path, [dataLength, dataLength + entry.byteLength]);
    dataLength += entry.byteLength;
  }

  // Built by hand rather than JSON.stringify(object): object key order would put integer-like keys first.
  const fields: string[] = [];
  if (options.metadata !== undefined) {
    for (const [k, v] of Object.entries(options.metadata)) {
      if (typeof v !== "string")
        throw new TypeError(`safetensors.encode: metadata '${k}' is ${describeValue(v)}, not a string`);
    }
    fields.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(options.metadata)}`);
  }
  for (const { path, array, fileDType } of entries) {
    const info = { dtype: fileDType, shape: array.shape, data_offsets: offsets.get(path) };
    fields.push(`${JSON.stringify(path)}:${JSON.stringify(info)}`);
  }
  const headerText = `{${fields.join(",")}}`;
  const headerBytes = new TextEncoder().encode(headerText);
  const paddedLength = Math.ceil(headerBytes.length / 8) * 8;

  const out = new Uint8Array(8 + paddedLength + dataLength);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(paddedLength), true);
  out.set(headerBytes, 8);
  out.fill(0x20, 8 + headerBytes.length, 8 + paddedLength);
  const dataStart = 8 + paddedLength;
  for (const { path, array } of entries) {
    writeLittleEndian(out, dataStart + offsets.get(path)![0], array.storage, array.size);
  }
  return out;
}

function writeLittleEndian(out: Uint8Array, at: number, data: TypedArray, count: number): void {
  const width = data.BYTES_PER_ELEMENT;
  if (LITTLE_ENDIAN_HOST || width === 1) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, count * width), at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset + at, count * width);
  for (let i = 0; i < count; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i]!, true);
    else if (data instanceof Float64Array) view.setFloat64(i * 8, data[i]!, true);
    else if (width === 2)
      view.setUint16(i * 2, data[i]!, true); // the bits of either sign
    else view.setUint32(i * 4, data[i]!, true);
  }
}

function describeValue(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a JS array";
  if (typeof x === "object") return `an object (${x.constructor?.name ?? "no prototype"})`;
  return `${typeof x} ${String(x).slice(0, 40)}`;
}

// ---------------------------------------------------------------------------------------------------
// Decoding

/** The reference implementation's header limit. */
export const MAX_HEADER_BYTES = 100_000_000;

/** A decoded file: its tensors and metadata. */
export interface DecodedFile {
  /** Tensors by key, in header order. */
  readonly tensors: Record<string, NdArray>;
  /** The `__metadata__` strings (empty when the file has none). */
  readonly metadata: Record<string, string>;
}

/** The tensors of a safetensors file by key, or why the file is not one. */
export function decode(bytes: Uint8Array): E.Either<DecodeError, Record<string, NdArray>> {
  return E.map((file: DecodedFile) => file.tensors)(decodeFile(bytes));
}

interface TensorSlot {
  readonly key: string;
  readonly dtype: SafetensorsDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

/** Tensors and metadata of a safetensors file. Everything is validated before any tensor is allocated. */
export function decodeFile(bytes: Uint8Array): E.Either<DecodeError, DecodedFile> {
  if (bytes.length < 8) {
    return fail(
      "header-length-beyond-file",
      `the file has ${bytes.length} bytes, fewer than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  // The format requires the header to start with "{" (the reference's InvalidHeaderStart): anything else
  // is some other kind of file, whatever its first 8 bytes say as a length.
  if (bytes.length > 8 && bytes[8] !== 0x7b) {
    const plausible = headerLength <= BigInt(bytes.length - 8);
    return fail(
      "not-safetensors",
      `not a safetensors file: the header must start with '{' after the 8-byte length, found byte 0x${bytes[8]!
        .toString(16)
        .padStart(2, "0")}` +
        (plausible
          ? ""
          : ` (and the length field reads ${headerLength}, more than the ${bytes.length}-byte file holds)`),
    );
  }
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    return fail(
      "header-too-large",
      `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`,
    );
  }
  const headerEnd = 8 + Number(headerLength);
  if (headerEnd > bytes.length) {
    return fail(
      "header-length-beyond-file",
      `header length ${headerLength} reaches past the end of the ${bytes.length}-byte file`,
    );
  }
  let headerText: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so the parser rejects it as the reference does.
    headerText = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, headerEnd),
    );
  } catch {
    return fail("invalid-json", "the header is not valid UTF-8");
  }
  const dataLength = bytes.length - headerEnd;
  const header = readHeader(headerText, dataLength);
  if (E.isLeft(header)) return header;
  const { slots, metadata } = header.right;

  const layout = checkLayout(slots, dataLength);
  if (E.isLeft(layout)) return layout;

  const data = bytes.subarray(headerEnd);
  const tensors: Record<string, NdArray> = {};
  for (const slot of slots) {
    const array = readTensor(slot, data);
    if (E.isLeft(array)) return array;
    defineOwn(tensors, slot.key, array.right);
  }
  return E.right({ tensors, metadata });
}

/**
 * Reads the header in one pass, checking each entry as soon as it is complete. Nothing is kept but the
 * checked entries, so even a hostile 100 MB header costs memory in proportion to its valid part: a generic
 * JSON tree (or JSON.parse, which also keeps the last of duplicate keys) could cost many times the text.
 */
function readHeader(
  text: string,
  dataLength: number,
): E.Either<DecodeError, { slots: TensorSlot[]; metadata: Record<string, string> }> {
  const reader = new JsonReader(text);
  const slots: TensorSlot[] = [];
  const metadata: Record<string, string> = {};
  try {
    if (reader.peek() !== "{") {
      const kind = reader.skipValue(0);
      reader.end();
      return fail("invalid-header", `the header is a JSON ${kind}, not an object`);
    }
    reader.object((key) => {
      if (key === METADATA_KEY) readMetadata(reader, metadata);
      else slots.push(orThrow(readTensorInfo(reader, key, dataLength)));
    });
    reader.end();
  } catch (e) {
    if (e instanceof HeaderFailure) return E.left(e.error);
    throw e;
  }
  return E.right({ slots, metadata });
}

function readMetadata(reader: JsonReader, into: Record<string, string>): void {
  if (reader.peek() === "n") {
    reader.skipValue(1); // null: no metadata, as the reference reads it
    return;
  }
  if (reader.peek() !== "{") {
    const kind = reader.skipValue(1);
    stop("invalid-metadata", `${METADATA_KEY} is a JSON ${kind}, not an object of strings`, METADATA_KEY);
  }
  reader.object((key) => {
    if (reader.peek() !== '"') {
      stop("invalid-metadata", `metadata '${clip(key)}' is a JSON ${reader.skipValue(2)}, not a string`, key);
    }
    defineOwn(into, key, reader.string());
  });
}

function readTensorInfo(
  reader: JsonReader,
  key: string,
  dataLength: number,
): E.Either<DecodeError, TensorSlot> {
  if (reader.peek() !== "{") {
    return fail(
      "invalid-header",
      `tensor '${clip(key)}' is a JSON ${reader.skipValue(1)}, not an object`,
      key,
    );
  }
  let dtype: string | undefined;
  let dims: string[] | undefined;
  let offsets: string[] | undefined;
  reader.object((field) => {
    if (field === "dtype") {
      if (reader.peek() !== '"')
        stop("invalid-header", `tensor '${clip(key)}': dtype is a JSON ${reader.skipValue(2)}`, key);
      dtype = reader.string();
    } else if (field === "shape") {
      dims = readNumberLexemes(reader, key, "shape", "bad-dimension");
    } else if (field === "data_offsets") {
      offsets = readNumberLexemes(reader, key, "data_offsets", "invalid-header");
    } else {
      reader.skipValue(2); // fields the format may add later
    }
  });
  if (dtype === undefined || dims === undefined || offsets === undefined) {
    return fail("invalid-header", `tensor '${clip(key)}' needs dtype, shape and data_offsets`, key);
  }
  if (!isSafetensorsDType(dtype)) {
    const why = KNOWN_UNREAD_DTYPES.has(dtype) ? "is not supported" : "is not a safetensors dtype";
    return fail(
      "unknown-dtype",
      `tensor '${clip(key)}': dtype ${JSON.stringify(dtype.slice(0, 40))} ${why}`,
      key,
    );
  }

  const shape: number[] = [];
  for (const lexeme of dims) {
    const n = exactNonNegativeInteger(lexeme);
    if (n === null || n > BigInt(Number.MAX_SAFE_INTEGER)) {
      return fail(
        "bad-dimension",
        `tensor '${clip(key)}': dimension ${lexeme.slice(0, 40)} is not a non-negative safe integer`,
        key,
      );
    }
    shape.push(Number(n));
  }

  const [begin, end] = offsets.map(exactNonNegativeInteger);
  if (offsets.length !== 2 || begin === null || end === null || begin === undefined || end === undefined) {
    return fail(
      "invalid-header",
      `tensor '${clip(key)}': data_offsets must be two non-negative integers [begin, end]`,
      key,
    );
  }
  if (end < begin) {
    return fail(
      "offsets-out-of-order",
      `tensor '${clip(key)}': data_offsets [${begin}, ${end}] end before they begin`,
      key,
    );
  }
  if (end > BigInt(dataLength)) {
    return fail(
      "offsets-beyond-data",
      `tensor '${clip(key)}': data_offsets [${begin}, ${end}] reach past the ${dataLength} data bytes`,
      key,
    );
  }

  // Checked multiplication: stop once the product passes the byte range, so a hostile shape stays cheap.
  const byteRange = end - begin;
  let bytesNeeded = shape.includes(0) ? 0n : BigInt(ITEM_BYTES[dtype]);
  for (const d of shape) {
    if (bytesNeeded > byteRange) break;
    bytesNeeded *= BigInt(d);
  }
  if (bytesNeeded !== byteRange) {
    return fail(
      "shape-offset-mismatch",
      `tensor '${clip(key)}': shape ${fmtDims(shape)} of ${dtype} does not fill data_offsets [${begin}, ${end}] (${byteRange} bytes)`,
      key,
    );
  }
  return E.right({ key, dtype, shape, begin: Number(begin), end: Number(end) });
}

/**
 * The longest number lexeme that is parsed: any valid dimension or offset is a safe integer (at most 16
 * digits); 20 digits hold every u64. Longer ones are refused unread, since turning an n-digit lexeme into
 * a BigInt takes time quadratic in n (a 10 MB header holding one number took seconds).
 */
const MAX_NUMBER_LEXEME = 20;

/** An array of JSON numbers, as their lexemes (so integers beyond 2^53 stay exact until checked). */
function readNumberLexemes(reader: JsonReader, key: string, field: string, kind: DecodeErrorKind): string[] {
  if (reader.peek() !== "[") {
    stop(
      "invalid-header",
      `tensor '${clip(key)}': ${field} is a JSON ${reader.skipValue(2)}, not an array`,
      key,
    );
  }
  const lexemes: string[] = [];
  reader.array(() => {
    const lexeme = reader.number();
    if (lexeme === null)
      stop(kind, `tensor '${clip(key)}': ${field} holds a JSON ${reader.skipValue(3)}, not a number`, key);
    if (lexeme.length > MAX_NUMBER_LEXEME) {
      // An integer this long lies past any data section; other long lexemes are not integers at all.
      const tooLong = kind === "invalid-header" && /^[0-9]+$/.test(lexeme) ? "offsets-beyond-data" : kind;
      stop(
        tooLong,
        `tensor '${clip(key)}': ${field} holds a number of ${lexeme.length} characters (${clip(lexeme)}); ` +
          `no dimension or offset has more than ${MAX_NUMBER_LEXEME} digits`,
        key,
      );
    }
    lexemes.push(lexeme);
  });
  return lexemes;
}

function fmtDims(shape: readonly number[]): string {
  return shape.length <= 8
    ? `[${shape.join(",")}]`
    : `[${shape.slice(0, 8).join(",")},… (${shape.length} dimensions)]`;
}

/** The value of a JSON number lexeme when it is written as a plain non-negative integer (no sign, fraction or exponent). */
function exactNonNegativeInteger(text: string): bigint | null {
  return /^(0|[1-9][0-9]*)$/.test(text) ? BigInt(text) : null;
}

/** Tensors, sorted by position, must tile the data section exactly, as the reference implementation requires. */
function checkLayout(slots: readonly TensorSlot[], dataLength: number): E.Either<DecodeError, void> {
  const sorted = [...slots].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = 0;
  let previous: TensorSlot | undefined;
  for (const slot of sorted) {
    if (slot.begin < expected) {
      return fail(
        "overlapping-offsets",
        `tensor '${clip(slot.key)}' [${slot.begin}, ${slot.end}] overlaps '${clip(previous!.key)}' [${previous!.begin}, ${previous!.end}]`,
        slot.key,
      );
    }
    if (slot.begin > expected) {
      return fail(
        "hole-in-data",
        `bytes [${expected}, ${slot.begin}) before tensor '${clip(slot.key)}' belong to no tensor`,
        slot.key,
      );
    }
    expected = slot.end;
    previous = slot;
  }
  if (expected !== dataLength) {
    return fail("trailing-bytes", `${dataLength - expected} bytes after the last tensor belong to no tensor`);
  }
  return E.right(undefined);
}

function readTensor(slot: TensorSlot, data: Uint8Array): E.Either<DecodeError, ConcreteArray> {
  const raw = data.subarray(slot.begin, slot.end);
  const count = raw.length / ITEM_BYTES[slot.dtype];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const make = (storage: TypedArray) =>
    E.right(new ConcreteArray(slot.shape, TARGET_DTYPE[slot.dtype], storage));
  switch (slot.dtype) {
    case "F32":
      return make(
        LITTLE_ENDIAN_HOST
          ? new Float32Array(copyBuffer(raw))
          : mapValues(Float32Array, count, (i) => view.getFloat32(i * 4, true)),
      );
    case "F64":
      return make(
        LITTLE_ENDIAN_HOST
          ? new Float64Array(copyBuffer(raw))
          : mapValues(Float64Array, count, (i) => view.getFloat64(i * 8, true)),
      );
    case "I32":
      return make(
        LITTLE_ENDIAN_HOST
          ? new Int32Array(copyBuffer(raw))
          : mapValues(Int32Array, count, (i) => view.getInt32(i * 4, true)),
      );
    case "BOOL":
      // Any non-zero byte is true (as numpy reads it); storage holds exactly 0 or 1.
      return make(mapValues(Uint8Array, count, (i) => (raw[i] === 0 ? 0 : 1)));
    case "F16":
    case "BF16":
    case "U16":
      // float16 and bfloat16 are kept as their bits.
      return make(
        LITTLE_ENDIAN_HOST
          ? new Uint16Array(copyBuffer(raw))
          : mapValues(Uint16Array, count, (i) => view.getUint16(i * 2, true)),
      );
    case "I16":
      return make(
        LITTLE_ENDIAN_HOST
          ? new Int16Array(copyBuffer(raw))
          : mapValues(Int16Array, count, (i) => view.getInt16(i * 2, true)),
      );
    case "I8":
      return make(new Int8Array(copyBuffer(raw)));
    case "U8":
      return make(new Uint8Array(copyBuffer(raw)));
    case "U32":
      return make(
        LITTLE_ENDIAN_HOST
          ? new Uint32Array(copyBuffer(raw))
          : mapValues(Uint32Array, count, (i) => view.getUint32(i * 4, true)),
      );
    case "I64":
    case "U64":
      return narrowToInt32(slot, view, count);
  }
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

/** Wide integers become int32 when every value fits (PyTorch saves indices and counters as int64). */
function narrowToInt32(
  slot: TensorSlot,
  view: DataView,
  count: number,
): E.Either<DecodeError, ConcreteArray> {
  const out = new Int32Array(count);
  const width = ITEM_BYTES[slot.dtype];
  for (let i = 0; i < count; i++) {
    const low = view.getUint32(i * width, true);
    // The high word, read signed for I64, decides whether the value fits: it must be the sign extension of the low word.
    const high =
      width === 4
        ? 0
        : slot.dtype === "I64"
          ? view.getInt32(i * width + 4, true)
          : view.getUint32(i * width + 4, true);
    const value = high * 2 ** 32 + low;
    if (value < INT32_MIN || value > INT32_MAX) {
      const exact =
        slot.dtype === "I64"
          ? view.getBigInt64(i * width, true)
          : slot.dtype === "U64"
            ? view.getBigUint64(i * width, true)
            : low;
      return fail(
        "integer-out-of-range",
        `tensor '${clip(slot.key)}': ${slot.dtype} value ${exact} at index ${i} does not fit int32`,
        slot.key,
      );
    }
    out[i] = value;
  }
  return E.right(new ConcreteArray(slot.shape, "int32", out));
}

function copyBuffer(raw: Uint8Array): ArrayBuffer {
  return raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
}

function mapValues<T extends TypedArray>(
  Kind: new (n: number) => T,
  count: number,
  valueAt: (i: number) => number,
): T {
  const out = new Kind(count);
  for (let i = 0; i < count; i++) out[i] = valueAt(i);
  return out;
}

/**
 * Sets an own property even for the key `__proto__` (the one accessor on Object.prototype), so a hostile
 * key cannot change an object's prototype. Other keys take the fast path of plain assignment.
 */
function defineOwn<T>(target: Record<string, T>, key: string, value: T): void {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

// ---------------------------------------------------------------------------------------------------
// Trees from paths

/** Deeper paths than this are refused: no tree this library builds nests so far, and deep trees overflow recursion. */
export const MAX_PATH_DEPTH = 512;

type PathNode<L> =
  | { readonly kind: "leaf"; readonly value: L }
  | { readonly kind: "branch"; readonly children: Map<string, PathNode<L>> };

/**
 * The nested tree whose `tree.flattenWithPath` gives these `[path, leaf]` pairs: dotted paths become nested
 * objects, and an object whose keys are exactly 0..n-1 becomes a JS array (as the tree module writes arrays).
 * Keys containing dots, empty subtrees and null leaves do not survive a flatten; use a template for those.
 */
export function unflattenPaths<L>(
  entries: Record<string, L> | Iterable<readonly [string, L]>,
): E.Either<DecodeError, unknown> {
  const pairs: Iterable<readonly [string, L]> = isIterable(entries) ? entries : Object.entries(entries);
  const root: PathNode<L> = { kind: "branch", children: new Map() };
  let rootLeaf: { readonly value: L } | undefined;
  let count = 0;
  for (const [path, value] of pairs) {
    count++;
    if (path === "") {
      rootLeaf = { value };
      continue;
    }
    const segments = path.split(".", MAX_PATH_DEPTH + 1);
    if (segments.length > MAX_PATH_DEPTH)
      return fail("bad-path", `path '${clip(path)}' nests deeper than ${MAX_PATH_DEPTH} levels`, path);
    let node = root;
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i]!;
      const existing = node.children.get(segment);
      const last = i === segments.length - 1;
      if (last) {
        if (existing !== undefined)
          return fail("bad-path", `path '${clip(path)}' is given twice, or is also a subtree`, path);
        node.children.set(segment, { kind: "leaf", value });
      } else if (existing === undefined) {
        const branch: PathNode<L> = { kind: "branch", children: new Map() };
        node.children.set(segment, branch);
        node = branch;
      } else if (existing.kind === "leaf") {
        return fail(
          "bad-path",
          `'${clip(segments.slice(0, i + 1).join("."))}' is a leaf and also the prefix of '${clip(path)}'`,
          path,
        );
      } else {
        node = existing;
      }
    }
  }
  if (rootLeaf !== undefined) {
    if (count > 1)
      return fail(
        "bad-path",
        "the empty path (a tree that is a single array) appears next to other paths",
        "",
      );
    return E.right(rootLeaf.value);
  }
  return E.right(buildTree(root));
}

function isIterable<T>(x: unknown): x is Iterable<T> {
  return typeof x === "object" && x !== null && Symbol.iterator in x;
}

function buildTree<L>(node: PathNode<L>): unknown {
  if (node.kind === "leaf") return node.value;
  const keys = [...node.children.keys()];
  if (keys.length > 0 && keys.every((k) => /^(0|[1-9][0-9]*)$/.test(k) && Number(k) < keys.length)) {
    // Distinct canonical indices below n: exactly 0..n-1, so a JS array.
    const out = new Array<unknown>(keys.length);
    for (const [k, child] of node.children) out[Number(k)] = buildTree(child);
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, child] of node.children) defineOwn(out, k, buildTree(child));
  return out;
}

/**
 * The tree in a safetensors file. Without a template it is rebuilt from the dotted keys (`unflattenPaths`);
 * with one, it has exactly the template's structure, and every leaf must be present with the template
 * leaf's shape and dtype (a number leaf in the template takes the value of a one-element tensor).
 */
export function decodeTree<T = unknown>(bytes: Uint8Array, template?: T): E.Either<DecodeError, T> {
  const file = decode(bytes);
  if (E.isLeft(file)) return file;
  return template === undefined
    ? (unflattenPaths(file.right) as E.Either<DecodeError, T>)
    : fillTemplate(file.right, template);
}

/** The template with each leaf replaced by the tensor at its path, checked against the leaf. */
export function fillTemplate<T>(
  tensors: Readonly<Record<string, NdArray>>,
  template: T,
): E.Either<DecodeError, T> {
  const wanted = flattenWithPath<unknown>(template);
  const paths = new Set(wanted.map(([p]) => p));
  for (const key of Object.keys(tensors)) {
    if (!paths.has(key))
      return fail("template-mismatch", `the file has '${clip(key)}', which the template does not`, key);
  }
  const values: unknown[] = [];
  for (const [path, leaf] of wanted) {
    const found = Object.hasOwn(tensors, path) ? tensors[path] : undefined;
    if (found === undefined)
      return fail("template-mismatch", `the template has '${clip(path)}', which the file does not`, path);
    if (leaf instanceof NdArray) {
      if (
        leaf.dtype !== found.dtype ||
        leaf.shape.length !== found.shape.length ||
        leaf.shape.some((d, i) => d !== found.shape[i])
      ) {
        return fail(
          "template-mismatch",
          `'${clip(path)}': the file has ${found.dtype}[${found.shape.join(",")}], the template ${leaf.dtype}[${leaf.shape.join(",")}]`,
          path,
        );
      }
      values.push(found);
    } else if (typeof leaf === "number") {
      if (found.size !== 1)
        return fail(
          "template-mismatch",
          `'${clip(path)}': the template has a number, the file ${found.size} values`,
          path,
        );
      values.push(found.item());
    } else {
      return fail(
        "template-mismatch",
        `'${clip(path)}': template leaf ${describeValue(leaf)} is neither an array nor a number`,
        path,
      );
    }
  }
  let i = 0;
  return E.right(replaceLeaves(template, () => values[i++]) as T);
}

// Rebuilds the template's containers around new leaves, in the flatten order of tree.flattenWithPath.
function replaceLeaves(t: unknown, next: () => unknown): unknown {
  if (t === null || t === undefined) return t;
  if (Array.isArray(t)) return t.map((c) => replaceLeaves(c, next));
  if (isPlainObject(t)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(t)) defineOwn(out, k, replaceLeaves(t[k], next));
    return out;
  }
  return next();
}

// ---------------------------------------------------------------------------------------------------
// A small streaming JSON reader for the header: the caller walks the structure it expects, unexpected
// values are validated and skipped without being kept, duplicate keys are errors, and nesting is bounded.

/** A safetensors header nests three levels; anything far deeper is hostile. */
const MAX_JSON_DEPTH = 64;

class HeaderFailure {
  constructor(readonly error: DecodeError) {}
}

function stop(kind: DecodeErrorKind, message: string, key?: string): never {
  throw new HeaderFailure(key === undefined ? { kind, message } : { kind, message, key });
}

function orThrow<A>(result: E.Either<DecodeError, A>): A {
  if (E.isLeft(result)) throw new HeaderFailure(result.left);
  return result.right;
}

type JsonKind = "object" | "array" | "string" | "number" | "boolean" | "null";

const NUMBER_LEXEME = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class JsonReader {
  private pos = 0;
  constructor(private readonly text: string) {}

  private syntax(what: string): never {
    return stop("invalid-json", `header JSON: ${what} at character ${this.pos}`);
  }

  private skipWhitespace(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  /** The next significant character ("" at the end). */
  peek(): string {
    this.skipWhitespace();
    return this.text.charAt(this.pos);
  }

  /** Only whitespace may follow the value. */
  end(): void {
    if (this.peek() !== "") this.syntax("unexpected text after the header object");
  }

  /** Reads an object, calling `onEntry(key)` with the reader at each value; `onEntry` must consume it. */
  object(onEntry: (key: string) => void): void {
    this.pos++; // "{"
    const keys = new Set<string>();
    if (this.peek() === "}") {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.peek() !== '"') this.syntax("expected a string key");
      const key = this.string();
      if (keys.has(key)) {
        stop(
          "duplicate-key",
          `header JSON has the key ${JSON.stringify(key.slice(0, 80))} twice in one object`,
          key,
        );
      }
      keys.add(key);
      if (this.peek() !== ":") this.syntax("expected ':'");
      this.pos++;
      onEntry(key);
      const next = this.peek();
      this.pos++;
      if (next === "}") return;
      if (next !== ",") this.syntax("expected ',' or '}'");
    }
  }

  /** Reads an array, calling `onItem()` with the reader at each item; `onItem` must consume it. */
  array(onItem: () => void): void {
    this.pos++; // "["
    if (this.peek() === "]") {
      this.pos++;
      return;
    }
    for (;;) {
      onItem();
      const next = this.peek();
      this.pos++;
      if (next === "]") return;
      if (next !== ",") this.syntax("expected ',' or ']'");
    }
  }

  /** A string value (the reader must be at its opening quote). */
  string(): string {
    const text = this.text;
    this.pos++; // opening quote
    let out = "";
    let runStart = this.pos;
    for (;;) {
      if (this.pos >= text.length) this.syntax("unterminated string");
      const c = text.charCodeAt(this.pos);
      if (c === 0x22) {
        out += text.slice(runStart, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.syntax("control character in string");
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += text.slice(runStart, this.pos);
      const escape = text.charAt(this.pos + 1);
      const simple = SIMPLE_ESCAPES.get(escape);
      if (simple !== undefined) {
        out += simple;
        this.pos += 2;
      } else if (escape === "u" && /^[0-9a-fA-F]{4}$/.test(text.slice(this.pos + 2, this.pos + 6))) {
        out += String.fromCharCode(Number.parseInt(text.slice(this.pos + 2, this.pos + 6), 16));
        this.pos += 6;
      } else {
        this.syntax("bad escape");
      }
      runStart = this.pos;
    }
  }

  /** A number's lexeme, or null (reading nothing) when the next value is not a number. */
  number(): string | null {
    const c = this.peek();
    if (c !== "-" && !(c >= "0" && c <= "9")) return null;
    NUMBER_LEXEME.lastIndex = this.pos;
    const match = NUMBER_LEXEME.exec(this.text);
    if (match === null) return this.syntax("bad number");
    this.pos += match[0].length;
    return match[0];
  }

  /** Validates and discards one value (keeping nothing), returning its kind for error messages. */
  skipValue(depth: number): JsonKind {
    if (depth > MAX_JSON_DEPTH)
      stop("invalid-header", `header JSON nests deeper than ${MAX_JSON_DEPTH} levels`);
    const c = this.peek();
    if (c === "{") {
      // Keys of skipped objects are not kept, so duplicates there are not looked for: nothing reads them.
      this.pos++;
      if (this.peek() === "}") {
        this.pos++;
        return "object";
      }
      for (;;) {
        if (this.peek() !== '"') this.syntax("expected a string key");
        this.string();
        if (this.peek() !== ":") this.syntax("expected ':'");
        this.pos++;
        this.skipValue(depth + 1);
        const next = this.peek();
        this.pos++;
        if (next === "}") return "object";
        if (next !== ",") this.syntax("expected ',' or '}'");
      }
    }
    if (c === "[") {
      this.array(() => this.skipValue(depth + 1));
      return "array";
    }
    if (c === '"') {
      this.string();
      return "string";
    }
    for (const [literal, kind] of LITERALS) {
      if (this.text.startsWith(literal, this.pos)) {
        this.pos += literal.length;
        return kind;
      }
    }
    if (this.number() !== null) return "number";
    return this.syntax(c === "" ? "unexpected end" : "unexpected character");
  }
}

const SIMPLE_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['"', '"'],
  ["\\", "\\"],
  ["/", "/"],
  ["b", "\b"],
  ["f", "\f"],
  ["n", "\n"],
  ["r", "\r"],
  ["t", "\t"],
]);

const LITERALS: readonly (readonly [string, JsonKind])[] = [
  ["true", "boolean"],
  ["false", "boolean"],
  ["null", "null"],
];
