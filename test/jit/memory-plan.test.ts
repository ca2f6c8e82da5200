import { describe, expect, it } from "vitest";
import { liveness } from "../../src/compiler/liveness.js";
import { planMemory } from "../../src/compiler/memory-plan.js";
import { jit, type Array as NdArray, np } from "../../src/index.js";
import { expectClose, seededArray } from "../helpers/numeric.js";

// The memory planner (src/compiler/memory-plan.ts) is a pure function from a program's steps to a Plan
// that jit(f).lower(...) prints: slots with their tenants' lifetimes, in-place writes, donations, homes.
describe("the memory plan", () => {
  const a = seededArray([16, 16], 1).astype("float32");
  const b = seededArray([16, 16], 2).astype("float32");
  // c and e die in the fused loop that reads them, which writes d and g over them.
  const f = (x: NdArray, y: NdArray) => np.matmul(np.tanh(np.matmul(x, y)), np.matmul(y, x).add(1));

  it("prints each slot with its tenants' lifetimes and in-place writes", () => {
    const text = jit(f).lower(a, b).toString();
    expect(text).toContain("slots: 2 (value [written at step..last read]");
    expect(text).toMatch(/^ {2}slot 0 @0 1024 bytes: c \[0\.\.2\], d \[2\.\.3\] in place of c$/m);
    expect(text).toMatch(/^ {2}slot 1 @1024 1024 bytes: e \[1\.\.2\], g \[2\.\.3\] in place of e$/m);
    expect(text).not.toContain("donations:");
  });

  it("prints which output takes which donated input's buffer", () => {
    const { executable } = jit(f, { donateArgnums: [0] }).lower(a, b);
    expect(executable.toString()).toMatch(/^donations:\n {2}output 0 h takes donated input a's buffer/m);
    // The output's home in the plan memory lies after the arena.
    const home = executable.plan.placement.get(executable.program.outputs[0] as never);
    if (home?.kind !== "output") throw new Error("expected an output placement");
    expect(home.donatedFrom).toBe(0);
  });

  it("is a pure function of the steps: planning twice gives the same plan, homes only when asked", () => {
    const { executable } = jit(f, { donateArgnums: [0, 1] }).lower(a, b);
    const { program, steps } = executable;
    const plan = (homes: boolean) =>
      planMemory(program, [], steps, liveness(program, steps), { donatable: [true, true], homes });
    expect(plan(true).toString()).toBe(plan(true).toString());
    expect(plan(true).toString()).toMatch(/home @2048/);
    expect(plan(false).toString()).not.toMatch(/home @/);
    expect(plan(false).bytes).toBe(2048);
    expect(plan(true).bytes).toBe(3072);
  });

  it("results equal eager evaluation, with and without donation", () => {
    const want = f(a, b);
    expectClose(jit(f)(a, b), want, 1e-5, 1e-6);
    expectClose(jit(f, { donateArgnums: [0] })(a.mul(1), b), want, 1e-5, 1e-6);
  });
});
