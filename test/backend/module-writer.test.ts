import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type FunctionBuilder,
  ModuleBuilder,
  signedLeb128,
  unsignedLeb128,
} from "../../src/backend/wasm/module-writer.js";
import {
  allocateMemory,
  instantiate,
  relaxedSimdSupported,
  simdSupported,
  webAssembly,
} from "../../src/backend/wasm/runtime.js";

function decodeUnsigned(bytes: readonly number[]): number {
  let value = 0;
  bytes.forEach((b, i) => {
    value += (b & 0x7f) * 2 ** (7 * i);
  });
  return value;
}

function decodeSigned(bytes: readonly number[]): bigint {
  let value = 0n;
  bytes.forEach((b, i) => {
    value |= BigInt(b & 0x7f) << BigInt(7 * i);
  });
  const bits = BigInt(7 * bytes.length);
  return (bytes[bytes.length - 1]! & 0x40) !== 0 ? value - (1n << bits) : value;
}

/** A module with one memory page imported as env.memory, validated and instantiated. */
function build(define: (module: ModuleBuilder) => void): {
  exports: Readonly<Record<string, unknown>>;
  heap: ArrayBuffer;
} {
  const module = new ModuleBuilder().importMemory({ module: "env", name: "memory", initialPages: 1 });
  define(module);
  const bytes = module.toBytes();
  expect(webAssembly!.validate(bytes)).toBe(true);
  const memory = allocateMemory(65536);
  return { exports: instantiate(bytes, memory).exports, heap: memory.buffer };
}

/** sum(ptr, count): the f32 elements at ptr, four lanes at a time (count a multiple of 4), then across lanes. */
function defineSimdSum(module: ModuleBuilder): void {
  const fn: FunctionBuilder = module.function("sum", ["i32", "i32"], ["f32"]);
  const [ptr, count] = [fn.param(0), fn.param(1)];
  const end = fn.local("i32");
  const acc = fn.local("v128");
  fn.localGet(ptr).localGet(count).i32Const(2).i32Shl().i32Add().localSet(end);
  fn.block().localGet(ptr).localGet(end).i32GeS().brIf(0);
  fn.loop();
  fn.localGet(acc).localGet(ptr).v128Load().f32x4Add().localSet(acc);
  fn.localGet(ptr).i32Const(16).i32Add().localTee(ptr).localGet(end).i32LtS().brIf(0);
  fn.end().end();
  fn.localGet(acc).f32x4ExtractLane(0).localGet(acc).f32x4ExtractLane(1).f32Add();
  fn.localGet(acc).f32x4ExtractLane(2).f32Add().localGet(acc).f32x4ExtractLane(3).f32Add();
}

describe("LEB128", () => {
  it("encodes the reference examples", () => {
    expect(unsignedLeb128(0)).toEqual([0x00]);
    expect(unsignedLeb128(127)).toEqual([0x7f]);
    expect(unsignedLeb128(128)).toEqual([0x80, 0x01]);
    expect(unsignedLeb128(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(unsignedLeb128(0xffffffff)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(signedLeb128(0)).toEqual([0x00]);
    expect(signedLeb128(63)).toEqual([0x3f]);
    expect(signedLeb128(64)).toEqual([0xc0, 0x00]);
    expect(signedLeb128(-1)).toEqual([0x7f]);
    expect(signedLeb128(-64)).toEqual([0x40]);
    expect(signedLeb128(-65)).toEqual([0xbf, 0x7f]);
    expect(signedLeb128(-123456)).toEqual([0xc0, 0xbb, 0x78]);
    expect(() => unsignedLeb128(-1)).toThrow(RangeError);
    expect(() => unsignedLeb128(2 ** 32)).toThrow(RangeError);
  });

  it("round-trips u32 and i64 values", () => {
    fc.assert(fc.property(fc.nat({ max: 0xffffffff }), (x) => decodeUnsigned(unsignedLeb128(x)) === x));
    fc.assert(
      fc.property(
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
        (x) => decodeSigned(signedLeb128(x)) === x,
      ),
    );
  });
});

describe("ModuleBuilder", () => {
  it("emits a valid empty module and a function adding two i32", () => {
    expect(webAssembly!.validate(new ModuleBuilder().toBytes())).toBe(true);
    const module = new ModuleBuilder();
    const add = module.function("add", ["i32", "i32"], ["i32"]);
    add.localGet(add.param(0)).localGet(add.param(1)).i32Add();
    const bytes = module.toBytes();
    expect(webAssembly!.validate(bytes)).toBe(true);
    const run = instantiate(bytes, allocateMemory(1)).exports["add"] as (a: number, b: number) => number;
    expect(run(2, 3)).toBe(5);
    expect(run(2 ** 31 - 1, 1)).toBe(-(2 ** 31)); // i32 wraps
  });

  it("calls between functions, with constants of every kind and large offsets", () => {
    const { exports, heap } = build((module) => {
      const twice = module.function(null, ["f64"], ["f64"]);
      twice.localGet(twice.param(0)).f64Const(2).f64Mul();
      const main = module.function("main", [], ["f64"]);
      // memory[40000] = -123456 (i32), then read it back through a 39999 + 1 offset
      main.i32Const(0).i32Const(-123456).i32Store({ offset: 40000 });
      main.i32Const(1).i32Load({ offset: 39999, align: 0 }).i32Const(-123456).i32Eq();
      main.if("f64").f64Const(1.25).call(twice).else().f64Const(-1).end();
      main.i32Const(8).f32Const(0.5).f32Store().i32Const(8).f32Load().drop();
    });
    expect((exports["main"] as () => number)()).toBe(2.5);
    expect(new Float32Array(heap, 8, 1)[0]).toBe(0.5);
  });

  it("rejects unbalanced blocks and over-aligned accesses", () => {
    const module = new ModuleBuilder();
    const fn = module.function("f", [], []);
    fn.block();
    expect(() => module.toBytes()).toThrow(/not closed/);
    expect(() => new ModuleBuilder().function("g", [], []).end()).toThrow(/without an open block/);
    expect(() => new ModuleBuilder().function("h", [], []).f32Load({ align: 3 })).toThrow(RangeError);
    expect(() => new ModuleBuilder().function("h", [], []).f32x4ExtractLane(4)).toThrow(RangeError);
  });

  it.runIf(simdSupported())("sums a float array with f32x4 (SIMD)", () => {
    const { exports, heap } = build(defineSimdSum);
    const sum = exports["sum"] as (ptr: number, count: number) => number;
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }), (values) => {
        const count = values.length - (values.length % 4);
        new Float32Array(heap, 64, count).set(values.slice(0, count));
        // Small integers: every partial sum is exact in f32, so the order does not matter.
        return sum(64, count) === values.slice(0, count).reduce((s, v) => s + v, 0);
      }),
    );
  });

  it.runIf(simdSupported())("splats, loads with splat, stores vectors and extracts f64x2 lanes", () => {
    const { exports, heap } = build((module) => {
      const fn = module.function("run", [], []);
      // out[0..1] = (in[0] splat) * (in[1..2]) + 10 ; out[2..5] = f32 splat(1.5) * 2
      fn.i32Const(0).i32Const(0).v128Load64Splat().i32Const(0).v128Load({ offset: 8, align: 3 }).f64x2Mul();
      fn.f64Const(10).f64x2Splat().f64x2Add().v128Store({ offset: 1024 });
      fn.i32Const(0).f32Const(1.5).f32x4Splat().i32Const(0).v128Load32Splat({ offset: 64 }).f32x4Mul();
      fn.v128Store({ offset: 1040 });
      const lane = module.function("lane", [], ["f64"]);
      lane.i32Const(1024).v128Load().f64x2ExtractLane(1);
    });
    new Float64Array(heap, 0, 3).set([3, 4, 5]);
    new Float32Array(heap, 64, 1).set([2]);
    (exports["run"] as () => void)();
    expect([...new Float64Array(heap, 1024, 2)]).toEqual([22, 25]);
    expect([...new Float32Array(heap, 1040, 4)]).toEqual([3, 3, 3, 3]);
    expect((exports["lane"] as () => number)()).toBe(25);
  });

  it.runIf(simdSupported())(
    "emits instructions by name: SIMD divide and compare-select, bytes and lanes",
    () => {
      const { exports, heap } = build((module) => {
        const fn = module.function("run", [], []);
        // out = in < 0 ? in / 2 : sqrt(in), for 4 floats at 0 into 64
        const x = fn.local("v128");
        fn.i32Const(0).v128Load().localSet(x);
        fn.i32Const(64);
        fn.localGet(x).f32Const(2).f32x4Splat().op("f32x4Div");
        fn.localGet(x).op("f32x4Sqrt");
        fn.localGet(x).f32Const(0).f32x4Splat().op("f32x4Lt");
        fn.op("v128Bitselect").v128Store();
        // a byte at 128 -> i32 at 132, times 3; lane 2 of the vector at 0 stored alone at 136
        fn.i32Const(132).i32Const(128).memory("i32Load8U").i32Const(3).i32Mul().i32Store();
        fn.i32Const(136).localGet(x).laneMemory("v128Store32Lane", 2);
        const scalar = module.function("scalar", ["f64", "f64"], ["f64"]);
        scalar.localGet(scalar.param(0)).localGet(scalar.param(1)).op("f64Max").op("f64Sqrt");
      });
      new Float32Array(heap, 0, 4).set([-4, 9, -1, 16]);
      new Uint8Array(heap, 128, 1).set([200]);
      (exports["run"] as () => void)();
      expect([...new Float32Array(heap, 64, 4)]).toEqual([-2, 3, -0.5, 4]);
      expect(new Int32Array(heap, 132, 1)[0]).toBe(600);
      expect(new Float32Array(heap, 136, 1)[0]).toBe(-1);
      expect((exports["scalar"] as (a: number, b: number) => number)(4, 25)).toBe(5);
    },
  );

  it.runIf(typeof SharedArrayBuffer === "function")(
    "emits atomic load, store and add on a shared memory",
    () => {
      const module = new ModuleBuilder().importMemory({
        module: "env",
        name: "memory",
        initialPages: 1,
        maximumPages: 1,
        shared: true,
      });
      // bump(): word[2] = word[1] + (old word[3], which gains 5); returns the new word[3]
      const fn = module.function("bump", [], ["i32"]);
      fn.i32Const(0).i32Const(0).memory("i32AtomicLoad", { offset: 4 });
      fn.i32Const(0).i32Const(5).memory("i32AtomicRmwAdd", { offset: 12 }).i32Add();
      fn.memory("i32AtomicStore", { offset: 8 });
      fn.i32Const(0).memory("i32AtomicLoad", { offset: 12 });
      const bytes = module.toBytes();
      expect(webAssembly!.validate(bytes)).toBe(true);
      const memory = allocateMemory(65536, true);
      const words = new Int32Array(memory.buffer);
      words.set([0, 40, 0, 2]);
      expect((instantiate(bytes, memory).exports["bump"] as () => number)()).toBe(7);
      expect([...words.subarray(0, 4)]).toEqual([0, 40, 42, 7]);
    },
  );

  it.runIf(relaxedSimdSupported())("computes a * b + c with f32x4.relaxed_madd", () => {
    const { exports } = build((module) => {
      const fn = module.function("madd", ["f32", "f32", "f32"], ["f32"]);
      fn.localGet(fn.param(0))
        .f32x4Splat()
        .localGet(fn.param(1))
        .f32x4Splat()
        .localGet(fn.param(2))
        .f32x4Splat();
      fn.f32x4RelaxedMadd().f32x4ExtractLane(2);
    });
    expect((exports["madd"] as (a: number, b: number, c: number) => number)(2, 3, 4)).toBe(10);
  });
});
