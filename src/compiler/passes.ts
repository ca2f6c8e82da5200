/**
 * Program-to-program passes run by jit before planning: inlining of call-like primitives, algebraic
 * simplification (mostly of the zeros and ones that transposition leaves), constant folding,
 * common-subexpression elimination and dead-code elimination. Each is a small pure function.
 */
import { ConcreteArray, type NdArray } from "../core/array.js";
import type { Rewrite, RewriteMatch, RewriteRule } from "../core/compiler-facts.js";
import { isFloat, storageFor } from "../core/dtype.js";
import { equationHasEffects } from "../core/effects.js";
import { type Atom, type Equation, Literal, Program, Var } from "../core/ir.js";
import { type Primitive, paramsKey, primitives } from "../core/primitive.js";
import { shapeEquals, sizeOf } from "../core/shape.js";
import { evalPrimitive } from "../core/trace.js";
import { type ElementwisePrimitive, isElementwise } from "../ops/elementwise-kit.js";
import { evaluateExpr } from "../ops/expr-js.js";
import { fillEquation } from "../ops/layout.js";

/** A program with concrete values for its constVars: what the compiler works on. */
export interface ClosedProgram {
  program: Program;
  consts: NdArray[];
}

/** Replaces call-like equations (nested jit, customVjp) by the equations of the program they call. */
export function inlineCalls({ program, consts }: ClosedProgram): ClosedProgram {
  const constVars = [...program.constVars];
  const allConsts = [...consts];
  const equations: Equation[] = [];
  const emit = (eqns: readonly Equation[], rename: Map<Var, Atom>): void => {
    const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
    for (const e of eqns) {
      const inputs = e.inputs.map(atom);
      if (!e.primitive.inlineProgram) {
        equations.push({
          ...e,
          inputs,
          outputs: e.outputs.map((o) => (rename.get(o) as Var | undefined) ?? o),
        });
        continue;
      }
      const inner = e.primitive.inlineProgram(
        inputs.map((a) => a.aval),
        e.params,
      );
      const innerRename = new Map<Var, Atom>();
      inner.program.constVars.forEach((v, i) => {
        const nv = new Var(v.aval);
        constVars.push(nv);
        allConsts.push(inner.consts[i]!);
        innerRename.set(v, nv);
      });
      inner.program.inputs.forEach((v, i) => innerRename.set(v, inputs[i]!));
      for (const ie of inner.program.equations)
        for (const o of ie.outputs) innerRename.set(o, new Var(o.aval));
      emit(inner.program.equations, innerRename);
      // The call's outputs are the inner program's outputs.
      e.outputs.forEach((o, i) => {
        const src = inner.program.outputs[i]!;
        rename.set(o, src instanceof Var ? (innerRename.get(src) ?? src) : src);
      });
    }
  };
  const top = new Map<Var, Atom>();
  emit(program.equations, top);
  const outputs = program.outputs.map((a) => (a instanceof Var ? (top.get(a) ?? a) : a));
  return { program: new Program(constVars, program.inputs, equations, outputs), consts: allConsts };
}

/**
 * Removes equations none of whose outputs are used, but for those with side effects (a print, a
 * callback, a check: `hasSideEffects`), which run whether or not anything reads their outputs.
 */
export function eliminateDeadCode(p: ClosedProgram): ClosedProgram {
  const live = new Set<Var>();
  for (const o of p.program.outputs) if (o instanceof Var) live.add(o);
  const kept: Equation[] = [];
  for (let i = p.program.equations.length - 1; i >= 0; i--) {
    const e = p.program.equations[i]!;
    if (!e.outputs.some((o) => live.has(o)) && !equationHasEffects(e)) continue;
    kept.push(e);
    for (const a of e.inputs) if (a instanceof Var) live.add(a);
  }
  kept.reverse();
  const constVars: Var[] = [];
  const consts: NdArray[] = [];
  p.program.constVars.forEach((v, i) => {
    if (live.has(v)) {
      constVars.push(v);
      consts.push(p.consts[i]!);
    }
  });
  return { program: new Program(constVars, p.program.inputs, kept, p.program.outputs), consts };
}

function cseKey(params: unknown): string | null {
  try {
    return paramsKey(params);
  } catch {
    return null;
  }
}

/**
 * Merges equations that apply the same primitive with the same params to the same inputs (never two
 * effects: two prints of one value print twice).
 */
export function eliminateCommonSubexpressions(p: ClosedProgram): ClosedProgram {
  const ids = new Map<Var, number>();
  const id = (a: Atom): string => {
    if (a instanceof Literal) {
      const v = a.value.storage[0]!;
      return `L${a.value.dtype}:${Object.is(v, -0) ? "-0" : v}`; // a -0 literal is not a 0 literal
    }
    let n = ids.get(a);
    if (n === undefined) {
      n = ids.size;
      ids.set(a, n);
    }
    return `V${n}`;
  };
  const rename = new Map<Var, Var>();
  const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
  const seen = new Map<string, Equation>();
  const out: Equation[] = [];
  for (const e0 of p.program.equations) {
    const e = { ...e0, inputs: e0.inputs.map(atom) };
    const pk = equationHasEffects(e) ? null : cseKey(e.params);
    if (pk !== null) {
      const key = `${e.primitive.name}|${pk}|${e.inputs.map(id).join(",")}`;
      const prev = seen.get(key);
      if (prev) {
        e.outputs.forEach((o, i) => rename.set(o, prev.outputs[i]!));
        continue;
      }
      seen.set(key, e);
    }
    out.push(e);
  }
  return {
    program: new Program(p.program.constVars, p.program.inputs, out, p.program.outputs.map(atom)),
    consts: p.consts,
  };
}

/**
 * Evaluates equations whose inputs are all scalar literals, replacing them by literals (but effects,
 * which must happen when the plan runs, not when it compiles).
 */
export function foldConstants(p: ClosedProgram): ClosedProgram {
  const rename = new Map<Var, Atom>();
  const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
  const out: Equation[] = [];
  for (const e0 of p.program.equations) {
    const e = { ...e0, inputs: e0.inputs.map(atom) };
    const foldable =
      e.inputs.length > 0 &&
      !e.primitive.inlineProgram &&
      e.inputs.every((a) => a instanceof Literal) &&
      !equationHasEffects(e) &&
      e.outputs.every((o) => sizeOf(o.aval.shape) === 1 && o.aval.shape.length === 0);
    if (foldable) {
      const literals = e.inputs.map((a) => (a as Literal).value);
      const values = isElementwise(e.primitive)
        ? [foldElementwise(e.primitive, literals, e.params)]
        : evalPrimitive(e.primitive, literals, e.params);
      e.outputs.forEach((o, i) => rename.set(o, new Literal(values[i]!)));
      continue;
    }
    out.push(e);
  }
  return {
    program: new Program(p.program.constVars, p.program.inputs, out, p.program.outputs.map(atom)),
    consts: p.consts,
  };
}

/** An elementwise op of scalar literals: its kernel's tree evaluated on their values. */
function foldElementwise(
  p: ElementwisePrimitive<never>,
  literals: readonly ConcreteArray[],
  params: unknown,
): ConcreteArray {
  const tree = p.elementwise.tree(
    literals.map((l) => l.dtype),
    params as never,
  );
  const out = storageFor(tree.dtype, 1);
  out[0] = evaluateExpr(
    tree,
    literals.map((l) => l.storage[0]!),
  );
  return new ConcreteArray([], tree.dtype, out);
}

/**
 * Algebraic clean-up by the rewrite rules that primitives declare (`compiler.rewrites`, see
 * core/compiler-facts.ts): one pass in program order, tracking which values hold one constant in every
 * element (literals, broadcasts of them, results a rule found constant) and which equation computes
 * each value; each equation gets the first rule of its primitive that matches. The rules are exact for
 * every IEEE value, so jit computes what eager computes, bit for bit.
 */
export function simplify(p: ClosedProgram): ClosedProgram {
  const rules = rulesByRoot();
  const rename = new Map<Var, Atom>();
  const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
  const filled = new Map<Var, number>(); // var -> the constant every element holds
  const producers = new Map<Var, Equation>();
  const out: Equation[] = [];
  const constantOf = (a: Atom): number | undefined =>
    a instanceof Literal ? a.value.storage[0] : filled.get(a);
  const producer = (a: Atom): Equation | undefined => (a instanceof Var ? producers.get(a) : undefined);
  const push = (e: Equation): void => {
    out.push(e);
    for (const o of e.outputs) producers.set(o, e);
  };
  const uses = useCounts(p.program);
  /** Applies a rule's rewrite of `e`; false when a constant cannot replace it (the next rule is tried). */
  const apply = (e: Equation, o: Var, r: Rewrite): boolean => {
    if (r.kind === "operand") {
      rename.set(o, r.atom);
      const v = constantOf(r.atom);
      if (v !== undefined && r.atom instanceof Var) filled.set(o, v);
    } else if (r.kind === "constant") {
      if (e.outputs.length !== 1 || !isFloat(o.aval.dtype)) return false;
      const fill = fillEquation(o, r.value);
      push(fill);
      filled.set(o, (fill.inputs[0] as Literal).value.storage[0]!); // rounded to o's dtype
    } else for (const x of r.equations) push(x);
    return true;
  };
  for (const e0 of p.program.equations) {
    const e: Equation = { ...e0, inputs: e0.inputs.map(atom) };
    const o = e.outputs[0];
    const constants = e.inputs.map(constantOf);
    if (o && e.primitive.compiler?.keepsConstant && constants[0] !== undefined) filled.set(o, constants[0]);
    const candidates = o ? rules.get(e.primitive) : undefined;
    const rewritten = candidates?.some((rule) => {
      const m = match(rule, e, o!, constants, producer, uses);
      return m !== null && apply(e, o!, rule.rewrite(m));
    });
    if (!rewritten) push(e);
  }
  return {
    program: new Program(p.program.constVars, p.program.inputs, out, p.program.outputs.map(atom)),
    consts: p.consts,
  };
}

/** The match of `rule` on `e`, or null when an operand pattern or the rule's condition fails. */
function match(
  rule: RewriteRule<unknown>,
  e: Equation,
  output: Var,
  constants: readonly (number | undefined)[],
  producer: (a: Atom) => Equation | undefined,
  uses: ReadonlyMap<Var, number>,
): RewriteMatch<unknown> | null {
  const producers = e.inputs.map(producer);
  const patterns = rule.operands ?? [];
  for (let i = 0; i < patterns.length; i++) {
    const pattern = patterns[i];
    const x = e.inputs[i];
    if (!pattern) continue;
    if (x === undefined) return null;
    const c = constants[i];
    if (
      pattern.constant !== undefined &&
      (c === undefined || (pattern.constant !== "any" && !Object.is(c, pattern.constant)))
    )
      return null;
    if (
      pattern.likeOutput &&
      !(shapeEquals(x.aval.shape, output.aval.shape) && x.aval.dtype === output.aval.dtype)
    )
      return null;
    if (pattern.producedBy && producers[i]?.primitive !== (pattern.producedBy as Primitive<unknown>))
      return null;
    if (pattern.onlyUse && !(x instanceof Var && uses.get(x) === 1)) return null;
  }
  const m: RewriteMatch<unknown> = {
    equation: e,
    params: e.params,
    inputs: e.inputs,
    output,
    constants,
    producers,
    producer,
  };
  return rule.when && !rule.when(m) ? null : m;
}

let ruleIndex: { registered: number; byRoot: Map<Primitive<unknown>, RewriteRule<unknown>[]> } | null = null;

/**
 * Every declared primitive's rewrite rules, keyed by the primitive whose equations they rewrite: the
 * rules other primitives declare about it (`rewritesOf`) first, then its own. Rebuilt when primitives
 * are declared after the last build.
 */
function rulesByRoot(): Map<Primitive<unknown>, RewriteRule<unknown>[]> {
  const registry = primitives();
  if (ruleIndex?.registered === registry.size) return ruleIndex.byRoot;
  const byRoot = new Map<Primitive<unknown>, RewriteRule<unknown>[]>();
  const add = (root: Primitive<unknown>, rule: RewriteRule<unknown>): void => {
    const list = byRoot.get(root);
    if (list) list.push(rule);
    else byRoot.set(root, [rule]);
  };
  const all = [...registry.values()] as Primitive<unknown>[];
  for (const prim of all)
    for (const { root, rule } of prim.compiler?.rewritesOf?.() ?? [])
      add(root as Primitive<unknown>, rule as RewriteRule<unknown>);
  for (const prim of all) for (const rule of prim.compiler?.rewrites?.() ?? []) add(prim, rule);
  ruleIndex = { registered: registry.size, byRoot };
  return byRoot;
}

function useCounts(program: Program): Map<Var, number> {
  const uses = new Map<Var, number>();
  const use = (a: Atom) => {
    if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  };
  for (const e of program.equations) e.inputs.forEach(use);
  program.outputs.forEach(use);
  return uses;
}

/** The whole pipeline, repeated until the program stops shrinking. */
export function optimize(p: ClosedProgram): ClosedProgram {
  let cur = inlineCalls(p);
  for (let round = 0; round < 4; round++) {
    const before = cur.program.equations.length;
    cur = eliminateDeadCode(eliminateCommonSubexpressions(foldConstants(simplify(cur))));
    if (cur.program.equations.length === before) break;
  }
  return cur;
}
