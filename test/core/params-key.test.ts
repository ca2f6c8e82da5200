/**
 * paramsKey keys eager kernels and CSE: plain data is written directly (the fast path every eager call
 * takes), everything else through JSON with a replacer. Both must give one text per value, and the fast
 * path the same text the JSON path gives.
 */
import { describe, expect, it } from "vitest";
import { paramsKey } from "../../src/core/primitive.js";

/** The JSON path alone: what paramsKey gave before plain data had a path of its own. */
function viaJson(params: unknown): string {
  return JSON.stringify(params, (_k, v: unknown) =>
    typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0))
      ? { nonFiniteNumber: Object.is(v, -0) ? "-0" : String(v) }
      : v,
  );
}

describe("paramsKey", () => {
  const plain: unknown[] = [
    {},
    null,
    0,
    1.5,
    -3,
    1e300,
    5e-324,
    'a"b\\c\n',
    true,
    false,
    [],
    [1, [2, [3]], "x"],
    { shape: [2, 3], broadcastDimensions: [0, 1] },
    { axes: [0], keepdims: false, name: "sum", nested: { a: [null, true] } },
    { skipped: undefined, kept: 1 },
    [undefined, 1],
    { 2: "b", 1: "a", z: 0, y: [] },
    Object.assign(Object.create(null) as object, { a: 1 }),
  ];
  it("writes plain data as JSON does", () => {
    for (const p of plain) expect(paramsKey(p)).toBe(viaJson(p));
  });

  it("keeps NaN, ±Infinity and -0 apart from each other and from null and 0", () => {
    const keys = [NaN, Infinity, -Infinity, -0, 0, null].map((v) => paramsKey({ exponent: v }));
    expect(new Set(keys).size).toBe(keys.length);
    expect(paramsKey([1, -0])).toBe(viaJson([1, -0]));
    expect(paramsKey({ a: { b: [NaN] } })).toBe(viaJson({ a: { b: [NaN] } }));
  });

  it("keys class instances by identity and refuses functions, at any depth", () => {
    class Box {
      constructor(readonly v: number) {}
    }
    const a = new Box(1);
    const b = new Box(1);
    expect(paramsKey({ program: a })).toBe(paramsKey({ program: a }));
    expect(paramsKey({ program: a })).not.toBe(paramsKey({ program: b }));
    expect(paramsKey([[a]])).not.toBe(paramsKey([[b]]));
    expect(() => paramsKey({ f: () => 1 })).toThrow("unkeyable");
    expect(() => paramsKey([1, [() => 1]])).toThrow("unkeyable");
  });

  it("honours toJSON as JSON does", () => {
    const p = { when: { toJSON: () => "then" } };
    expect(paramsKey(p)).toBe('{"when":"then"}');
  });
});
