/**
 * Gradient laws for every primitive in the registry (new primitives fail here until they get an entry
 * in laws/registry-table.ts): jvp and vjp against finite differences in float64, dot-product
 * consistency, linearity of jvp in the tangent, second order for smooth primitives, the transpose rule
 * of linear primitives checked directly, vmap against stacking and jit against eager evaluation; and
 * for non-differentiable primitives, a zero output tangent.
 *
 * Seeds: fast-check prints the seed of a failure; LAWS_SEED=<seed> replays it, LAWS_RUNS sets the runs.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Atom, Literal, type Var } from "../src/core/ir.js";
import { primitives, UndefinedPrimal } from "../src/core/primitive.js";
import { evalPrimitive } from "../src/core/trace.js";
import {
  type ConcreteArray,
  jit,
  jvp,
  makeProgram,
  type NdArray,
  np,
  testing,
  vjp,
  vmap,
} from "../src/index.js";
import {
  inner,
  innerAbs,
  isFloatArray,
  overFloats,
  randomLike,
  seedArb,
  signedStream,
  zerosOf,
} from "./helpers.js";
import {
  type DifferentiableEntry,
  FUNCTION_LAWS,
  LAW_TABLE,
  LAW_TITLES,
  type LawCase,
  type LawEntry,
  type LawName,
  lawsFor,
} from "./registry-table.js";

const { assertAllClose, checkGrads, propertyParameters } = testing;

/** Exact-arithmetic identities (vmap, jit) hold to this, in float64. */
const TIGHT = { atol: 1e-12, rtol: 1e-12 };

/** Relative tolerance of identities between analytic derivatives (float32 rounding for relaxed entries). */
function identityTolerance(entry: LawEntry): number {
  return entry.kind === "differentiable" && entry.tolerance !== undefined ? 1e-5 : 1e-10;
}

function modesOf(entry: DifferentiableEntry) {
  return entry.modes ?? (["fwd", "rev"] as const);
}

function differentiable(entry: LawEntry): DifferentiableEntry {
  if (entry.kind !== "differentiable") throw new Error(`${entry.primitive} is not differentiable`);
  return entry;
}

/** The primitive's applications while evaluating the case: parameters and concrete arguments. */
function applications(name: string, c: LawCase): { params: unknown; args: ConcreteArray[] }[] {
  const inputs = c.examples[0]!;
  const { program, consts } = makeProgram(c.fn)(...inputs);
  const env = new Map<Var, ConcreteArray>();
  program.constVars.forEach((v, i) => env.set(v, consts[i]!.concrete()));
  program.inputs.forEach((v, i) => env.set(v, inputs[i]!.concrete()));
  const read = (a: Atom): ConcreteArray => (a instanceof Literal ? a.value : env.get(a)!);
  const found: { params: unknown; args: ConcreteArray[] }[] = [];
  for (const eqn of program.equations) {
    const args = eqn.inputs.map(read);
    if (eqn.primitive.name === name) found.push({ params: eqn.params, args });
    const outs = evalPrimitive(eqn.primitive, args, eqn.params);
    eqn.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
  return found;
}

type Law = (entry: LawEntry) => void;

const LAWS: Record<LawName, Law> = {
  exercises(entry) {
    fc.assert(
      fc.property(entry.kind === "covered-by" ? fc.constant(null) : entry.cases, (c) => {
        if (c === null) return;
        const names = makeProgram(c.fn)(...c.examples[0]!).program.equations.map((e) => e.primitive.name);
        if (!names.includes(entry.primitive)) {
          throw new Error(
            `the law function of ${entry.primitive} does not use it; its program has ${names.join(", ")}`,
          );
        }
      }),
      propertyParameters({ scale: 0.25 }),
    );
  },

  jvp(entry) {
    const e = differentiable(entry);
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        checkGrads(c.fn, [...c.examples[0]!], { ...e.tolerance, modes: ["fwd"], seed });
      }),
      propertyParameters(),
    );
  },

  vjp(entry) {
    const e = differentiable(entry);
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        checkGrads(c.fn, [...c.examples[0]!], { ...e.tolerance, modes: ["rev"], seed });
      }),
      propertyParameters(),
    );
  },

  dotProduct(entry) {
    const e = differentiable(entry);
    const rtol = identityTolerance(e);
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        const next = signedStream(seed);
        const { g, floats } = overFloats(c.fn, c.examples[0]!);
        const vs = floats.map((x) => randomLike(x, next));
        const [y, jv] = jvp(g, floats, vs);
        const u = randomLike(y, next);
        const ct = vjp(g, ...floats)[1](u);
        const lhs = inner(ct, vs);
        const rhs = inner([u], [jv]);
        const scale = innerAbs(ct, vs) + innerAbs([u], [jv]);
        if (!(Math.abs(lhs - rhs) <= rtol * scale + 1e-300)) {
          throw new Error(`<vjp(u), v> = ${lhs} but <u, jvp(v)> = ${rhs} (scale ${scale})`);
        }
      }),
      propertyParameters(),
    );
  },

  linearity(entry) {
    const e = differentiable(entry);
    const rtol = identityTolerance(e);
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        const next = signedStream(seed);
        const { g, floats } = overFloats(c.fn, c.examples[0]!);
        const [a, b] = [2 * next(), 2 * next()];
        const t1 = floats.map((x) => randomLike(x, next));
        const t2 = floats.map((x) => randomLike(x, next));
        const combined = t1.map((t, k) => np.add(np.multiply(t, a), np.multiply(t2[k]!, b)).astype(t.dtype));
        const j1 = jvp(g, floats, t1)[1];
        const j2 = jvp(g, floats, t2)[1];
        const j12 = jvp(g, floats, combined)[1];
        // Entries that round through float32 declare a float32 atol: a·t1 + b·t2 may nearly cancel, so
        // the rounding error is relative to the terms, not to the result.
        assertAllClose(j12, np.add(np.multiply(j1, a), np.multiply(j2, b)), {
          rtol,
          atol: e.tolerance?.atol ?? 1e-10,
          name: "jvp(a·t1 + b·t2)",
        });
      }),
      propertyParameters(),
    );
  },

  secondOrder(entry) {
    const e = differentiable(entry);
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        checkGrads(c.fn, [...c.examples[0]!], { ...e.tolerance, modes: modesOf(e), order: 2, seed });
      }),
      propertyParameters({ scale: 0.5 }),
    );
  },

  transpose(entry) {
    const e = differentiable(entry);
    const prim = primitives().get(e.primitive)!;
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        const next = signedStream(seed);
        for (const { params, args } of applications(e.primitive, c)) {
          for (const group of e.linearIn ?? []) {
            const ts = group.map((k) => randomLike(args[k]!, next).concrete());
            const forwardArgs = [...args];
            group.forEach((k, j) => {
              forwardArgs[k] = ts[j]!;
            });
            const ys = evalPrimitive(prim, forwardArgs, params as never);
            const cts = ys.map((y) => randomLike(y, next));
            const linearArgs = args.map((a, k) => (group.includes(k) ? new UndefinedPrimal(a.aval) : a));
            const back = prim.transpose!(cts, linearArgs, params as never);
            const backs = group.map((k) => {
              const r = back[k];
              if (r === null || r === undefined)
                throw new Error(`transpose returned no cotangent for linear argument ${k}`);
              if (r.shape.join() !== args[k]!.shape.join()) {
                throw new Error(
                  `transpose: cotangent ${k} has shape [${r.shape}] but the argument is [${args[k]!.shape}]`,
                );
              }
              return r;
            });
            const lhs = inner(cts, ys);
            const rhs = inner(backs, ts);
            const f32 = [...ts, ...ys].some((x) => x.dtype === "float32");
            const scale = innerAbs(cts, ys) + innerAbs(backs, ts);
            if (!(Math.abs(lhs - rhs) <= (f32 ? 1e-5 : 1e-11) * scale + 1e-300)) {
              throw new Error(
                `arguments ${JSON.stringify(group)}: <ct, ${e.primitive}(t)> = ${lhs} but <transpose(ct), t> = ${rhs} (params ${JSON.stringify(params)})`,
              );
            }
          }
        }
      }),
      propertyParameters(),
    );
  },

  zeroTangent(entry) {
    if (entry.kind === "covered-by") return;
    fc.assert(
      fc.property(entry.cases, seedArb, (c, seed) => {
        const next = signedStream(seed);
        const inputs = [...c.examples[0]!];
        const tangents = inputs.map((x) => (isFloatArray(x) ? randomLike(x, next) : zerosOf(x)));
        const [, t] = jvp(c.fn, inputs, tangents);
        const data = t.toTypedArray();
        const nonzero = data.findIndex((v) => v !== 0);
        if (nonzero >= 0) throw new Error(`output tangent element ${nonzero} is ${data[nonzero]}, not 0`);
      }),
      propertyParameters(),
    );
  },

  vmap(entry) {
    if (entry.kind === "covered-by") return;
    // Per argument: batched along its first axis, along a new last axis, or not batched.
    type AxisChoice = "first" | "last" | "none";
    const choice = fc
      .integer({ min: 0, max: 2 })
      .map((i): AxisChoice => (["first", "last", "none"] as const)[i]!);
    const axisChoices = fc.array(choice, { minLength: 4, maxLength: 4 });
    fc.assert(
      fc.property(entry.cases, axisChoices, (c, choices) => {
        const first = c.examples[0]!;
        const chosen: AxisChoice[] = first.map((_, k) => choices[k % choices.length]!);
        if (!chosen.some((a) => a !== "none")) chosen[0] = "first";
        const inAxes = chosen.map((a, k) => (a === "none" ? null : a === "first" ? 0 : first[k]!.ndim));
        const argsOf = (ex: readonly NdArray[]) => ex.map((x, k) => (inAxes[k] === null ? first[k]! : x));
        const batched = first.map((x, k) => {
          const axis = inAxes[k];
          return axis === null || axis === undefined
            ? x
            : np.stack(
                c.examples.map((ex) => ex[k]!),
                { axis },
              );
        });
        const expected = np.stack(
          c.examples.map((ex) => c.fn(...argsOf(ex))),
          { axis: 0 },
        );
        const actual = vmap(c.fn, { inAxes })(...batched);
        assertAllClose(actual, expected, { ...TIGHT, name: `vmap(f, inAxes ${JSON.stringify(inAxes)})` });
      }),
      propertyParameters(),
    );
  },

  effects(entry) {
    const e = differentiable(entry);
    const log = e.effects!;
    fc.assert(
      fc.property(e.cases, seedArb, (c, seed) => {
        const next = signedStream(seed);
        const inputs = c.examples[0]!;
        log.take();
        c.fn(...inputs);
        const eager = log.take();
        if (eager.length === 0) throw new Error("the law function logged nothing eagerly");
        jit(c.fn)(...inputs);
        expectSameLines(log.take(), eager, "jit(f)");
        jvp(
          c.fn,
          [...inputs],
          inputs.map((x) => randomLike(x, next)),
        );
        expectSameLines(log.take(), eager, "jvp(f)");
        const [y, back] = vjp(c.fn, ...inputs);
        expectSameLines(log.take(), eager, "vjp(f) forward");
        back(randomLike(y, next));
        expectSameLines(log.take(), [], "vjp(f) backward");
        // vmap: each callback once per example, the examples of one callback before the next callback's.
        const perExample = c.examples.map((ex) => {
          c.fn(...ex);
          return log.take();
        });
        const expected = eager.flatMap((_, site) => perExample.map((lines) => lines[site]!));
        const stacked = inputs.map((_, k) => np.stack(c.examples.map((ex) => ex[k]!)));
        vmap(c.fn)(...stacked);
        expectSameLines(log.take(), expected, "vmap(f)");
        jit(vmap(c.fn))(...stacked);
        expectSameLines(log.take(), expected, "jit(vmap(f))");
      }),
      propertyParameters({ scale: 0.5 }),
    );
  },

  jit(entry) {
    if (entry.kind === "covered-by") return;
    fc.assert(
      fc.property(entry.cases, (c) => {
        const inputs = c.examples[0]!;
        assertAllClose(jit(c.fn)(...inputs), c.fn(...inputs), { ...TIGHT, name: "jit(f)" });
      }),
      propertyParameters({ scale: 0.5 }),
    );
  },
};

/** Logged lines "tag shape v1,v2,..." equal up to float64 rounding of the values (1e-12 relative). */
function expectSameLines(actual: readonly string[], expected: readonly string[], who: string): void {
  const parse = (line: string) => {
    const [tag, shape, values = ""] = line.split(" ");
    return { head: `${tag} ${shape}`, values: values === "" ? [] : values.split(",").map(Number) };
  };
  const fail = () => {
    throw new Error(
      `${who} logged\n  ${actual.join("\n  ")}\nbut eager f logged\n  ${expected.join("\n  ")}`,
    );
  };
  if (actual.length !== expected.length) fail();
  actual.forEach((line, i) => {
    const a = parse(line);
    const e = parse(expected[i]!);
    if (a.head !== e.head || a.values.length !== e.values.length) fail();
    a.values.forEach((v, j) => {
      const w = e.values[j]!;
      if (!(Object.is(v, w) || Math.abs(v - w) <= 1e-12 * Math.max(Math.abs(v), Math.abs(w)))) fail();
    });
  });
}

for (const name of primitives().keys()) {
  describe(`primitive ${name}`, () => {
    const entry = LAW_TABLE.get(name);
    if (entry === undefined) {
      it("has an entry in laws/registry-table.ts", () => {
        throw new Error(`primitive ${name} has no law entry: add one to laws/registry-table.ts`);
      });
      return;
    }
    if (entry.kind === "covered-by") {
      // Checked through the primitive that contains it: that primitive must have gradient laws.
      it(`is covered by ${entry.coveredBy}'s gradient laws`, () => {
        const cover = LAW_TABLE.get(entry.coveredBy);
        expect(cover?.kind).toBe("differentiable");
        expect(lawsFor(cover!)).toContain("vjp");
      });
      return;
    }
    for (const law of lawsFor(entry)) it(LAW_TITLES[law], () => LAWS[law](entry));
  });
}

for (const entry of FUNCTION_LAWS) {
  describe(`function ${entry.function} (on ${entry.primitive})`, () => {
    for (const law of lawsFor(entry)) it(LAW_TITLES[law], () => LAWS[law](entry));
  });
}
