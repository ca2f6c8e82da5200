/**
 * A small WebAssembly binary writer: enough of the module format (types, an imported memory, functions,
 * exports, code) and of the instruction set (control, locals, i32, f32/f64 memory and arithmetic, the
 * SIMD and relaxed-SIMD ops our kernels use) to emit specialised kernels at run time, with no toolchain.
 *
 * Functions are written with a chaining builder: `fn.localGet(x).i32Const(1).i32Add().localSet(x)`.
 */

import type { Tuple } from "../../core/tuple.js";

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

  /** Declares `count` new locals of `type`, as a tuple to destructure. */
  locals<N extends number>(type: ValueType, count: N): Tuple<Local, N> {
    return Array.from({ length: count }, () => this.local(type)) as Tuple<Local, N>;
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

  // ---- by name (tables above)
  /** An instruction without immediates, by name (e.g. "f32x4Div", "v128Bitselect", "f64Sqrt"). */
  op(name: PlainOp): this {
    return this.raw(...PLAIN_OPS[name]);
  }
  /** A memory instruction by name (e.g. "i32Load8U", "i32Store8", "v128Load32Zero"). */
  memory(name: MemoryOp, mem: MemoryArgument = {}): this {
    const { opcode, align } = MEMORY_OPS[name];
    return this.memoryOp(opcode, mem, align);
  }
  /** A lane load or store (v128.load32_lane ...): address and vector on the stack, lane as immediate. */
  laneMemory(name: LaneMemoryOp, lane: number, mem: MemoryArgument = {}): this {
    const { opcode, align, lanes } = LANE_MEMORY_OPS[name];
    return this.memoryOp(simd(opcode), mem, align).raw(checkLane(lane, lanes));
  }
  /** i8x16.shuffle: lanes 0-15 from the first vector, 16-31 from the second. */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !Number.isInteger(l) || l < 0 || l > 31))
      throw new RangeError("i8x16Shuffle: expected 16 lane indices in 0..31");
    return this.raw(...simd(0x0d), ...lanes);
  }
  /** Extract or replace a lane of an integer vector (i8x16 unsigned, i32x4). */
  i8x16ExtractLaneU(lane: number): this {
    return this.raw(...simd(0x16), checkLane(lane, 16));
  }
  i32x4ExtractLane(lane: number): this {
    return this.raw(...simd(0x1b), checkLane(lane, 4));
  }
  i32x4ReplaceLane(lane: number): this {
    return this.raw(...simd(0x1c), checkLane(lane, 4));
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

/**
 * Instructions without immediates, by name, for code generators that pick them from tables (the fused
 * elementwise kernels): scalar numeric and conversion ops, and SIMD ops after the 0xfd prefix.
 */
const PLAIN_OPS = {
  select: [0x1b],
  i32DivS: [0x6d],
  i32RemS: [0x6f],
  i32Xor: [0x73],
  i32ShrS: [0x75],
  i32LtS: [0x48],
  f32Eq: [0x5b],
  f32Ne: [0x5c],
  f32Lt: [0x5d],
  f32Gt: [0x5e],
  f32Le: [0x5f],
  f32Ge: [0x60],
  f64Eq: [0x61],
  f64Ne: [0x62],
  f64Lt: [0x63],
  f64Gt: [0x64],
  f64Le: [0x65],
  f64Ge: [0x66],
  f32Abs: [0x8b],
  f32Neg: [0x8c],
  f32Ceil: [0x8d],
  f32Floor: [0x8e],
  f32Trunc: [0x8f],
  f32Nearest: [0x90],
  f32Sqrt: [0x91],
  f32Div: [0x95],
  f32Min: [0x96],
  f32Max: [0x97],
  f32Copysign: [0x98],
  f64Abs: [0x99],
  f64Neg: [0x9a],
  f64Ceil: [0x9b],
  f64Floor: [0x9c],
  f64Trunc: [0x9d],
  f64Nearest: [0x9e],
  f64Sqrt: [0x9f],
  f64Div: [0xa3],
  f64Min: [0xa4],
  f64Max: [0xa5],
  f64Copysign: [0xa6],
  i32TruncSatF32S: [0xfc, 0x00],
  i32TruncSatF64S: [0xfc, 0x02],
  f32ConvertI32S: [0xb2],
  f32DemoteF64: [0xb6],
  f64ConvertI32S: [0xb7],
  f64PromoteF32: [0xbb],
  i32ReinterpretF32: [0xbc],
  f32ReinterpretI32: [0xbe],
  i8x16Swizzle: simd(0x0e),
  i8x16Splat: simd(0x0f),
  i16x8Splat: simd(0x10),
  i32x4Splat: simd(0x11),
  i64x2Splat: simd(0x12),
  i8x16Eq: simd(0x23),
  i8x16Ne: simd(0x24),
  i32x4Eq: simd(0x37),
  i32x4Ne: simd(0x38),
  i32x4LtS: simd(0x39),
  i32x4GtS: simd(0x3b),
  i32x4LeS: simd(0x3d),
  i32x4GeS: simd(0x3f),
  f32x4Eq: simd(0x41),
  f32x4Ne: simd(0x42),
  f32x4Lt: simd(0x43),
  f32x4Gt: simd(0x44),
  f32x4Le: simd(0x45),
  f32x4Ge: simd(0x46),
  f64x2Eq: simd(0x47),
  f64x2Ne: simd(0x48),
  f64x2Lt: simd(0x49),
  f64x2Gt: simd(0x4a),
  f64x2Le: simd(0x4b),
  f64x2Ge: simd(0x4c),
  v128Not: simd(0x4d),
  v128And: simd(0x4e),
  v128AndNot: simd(0x4f),
  v128Or: simd(0x50),
  v128Xor: simd(0x51),
  v128Bitselect: simd(0x52),
  v128AnyTrue: simd(0x53),
  f32x4DemoteF64x2Zero: simd(0x5e),
  f64x2PromoteLowF32x4: simd(0x5f),
  i8x16AllTrue: simd(0x63),
  i8x16Bitmask: simd(0x64),
  i8x16NarrowI16x8S: simd(0x65),
  i8x16NarrowI16x8U: simd(0x66),
  f32x4Ceil: simd(0x67),
  f32x4Floor: simd(0x68),
  f32x4Trunc: simd(0x69),
  f32x4Nearest: simd(0x6a),
  f64x2Ceil: simd(0x74),
  f64x2Floor: simd(0x75),
  f64x2Trunc: simd(0x7a),
  i16x8NarrowI32x4S: simd(0x85),
  i16x8NarrowI32x4U: simd(0x86),
  i16x8ExtendLowI8x16S: simd(0x87),
  i16x8ExtendLowI8x16U: simd(0x89),
  f64x2Nearest: simd(0x94),
  i32x4Abs: simd(0xa0),
  i32x4Neg: simd(0xa1),
  i32x4AllTrue: simd(0xa3),
  i32x4Bitmask: simd(0xa4),
  i32x4ExtendLowI16x8S: simd(0xa7),
  i32x4ExtendLowI16x8U: simd(0xa9),
  i32x4Shl: simd(0xab),
  i32x4ShrS: simd(0xac),
  i32x4ShrU: simd(0xad),
  i32x4Add: simd(0xae),
  i32x4Sub: simd(0xb1),
  i32x4Mul: simd(0xb5),
  i32x4MinS: simd(0xb6),
  i32x4MaxS: simd(0xb8),
  i64x2Eq: simd(0xd6),
  f32x4Abs: simd(0xe0),
  f32x4Neg: simd(0xe1),
  f32x4Sqrt: simd(0xe3),
  f32x4Div: simd(0xe7),
  f32x4Min: simd(0xe8),
  f32x4Max: simd(0xe9),
  f32x4Pmin: simd(0xea),
  f32x4Pmax: simd(0xeb),
  f64x2Abs: simd(0xec),
  f64x2Neg: simd(0xed),
  f64x2Sqrt: simd(0xef),
  f64x2Div: simd(0xf3),
  f64x2Min: simd(0xf4),
  f64x2Max: simd(0xf5),
  f64x2Pmin: simd(0xf6),
  f64x2Pmax: simd(0xf7),
  i32x4TruncSatF32x4S: simd(0xf8),
  f32x4ConvertI32x4S: simd(0xfa),
  i32x4TruncSatF64x2SZero: simd(0xfc),
  f64x2ConvertLowI32x4S: simd(0xfe),
  /** Bulk memory on memory 0: memory.copy (dst src n) and memory.fill (dst byte n). */
  memoryCopy: [0xfc, 0x0a, 0x00, 0x00],
  memoryFill: [0xfc, 0x0b, 0x00],
  i32GeU: [0x4f],
} as const;

/** The name of an instruction `FunctionBuilder.op` emits. */
export type PlainOp = keyof typeof PLAIN_OPS;

/** Memory instructions by name (opcode and natural alignment), for `FunctionBuilder.memory`. */
const MEMORY_OPS = {
  i32Load8U: { opcode: [0x2d], align: 0 },
  i32Load8S: { opcode: [0x2c], align: 0 },
  i32Load16U: { opcode: [0x2f], align: 1 },
  i32Store8: { opcode: [0x3a], align: 0 },
  v128Load8Splat: { opcode: simd(0x07), align: 0 },
  v128Load32Zero: { opcode: simd(0x5c), align: 2 },
  v128Load64Zero: { opcode: simd(0x5d), align: 3 },
  /** Loads 8 bytes (4 u16, 2 u32) and zero-extends each to twice its width. */
  v128Load8x8U: { opcode: simd(0x02), align: 3 },
  v128Load16x4U: { opcode: simd(0x04), align: 3 },
  v128Load32x2U: { opcode: simd(0x06), align: 3 },
  /** Threads (shared memory): sequentially consistent i32 load, store and add (value, old value on the stack). */
  i32AtomicLoad: { opcode: [0xfe, 0x10], align: 2 },
  i32AtomicStore: { opcode: [0xfe, 0x17], align: 2 },
  i32AtomicRmwAdd: { opcode: [0xfe, 0x1e], align: 2 },
} as const;

/** The name of a memory instruction `FunctionBuilder.memory` emits. */
export type MemoryOp = keyof typeof MEMORY_OPS;

/** Lane memory instructions (v128.loadN_lane / storeN_lane), for `FunctionBuilder.laneMemory`. */
const LANE_MEMORY_OPS = {
  v128Load8Lane: { opcode: 0x54, align: 0, lanes: 16 },
  v128Load16Lane: { opcode: 0x55, align: 1, lanes: 8 },
  v128Load32Lane: { opcode: 0x56, align: 2, lanes: 4 },
  v128Load64Lane: { opcode: 0x57, align: 3, lanes: 2 },
  v128Store8Lane: { opcode: 0x58, align: 0, lanes: 16 },
  v128Store16Lane: { opcode: 0x59, align: 1, lanes: 8 },
  v128Store32Lane: { opcode: 0x5a, align: 2, lanes: 4 },
  v128Store64Lane: { opcode: 0x5b, align: 3, lanes: 2 },
} as const;

/** The name of a lane memory instruction. */
export type LaneMemoryOp = keyof typeof LANE_MEMORY_OPS;

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
        ...(hasMax ? unsignedLeb128(m.maximumPages) : []),
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
