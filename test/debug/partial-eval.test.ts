/**
 * Partial evaluation keeps an effect on values it does not know yet in the recorded program, in order,
 * although nothing reads its (absent) outputs; an effect on known values runs at once.
 */
import { describe, expect, it } from "vitest";
import type { ConcreteArray, NdArray } from "../../src/core/array.js";
import { evalProgram } from "../../src/core/ir.js";
import { np } from "../../src/index.js";
import { debugCallbackPrim } from "../../src/ops/debug-callback.js";
import { partialEvalFlat } from "../../src/transforms/partial-eval.js";

describe("partial evaluation of effects", () => {
  it("records effects on unknown values in order, and runs effects on known ones now", () => {
    const seen: string[] = [];
    const effect = (tag: string) => (args: readonly ConcreteArray[]) => {
      seen.push(`${tag} ${args.map((a) => a.toArray()).join(" ")}`);
    };
    const f = ([known, unknown]: NdArray[]) => {
      debugCallbackPrim.bind([unknown!], { kind: "callback", label: "a", callback: effect("a") });
      debugCallbackPrim.bind([known!], { kind: "callback", label: "b", callback: effect("b") });
      debugCallbackPrim.bind([unknown!.mul(2)], { kind: "callback", label: "c", callback: effect("c") });
      return [known!.add(1)];
    };
    const x = np.array([1, 2], { dtype: "float64" });
    const { program, consts, outsKnown } = partialEvalFlat(f, [x, null], [x.aval, x.aval], () => false);
    expect(seen).toEqual(["b 1,2"]);
    expect(outsKnown[0]?.toArray()).toEqual([2, 3]);
    expect(program.equations.map((e) => e.primitive.name)).toEqual([
      "debug_callback",
      "mul",
      "debug_callback",
    ]);
    evalProgram(program, consts, [np.array([5, 6], { dtype: "float64" })]);
    expect(seen).toEqual(["b 1,2", "a 5,6", "c 10,12"]);
  });
});
