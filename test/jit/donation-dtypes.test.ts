/**
 * Which buffers a plan's outputs may take (src/compiler/memory-plan.ts): a donated input's buffer only
 * for an output of the same dtype and size, and a slot of its own bytes. The executor hands the donated
 * typed array itself to the output (as its storage and the kernel's destination), so an int32 buffer
 * under a float32 output truncated every value stored in it, and a float16 parameter that took an Adam
 * moment's float32 buffer (the fizzbuzz float16 run) stored half bits as float32 numbers.
 */
import { afterEach, describe, expect, it } from "vitest";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { threadsSupported } from "../../src/backend/wasm/threads.js";
import { wasmFusedCalls } from "../../src/compiler/fused-wasm.js";
import { backend, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";
import { countAllocatedBytes } from "../helpers/allocations.js";

const initial = backend();
afterEach(() => {
  if (initial.name === "js") setBackend("js");
  else setBackend("wasm", { threads: initial.threads });
});

const values = (a: NdArray): number[] => Array.from(a.astype("float64").toTypedArray());

describe.each(["js", "wasm"] as const)("donated buffers on the %s backend", (kind) => {
  it("an int32 counter and a float32 sum of one byte size keep their own buffers (4 calls)", () => {
    setBackend(kind);
    // The float32 sum comes first: by bytes alone the int32 output would take its buffer and the float32
    // output the int32 one (a sum of 1.25 per call came out 4 or 4.25 instead of 5).
    const step = (sum: NdArray, count: NdArray) => [count.add(1), sum.add(1.25)] as const;
    const jitted = jit(step, { donateArgnums: [0, 1] });
    let [sum, count] = [np.zeros([]), np.zeros([], { dtype: "int32" })];
    for (let i = 0; i < 4; i++) [count, sum] = jitted(sum, count);
    expect(sum.item()).toBe(5);
    expect(count.item()).toBe(4);
    expect(sum.toTypedArray()).toBeInstanceOf(Float32Array);
    expect(count.toTypedArray()).toBeInstanceOf(Int32Array);
    const text = jitted.lower(np.zeros([]), np.zeros([], { dtype: "int32" })).toString();
    expect(text).toMatch(/^ {2}output 0 c takes donated input b's buffer/m);
    expect(text).toMatch(/^ {2}output 1 d takes donated input a's buffer/m);
  });

  it("a float16 parameter updated in one loop with a float32 moment of its shape (the fizzbuzz step)", () => {
    setBackend(kind);
    // Adam-like: the moment m (float32) and the parameter p (float16) die in the loop that writes both;
    // the new moment takes the buffer of g, a donated float32 gradient.
    const step = (m: NdArray, p: NdArray, g: NdArray) => {
      const m2 = m.mul(0.5).add(g);
      return [p.sub(m2.astype("float16")), m2] as const;
    };
    const jitted = jit(step, { donateArgnums: [0, 1, 2] });
    // 64 elements: past the thresholds of the wasm fused loop (a smaller loop runs in JS).
    const m0 = np.arange(64).mul(0.5).astype("float32");
    const p0 = np.arange(64).mul(1.5).add(100).astype("float16");
    const g = (i: number) => np.full([64], i + 0.25);
    let [m, p] = [m0.mul(1), p0.mul(1)];
    let [me, pe] = [m0, p0];
    for (let i = 0; i < 4; i++) {
      [p, m] = jitted(m, p, g(i));
      [pe, me] = step(me, pe, g(i));
      expect(p.dtype).toBe("float16");
      expect(values(p)).toEqual(values(pe));
      expect(values(m)).toEqual(values(me));
    }
    const text = jitted.lower(m0, p0, g(0)).toString();
    expect(text).not.toMatch(/output 0 \w+ takes donated input a's buffer/);
  });
});

describe("one output over its own input, whatever the loop's other outputs", () => {
  it("a float16 parameter and a float32 moment updated in one loop take their own buffers: no allocation", () => {
    // The fizzbuzz --float16 step: the loop writes a float32 moment (wider than the float16 parameter)
    // and the parameter; each output takes the buffer of its own donated input.
    const step = (m: NdArray, p: NdArray, g: NdArray) => {
      const m2 = m.mul(0.9).add(g);
      return [p.sub(m2.mul(0.01).astype("float16")), m2] as const;
    };
    const jitted = jit(step, { donateArgnums: [0, 1] });
    const g = np.linspace(-1, 1, 256);
    let [m, p] = [np.zeros([256]), np.ones([256], { dtype: "float16" })];
    let [me, pe] = [m.mul(1), p.mul(1)];
    const text = jitted.lower(m, p, g).toString();
    expect(text).toMatch(/^ {2}output 0 \w+ takes donated input b's buffer/m);
    expect(text).toMatch(/^ {2}output 1 \w+ takes donated input a's buffer/m);
    for (let i = 0; i < 3; i++) [p, m] = jitted(m, p, g);
    const bytes = countAllocatedBytes(() => {
      for (let i = 0; i < 3; i++) [p, m] = jitted(m, p, g);
    });
    expect(bytes).toBe(0);
    for (let i = 0; i < 6; i++) [pe, me] = step(me, pe, g);
    expect(values(p)).toEqual(values(pe));
    expect(values(m)).toEqual(values(me));
  });

  it("an int32 counter takes its buffer in a loop that also writes a float64 value", () => {
    // The float64 LeNet step's last loop: the step count, the loss mean and the first-step flag.
    const step = (count: NdArray, sum: NdArray) => [count.add(1), sum.div(4), count.equal(0)] as const;
    const jitted = jit(step, { donateArgnums: [0] });
    const sum = np.array(10, { dtype: "float64" });
    expect(jitted.lower(np.array(0, { dtype: "int32" }), sum).toString()).toMatch(
      /^ {2}output 0 \w+ takes donated input a's buffer/m,
    );
    let count = np.array(0, { dtype: "int32" });
    let results: readonly NdArray[] = [];
    for (let i = 0; i < 3; i++) {
      results = jitted(count, sum);
      count = results[0]!;
    }
    expect(results.map((r) => Number(r.item()))).toEqual([3, 2.5, 0]);
  });

  it("a float16 output goes in place of a dying float16 input beside a float32 output", () => {
    const f = (x: NdArray) => {
      const y = np.transpose(x); // a float16 intermediate that dies in the loop writing a and b
      const a = y.add(1);
      const b = y.astype("float32").mul(3);
      return [np.transpose(a), np.transpose(b)];
    };
    const x = np
      .linspace(-4, 4, 64 * 32)
      .reshape([64, 32])
      .astype("float16");
    const text = jit(f).lower(x).toString();
    expect(text).toMatch(/^ {2}slot 0 @0 4096 bytes: b \[0\.\.1\], d \[1\.\.2\] in place of b$/m);
    const [a, b] = jit(f)(x);
    const [ae, be] = f(x);
    expect(Array.from(a!.toTypedArray())).toEqual(Array.from(ae!.toTypedArray()));
    expect(Array.from(b!.toTypedArray())).toEqual(Array.from(be!.toTypedArray()));
  });
});

describe("slot sizes", () => {
  it("an intermediate takes its dtype's bytes (float16: 2 per element, uint8: 1)", () => {
    const f = (x: NdArray) => np.transpose(x.add(1));
    const half = jit(f)
      .lower(np.zeros([32, 16], { dtype: "float16" }))
      .toString();
    expect(half).toContain("for 1024 bytes of intermediates");
    const bytes = jit(f)
      .lower(np.zeros([32, 16], { dtype: "uint8" }))
      .toString();
    expect(bytes).toContain("for 512 bytes of intermediates");
  });
});

describe("narrower outputs written in place over a dying float32 input", () => {
  it.each([
    ["js", 1],
    ["wasm", 1],
    ...(threadsSupported() && simdSupported() ? ([["wasm", 2]] as const) : []),
  ] as const)("give eager's bits on %s with %i thread(s), 64 and 512 x 512 elements", (kind, threads) => {
    if (kind === "js") setBackend("js");
    else setBackend("wasm", { threads });
    // One loop reads the dying matmul result y and writes a float16, a bool and a float32 value: the
    // planner puts one of them in y's slot (bytes below element i's end are already read). At 512 x 512
    // the loop is past the threaded threshold, but a narrower output over y keeps it in order.
    const f = (x: NdArray) => {
      const y = np.matmul(x, x);
      const outs = [y.astype("float16").mul(2), y.greater(0), y.mul(3)];
      return outs.map((o) => np.transpose(o));
    };
    for (const n of [8, 512]) {
      const x = np.sin(
        np
          .arange(n * n)
          .reshape([n, n])
          .mul(0.37),
      );
      const text = jit(f).lower(x).toString();
      expect(text).toMatch(/ in place of /);
      const eager = f(x);
      const compiled = jit(f);
      // Stored bits (float16 as its bits) that differ from eager's, per output, over a few runs (were the
      // threads' chunks to run at once, a late chunk's writes would reach an early chunk's unread input).
      const threadedBefore = wasmFusedCalls.threaded;
      for (let run = 0; run < (threads > 1 ? 5 : 1); run++) {
        const mismatches = compiled(x).map((a, k) => {
          const [got, want] = [a.toTypedArray(), eager[k]!.toTypedArray()];
          return got.filter((v, i) => !Object.is(v, want[i])).length;
        });
        expect(mismatches).toEqual([0, 0, 0]);
      }
      // The race shows mostly on a plan's first run, so it is also checked directly: the loop ran whole.
      expect(wasmFusedCalls.threaded).toBe(threadedBefore);
    }
    if (threads > 1) {
      // Whereas with one output of y's width over y, the same loop is split between the threads.
      const x = np.sin(
        np
          .arange(512 * 512)
          .reshape([512, 512])
          .mul(0.37),
      );
      const sameWidth = jit((x: NdArray) => np.transpose(np.matmul(x, x).mul(3)));
      expect(sameWidth.lower(x).toString()).toMatch(/ in place of /);
      const before = wasmFusedCalls.threaded;
      sameWidth(x);
      expect(wasmFusedCalls.threaded).toBe(before + 1);
    }
  });
});
