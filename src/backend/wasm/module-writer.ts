/**
 * A small WebAssembly binary writer: enough of the module format (types, an imported memory, functions,
 * exports, code) and of the instruction set (control, locals, i32, f32/f64 memory and arithmetic, the
 * SIMD and relaxed-SIMD ops our kernels use) to emit specialised kernels at run time, with no toolchain.
 *
 * Functions are written with a chaining builder: `fn.localGet(x).i32Const(1).i32Add().localSet(x)`.
 */

export type ValueType = "i32" | "i64" | "f32" | "f64" | "v128";

const VALUE_TYPE_CODE: Record<ValueType, number> = { i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c, v128: 0x7b };

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function unsignedLeb128(value: number): number[] {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`unsignedLeb128: ${value} is not a u32`);
  }
  const out: number[] = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value !== 0) byte |= 0x80;
    out.push(byte);
  } while (value !== 0);
  return out;
}

/** Signed LEB128 of an integer (i32 or i64 range; bigint for values beyond 2^53). */
export function signedLeb128(value: number | bigint): number[] {
  let v = BigInt(value);
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n; // arithmetic shift: keeps the sign
    const signBitSet = (byte & 0x40) !== 0;
    if ((v === 0n && !signBitSet) || (v === -1n && signBitSet)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function utf8Name(name: string): number[] {
  const bytes = [...new TextEncoder().encode(name)];
  return [...unsignedLeb128(bytes.length), ...bytes];
}

/** A vector in the binary format: its length, then its items. */
function vector(items: readonly number[][]): number[] {
  const out = unsignedLeb128(items.length);
  for (const item of items) append(out, item);
  return out;
}

/** Appends without spreading into arguments (code bodies can outgrow the engine's argument limit). */
function append(target: number[], items: readonly number[]): void {
  for (const item of items) target.push(item);
}

function section(id: number, content: readonly number[]): number[] {
  const out = [id, ...unsignedLeb128(content.length)];
  append(out, content);
  return out;
}

/** A local variable (parameters included) of a function under construction. */
export interface Local {
  readonly index: number;
  readonly type: ValueType;
}

/** Alignment (as a power of two of bytes; default natural) and constant byte offset of a memory access. */
export interface MemoryArgument {
  readonly align?: number;
  readonly offset?: number;
}

/** The result type of a block or loop: nothing, or one value. */
export type BlockType = ValueType | "empty";

const SIMD_PREFIX = 0xfd;

/** Opcodes after the 0xfd prefix (SIMD proposal and relaxed SIMD). */
const SIMD = {
  v128Load: 0x00,
  v128Load32Splat: 0x09,
  v128Load64Splat: 0x0a,
  v128Store: 0x0b,
  v128Const: 0x0c,
  f32x4Splat: 0x13,
  f64x2Splat: 0x14,
  f32x4ExtractLane: 0x1f,
  f32x4ReplaceLane: 0x20,
  f64x2ExtractLane: 0x21,
  f64x2ReplaceLane: 0x22,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f32x4RelaxedMadd: 0x105,
  f64x2RelaxedMadd: 0x107,
} as const;

/** The body of one function: its locals and instructions. */
export class FunctionBuilder {
  private readonly code: number[] = [];
  private readonly localTypes: ValueType[] = [];
  /** Open blocks, loops and ifs, to check that every one is closed. */
  private depth = 0;
  readonly params: readonly Local[];

  constructor(
    /** Index of this function in the module's function index space (for `call`). */
    readonly index: number,
    readonly name: string | null,
    readonly paramTypes: readonly ValueType[],
    readonly resultTypes: readonly ValueType[],
  ) {
    this.params = paramTypes.map((type, i) => ({ index: i, type }));
  }

  param(i: number): Local {
    const p = this.params[i];
    if (!p) throw new RangeError(`function ${this.name ?? this.index} has no parameter ${i}`);
    return p;
  }

  /** Declares a new local of `type`, zero-initialised on entry. */
  local(type: ValueType): Local {
    this.localTypes.push(type);
    return { index: this.paramTypes.length + this.localTypes.length - 1, type };
  }

  /** Appends raw bytes (an instruction this builder has no method for). */
  raw(...bytes: number[]): this {
    append(this.code, bytes);
    return this;
  }

  // ---- control
  block(type: BlockType = "empty"): this {
    this.depth++;
    return this.raw(0x02, blockTypeCode(type));
  }
  loop(type: BlockType = "empty"): this {
    this.depth++;
    return this.raw(0x03, blockTypeCode(type));
  }
  if(type: BlockType = "empty"): this {
    this.depth++;
    return this.raw(0x04, blockTypeCode(type));
  }
  else(): this {
    return this.raw(0x05);
  }
  end(): this {
    if (this.depth === 0) throw new Error(`function ${this.name ?? this.index}: end without an open block`);
    this.depth--;
    return this.raw(0x0b);
  }
  /** Branch to the label `depth` levels out (0 = innermost; a loop's label is its start). */
  br(depth: number): this {
    return this.raw(0x0c, ...unsignedLeb128(depth));
  }
  brIf(depth: number): this {
    return this.raw(0x0d, ...unsignedLeb128(depth));
  }
  return(): this {
    return this.raw(0x0f);
  }
  call(callee: FunctionBuilder | number): this {
    return this.raw(0x10, ...unsignedLeb128(typeof callee === "number" ? callee : callee.index));
  }
  drop(): this {
    return this.raw(0x1a);
  }

  // ---- locals
  localGet(local: Local): this {
    return this.raw(0x20, ...unsignedLeb128(local.index));
  }
  localSet(local: Local): this {
    return this.raw(0x21, ...unsignedLeb128(local.index));
  }
  localTee(local: Local): this {
    return this.raw(0x22, ...unsignedLeb128(local.index));
  }

  // ---- memory
  i32Load(mem: MemoryArgument = {}): this {
    return this.memoryOp([0x28], mem, 2);
  }
  f32Load(mem: MemoryArgument = {}): this {
    return this.memoryOp([0x2a], mem, 2);
  }
  f64Load(mem: MemoryArgument = {}): this {
    return this.memoryOp([0x2b], mem, 3);
  }
  i32Store(mem: MemoryArgument = {}): this {
    return this.memoryOp([0x36], mem, 2);
  }
  f32Store(mem: MemoryArgument = {}): this {
    return this.memoryOp([0x38], mem, 2);
  }
  f64Store(mem: MemoryArgument = {}): this {
    return this.memoryOp([0x39], mem, 3);
  }

  // ---- constants
  i32Const(value: number): this {
    return this.raw(0x41, ...signedLeb128(value | 0));
  }
  f32Const(value: number): this {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    return this.raw(0x43, ...bytes);
  }
  f64Const(value: number): this {
    const bytes = new Uint8Array(8);
    new DataView(bytes.buffer).setFloat64(0, value, true);
    return this.raw(0x44, ...bytes);
  }

  // ---- i32
  i32Eqz(): this {
    return this.raw(0x45);
  }
  i32Eq(): this {
    return this.raw(0x46);
  }
  i32Ne(): this {
    return this.raw(0x47);
  }
  i32LtS(): this {
    return this.raw(0x48);
  }
  i32LtU(): this {
    return this.raw(0x49);
  }
  i32GtS(): this {
    return this.raw(0x4a);
  }
  i32GtU(): this {
    return this.raw(0x4b);
  }
  i32LeS(): this {
    return this.raw(0x4c);
  }
  i32GeS(): this {
    return this.raw(0x4e);
  }
  i32Add(): this {
    return this.raw(0x6a);
  }
  i32Sub(): this {
    return this.raw(0x6b);
  }
  i32Mul(): this {
    return this.raw(0x6c);
  }
  i32DivU(): this {
    return this.raw(0x6e);
  }
  i32RemU(): this {
    return this.raw(0x70);
  }
  i32And(): this {
    return this.raw(0x71);
  }
  i32Or(): this {
    return this.raw(0x72);
  }
  i32Shl(): this {
    return this.raw(0x74);
  }
  i32ShrU(): this {
    return this.raw(0x76);
  }

  // ---- f32 / f64
  f32Add(): this {
    return this.raw(0x92);
  }
  f32Sub(): this {
    return this.raw(0x93);
  }
  f32Mul(): this {
    return this.raw(0x94);
  }
  f64Add(): this {
    return this.raw(0xa0);
  }
  f64Sub(): this {
    return this.raw(0xa1);
  }
  f64Mul(): this {
    return this.raw(0xa2);
  }

  // ---- SIMD
  v128Load(mem: MemoryArgument = {}): this {
    return this.memoryOp(simd(SIMD.v128Load), mem, 4);
  }
  v128Store(mem: MemoryArgument = {}): this {
    return this.memoryOp(simd(SIMD.v128Store), mem, 4);
  }
  /** Loads one f32/i32 and repeats it in all four lanes. */
  v128Load32Splat(mem: MemoryArgument = {}): this {
    return this.memoryOp(simd(SIMD.v128Load32Splat), mem, 2);
  }
  /** Loads one f64/i64 and repeats it in both lanes. */
  v128Load64Splat(mem: MemoryArgument = {}): this {
    return this.memoryOp(simd(SIMD.v128Load64Splat), mem, 3);
  }
  /** A v128 constant from its 16 little-endian bytes (default all zero). */
  v128Const(bytes: ArrayLike<number> = new Uint8Array(16)): this {
    if (bytes.length !== 16) throw new RangeError("v128Const: expected 16 bytes");
    return this.raw(...simd(SIMD.v128Const), ...Array.from(bytes));
  }
  f32x4Splat(): this {
    return this.raw(...simd(SIMD.f32x4Splat));
  }
  f64x2Splat(): this {
    return this.raw(...simd(SIMD.f64x2Splat));
  }
  f32x4ExtractLane(lane: number): this {
    return this.raw(...simd(SIMD.f32x4ExtractLane), checkLane(lane, 4));
  }
  f32x4ReplaceLane(lane: number): this {
    return this.raw(...simd(SIMD.f32x4ReplaceLane), checkLane(lane, 4));
  }
  f64x2ExtractLane(lane: number): this {
    return this.raw(...simd(SIMD.f64x2ExtractLane), checkLane(lane, 2));
  }
  f64x2ReplaceLane(lane: number): this {
    return this.raw(...simd(SIMD.f64x2ReplaceLane), checkLane(lane, 2));
  }
  f32x4Add(): this {
    return this.raw(...simd(SIMD.f32x4Add));
  }
  f32x4Sub(): this {
    return this.raw(...simd(SIMD.f32x4Sub));
  }
  f32x4Mul(): this {
    return this.raw(...simd(SIMD.f32x4Mul));
  }
  f64x2Add(): this {
    return this.raw(...simd(SIMD.f64x2Add));
  }
  f64x2Sub(): this {
    return this.raw(...simd(SIMD.f64x2Sub));
  }
  f64x2Mul(): this {
    return this.raw(...simd(SIMD.f64x2Mul));
  }
  /** Relaxed SIMD: a * b + c (stack: a b c), fused or not as the hardware prefers. */
  f32x4RelaxedMadd(): this {
    return this.raw(...simd(SIMD.f32x4RelaxedMadd));
  }
  f64x2RelaxedMadd(): this {
    return this.raw(...simd(SIMD.f64x2RelaxedMadd));
  }

  /** The function's entry in the code section: locals (run-length grouped), instructions, end. */
  encodeBody(): number[] {
    if (this.depth !== 0)
      throw new Error(`function ${this.name ?? this.index}: ${this.depth} block(s) not closed`);
    const groups: number[][] = [];
    for (let i = 0; i < this.localTypes.length; ) {
      let j = i;
      while (j < this.localTypes.length && this.localTypes[j] === this.localTypes[i]) j++;
      groups.push([...unsignedLeb128(j - i), VALUE_TYPE_CODE[this.localTypes[i]!]]);
      i = j;
    }
    const body = vector(groups);
    append(body, this.code);
    body.push(0x0b);
    const out = unsignedLeb128(body.length);
    append(out, body);
    return out;
  }

  private memoryOp(opcode: readonly number[], mem: MemoryArgument, naturalAlign: number): this {
    const align = mem.align ?? naturalAlign;
    if (align > naturalAlign)
      throw new RangeError(`alignment 2^${align} exceeds the natural 2^${naturalAlign}`);
    return this.raw(...opcode, ...unsignedLeb128(align), ...unsignedLeb128(mem.offset ?? 0));
  }
}

function simd(opcode: number): number[] {
  return [SIMD_PREFIX, ...unsignedLeb128(opcode)];
}

function blockTypeCode(type: BlockType): number {
  return type === "empty" ? 0x40 : VALUE_TYPE_CODE[type];
}

function checkLane(lane: number, lanes: number): number {
  if (!Number.isInteger(lane) || lane < 0 || lane >= lanes)
    throw new RangeError(`lane ${lane} out of 0..${lanes - 1}`);
  return lane;
}

export interface MemoryImport {
  readonly module: string;
  readonly name: string;
  /** Size in 64 KiB pages. */
  readonly initialPages: number;
  readonly maximumPages?: number;
  /** Shared memory (threads); needs a maximum. */
  readonly shared?: boolean;
}

/** A module under construction: an optional imported memory and functions, some exported. */
export class ModuleBuilder {
  private memory: MemoryImport | null = null;
  private readonly functions: FunctionBuilder[] = [];
  private readonly exports = new Map<string, number>();

  importMemory(memory: MemoryImport): this {
    if (memory.shared && memory.maximumPages === undefined)
      throw new Error("a shared memory needs a maximum size");
    this.memory = memory;
    return this;
  }

  /**
   * Declares a function (its index is known at once, so others can call it before its body is written).
   * A named function is exported under that name.
   */
  function(
    name: string | null,
    params: readonly ValueType[],
    results: readonly ValueType[],
  ): FunctionBuilder {
    const fn = new FunctionBuilder(this.functions.length, name, params, results);
    this.functions.push(fn);
    if (name !== null) {
      if (this.exports.has(name)) throw new Error(`export ${name} is declared twice`);
      this.exports.set(name, fn.index);
    }
    return fn;
  }

  /** The module in the binary format. */
  toBytes(): Uint8Array {
    const signatures: string[] = [];
    const typeEntries: number[][] = [];
    const typeIndexOf = (fn: FunctionBuilder): number => {
      const key = `${fn.paramTypes.join(",")}->${fn.resultTypes.join(",")}`;
      let i = signatures.indexOf(key);
      if (i < 0) {
        i = signatures.push(key) - 1;
        typeEntries.push([
          0x60,
          ...vector(fn.paramTypes.map((t) => [VALUE_TYPE_CODE[t]])),
          ...vector(fn.resultTypes.map((t) => [VALUE_TYPE_CODE[t]])),
        ]);
      }
      return i;
    };
    const functionTypes = this.functions.map((fn) => unsignedLeb128(typeIndexOf(fn)));

    const bytes: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    if (typeEntries.length) append(bytes, section(1, vector(typeEntries)));
    if (this.memory) {
      const m = this.memory;
      const hasMax = m.maximumPages !== undefined;
      const limits = [
        (hasMax ? 0x01 : 0x00) | (m.shared ? 0x02 : 0x00),
        ...unsignedLeb128(m.initialPages),
        ...(hasMax ? unsignedLeb128(m.maximumPages!) : []),
      ];
      append(bytes, section(2, vector([[...utf8Name(m.module), ...utf8Name(m.name), 0x02, ...limits]])));
    }
    if (this.functions.length) append(bytes, section(3, vector(functionTypes)));
    if (this.exports.size) {
      const entries = [...this.exports].map(([name, index]) => [
        ...utf8Name(name),
        0x00,
        ...unsignedLeb128(index),
      ]);
      append(bytes, section(7, vector(entries)));
    }
    if (this.functions.length)
      append(bytes, section(10, vector(this.functions.map((fn) => fn.encodeBody()))));
    return Uint8Array.from(bytes);
  }
}
