/**
 * The WebGPU plan's memory planning (compiler/webgpu-memory.ts), on dispatch lists written out by hand:
 * values whose dispatches do not overlap share buffers, values bound by one dispatch never do, pinned
 * values get none, and a value takes the smallest free buffer that holds it.
 */
import { describe, expect, it } from "vitest";
import { planWebgpuBuffers } from "../../src/compiler/webgpu-memory.js";

const size: Record<string, number> = { a: 400, b: 400, c: 400, d: 800, e: 400, f: 100, x: 400, y: 400 };
const plan = (dispatches: string[][], pinned: string[] = []) =>
  planWebgpuBuffers(
    dispatches,
    (v) => size[v]!,
    (v) => pinned.includes(v),
  );

describe("planWebgpuBuffers", () => {
  it("gives a chain of values two buffers in turn", () => {
    // x -> a -> b -> c -> y: each dispatch reads one value and writes the next.
    const p = plan(
      [
        ["x", "a"],
        ["a", "b"],
        ["b", "c"],
        ["c", "y"],
      ],
      ["x", "y"],
    );
    expect(p.bufferBytes).toEqual([400, 400]);
    expect(p.bufferOf.get("a")).toBe(p.bufferOf.get("c"));
    expect(p.bufferOf.get("a")).not.toBe(p.bufferOf.get("b"));
    expect(p.bufferOf.has("x")).toBe(false);
    expect(p.bufferOf.has("y")).toBe(false);
    expect(p.unsharedBytes).toBe(1200);
  });

  it("never shares a buffer between values bound by the same dispatch, nor while a value is live", () => {
    const dispatches = [
      ["x", "a"],
      ["x", "b"],
      ["a", "b", "c"],
      ["c", "e"],
      ["e", "d"],
      ["a", "d", "f"],
      ["f", "y"],
    ];
    const p = plan(dispatches, ["x", "y"]);
    const live = (v: string) => {
      const ks = dispatches.flatMap((d, k) => (d.includes(v) ? [k] : []));
      return [Math.min(...ks), Math.max(...ks)] as const;
    };
    const values = [...p.bufferOf.keys()];
    for (const u of values)
      for (const v of values) {
        if (u >= v || p.bufferOf.get(u) !== p.bufferOf.get(v)) continue;
        const [s1, e1] = live(u);
        const [s2, e2] = live(v);
        expect(e1 < s2 || e2 < s1, `${u} and ${v} share a buffer while both live`).toBe(true);
      }
    for (const v of values) expect(p.bufferBytes[p.bufferOf.get(v)!]!).toBeGreaterThanOrEqual(size[v]!);
    // a lives until dispatch 5, so c (2..3) and e (3..4) cannot take its buffer; e takes b's.
    expect(p.bufferOf.get("e")).toBe(p.bufferOf.get("b"));
  });

  it("takes the smallest free buffer that holds the value", () => {
    // d (800) and a (400) end at dispatch 1; f (100) then takes a's buffer, not d's.
    const p = plan(
      [
        ["x", "d", "a"],
        ["d", "a", "y"],
        ["x", "f"],
        ["f", "y"],
      ],
      ["x", "y"],
    );
    expect(p.bufferOf.get("f")).toBe(p.bufferOf.get("a"));
    expect(p.bufferBytes).toEqual([800, 400]);
  });
});
