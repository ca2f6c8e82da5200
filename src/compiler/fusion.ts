/**
 * Loop fusion: elementwise equations of one output shape, with the broadcasts that feed them, become
 * one generated loop over the output. A group stays open while none of its values is needed outside
 * it; the first outside use closes it, so the group runs before that use.
 */
import { cachedKernel } from "../backend/kernel-cache.js";
import { BYTES_PER_ELEMENT } from "../core/dtype.js";
import { children, type Expr } from "../core/expr.js";
import { type Atom, type Equation, Literal, Var } from "../core/ir.js";
import { type Shape, shapeEquals, sizeOf, stridesOf } from "../core/shape.js";
import { isElementwise } from "../ops/elementwise-kit.js";
import { jsLiteral, kernelLib, renderJs } from "../ops/expr-js.js";

export interface FusedGroup {
  kind: "fused";
  shape: Shape;
  equations: Equation[];
  /** Values read from outside the group. */
  inputs: Var[];
  /** Values of the group used after it (or program outputs). */
  outputs: Var[];
  /**
   * A reduction that consumes one of the loop's values, accumulated inside the loop (its output is
   * among `outputs`; the reduced value itself is never stored).
   */
  reduction?: Equation;
}

/** Whether the equation is a broadcast a fused loop reads as an indexed load (its `fusion` fact). */
export function isFusedBroadcast(e: Equation): boolean {
  return e.primitive.compiler?.fusion?.kind === "broadcast";
}

/** The monoid of a reduction a fused loop can accumulate (its `fusion` fact), else null. */
export function fusedReductionMonoid(e: Equation): "sum" | "max" | "min" | null {
  const fact = e.primitive.compiler?.fusion;
  return fact?.kind === "reduction" ? fact.monoid : null;
}

export interface EquationStep {
  kind: "eqn";
  equation: Equation;
}

export type Step = FusedGroup | EquationStep;

function fusible(e: Equation): boolean {
  if (isElementwise(e.primitive)) return true;
  // A broadcast is fused into the loop that consumes it, as an indexed load.
  return isFusedBroadcast(e);
}

/** Groups fusible equations; returns steps in an order that respects every dependency. */
export function fuse(equations: readonly Equation[], programOutputs: readonly Atom[]): Step[] {
  const steps: Step[] = [];
  const groupOf = new Map<Var, FusedGroup>();
  const open = new Set<FusedGroup>();
  const close = (g: FusedGroup): void => {
    if (!open.has(g)) return;
    open.delete(g);
    steps.push(g);
  };
  const uses = new Map<Var, number>();
  for (const e of equations)
    for (const a of e.inputs) if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  for (const a of programOutputs) if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  for (const e of equations) {
    const first = e.outputs[0];
    if (first === undefined) {
      // An equation with no outputs (an effect: a print, a callback) runs on its own, in program order.
      for (const a of e.inputs) if (a instanceof Var && groupOf.has(a)) close(groupOf.get(a)!);
      steps.push({ kind: "eqn", equation: e });
      continue;
    }
    const shape = first.aval.shape;
    // A reduction of a loop value that nothing else reads is accumulated by that loop.
    const source = e.inputs[0];
    const producer = source instanceof Var ? groupOf.get(source) : undefined;
    if (
      fusedReductionMonoid(e) !== null &&
      producer &&
      open.has(producer) &&
      !producer.reduction &&
      uses.get(source as Var) === 1
    ) {
      producer.reduction = e;
      groupOf.set(e.outputs[0]!, producer);
      close(producer);
      continue;
    }
    const inputGroups = new Set<FusedGroup>();
    for (const a of e.inputs) if (a instanceof Var && groupOf.has(a)) inputGroups.add(groupOf.get(a)!);
    if (fusible(e) && e.outputs.length === 1 && sizeOf(shape) > 0) {
      const isBroadcast = isFusedBroadcast(e);
      // A broadcast joins a group only as a load of an outside value.
      let target: FusedGroup | undefined;
      if (!isBroadcast)
        for (const g of inputGroups) if (open.has(g) && shapeEquals(g.shape, shape)) target = g;
      if (!target) for (const g of open) if (shapeEquals(g.shape, shape)) target = g;
      for (const g of inputGroups) if (g !== target || isBroadcast) close(g);
      if (target && isBroadcast && inputGroups.has(target)) target = undefined;
      if (!target) {
        target = { kind: "fused", shape, equations: [], inputs: [], outputs: [] };
        open.add(target);
      }
      target.equations.push(e);
      groupOf.set(e.outputs[0]!, target);
      continue;
    }
    for (const g of inputGroups) close(g);
    steps.push({ kind: "eqn", equation: e });
  }
  for (const g of [...open]) close(g);
  recomputeCheapBroadcasts(steps, groupOf);
  setInputsAndOutputs(steps, groupOf, programOutputs);
  if (recomputeCheapValues(steps, groupOf)) setInputsAndOutputs(steps, groupOf, programOutputs);
  return steps;
}

/** Each group's inputs (values read from outside it) and outputs (its values used after it). */
function setInputsAndOutputs(
  steps: readonly Step[],
  groupOf: ReadonlyMap<Var, FusedGroup>,
  programOutputs: readonly Atom[],
): void {
  const usedOutside = new Set<Var>();
  for (const s of steps) {
    const eqns = s.kind === "fused" ? s.equations : [s.equation];
    const local = new Set(s.kind === "fused" ? s.equations.map((e) => e.outputs[0]!) : []);
    for (const e of eqns) for (const a of e.inputs) if (a instanceof Var && !local.has(a)) usedOutside.add(a);
  }
  for (const a of programOutputs) if (a instanceof Var) usedOutside.add(a);
  for (const s of steps) {
    if (s.kind !== "fused") continue;
    const defined = new Set(s.equations.map((e) => e.outputs[0]!));
    const ins = new Set<Var>();
    for (const e of s.equations)
      for (const a of e.inputs) if (a instanceof Var && !defined.has(a)) ins.add(a);
    s.inputs = [...ins];
    // A recomputed broadcast is stored (if at all) by the loop it came from.
    s.outputs = s.equations
      .map((e) => e.outputs[0]!)
      .filter((v) => usedOutside.has(v) && groupOf.get(v) === s);
    if (s.reduction) s.outputs.push(s.reduction.outputs[0]!);
  }
}

/** Expression nodes a loop recomputes rather than store and load: a few cycles a vector at most. */
const CHEAP_NODES: ReadonlySet<string> = new Set([
  "input",
  "const",
  "add",
  "sub",
  "mul",
  "neg",
  "abs",
  "max",
  "min",
  "select",
  "not",
  "and",
  "or",
  "eq",
  "ne",
  "lt",
  "le",
  "gt",
  "ge",
]);

function cheapTree(e: Expr): boolean {
  return CHEAP_NODES.has(e.op) && children(e).every(cheapTree);
}

/** Whether the equation's value costs less to recompute in a loop than to store and load. */
function cheap(e: Equation): boolean {
  if (isFusedBroadcast(e)) return true;
  if (!isElementwise(e.primitive)) return false;
  const tree = e.primitive.elementwise.tree(
    e.inputs.map((a) => a.aval.dtype),
    e.params as never,
  );
  return cheapTree(tree);
}

/**
 * A loop that reads a value another loop of its shape computes with a few additions and multiplications
 * (GELU's and layer norm's intermediates, which reverse mode keeps for the backward pass) computes it again
 * from what it was computed from, where those are in memory anyway: the producing loop then stores one
 * array fewer and this one loads one fewer (or as many). Values are the same bits (the same equations).
 * Returns whether a loop changed.
 */
function recomputeCheapValues(steps: readonly Step[], groupOf: ReadonlyMap<Var, FusedGroup>): boolean {
  const producer = new Map<Var, Equation>();
  /** Values no step keeps only in registers: stored ones, and the program's inputs. */
  const unstored = new Set<Var>();
  for (const s of steps) {
    if (s.kind !== "fused") continue;
    for (const e of s.equations) if (groupOf.get(e.outputs[0]!) === s) producer.set(e.outputs[0]!, e);
    for (const e of s.equations) unstored.add(e.outputs[0]!);
    for (const v of s.outputs) unstored.delete(v);
  }
  const stored = { has: (v: Var) => !unstored.has(v) };
  let changed = false;
  for (const h of steps) {
    if (h.kind !== "fused") continue;
    const reads = new Set<Var>(h.inputs);
    const copies: Equation[] = [];
    const copied = new Set<Var>();
    // Whether v can be computed here from values in memory (memoized: chains share their values).
    const memo = new Map<Var, boolean>();
    const can = (v: Var): boolean => {
      const known = memo.get(v);
      if (known !== undefined) return known;
      memo.set(v, false); // (no cycles: a value's inputs come before it)
      const e = producer.get(v);
      const g = groupOf.get(v);
      const ok =
        e !== undefined &&
        g !== undefined &&
        g !== h &&
        shapeEquals(v.aval.shape, h.shape) &&
        cheap(e) &&
        e.inputs.every((a) => !(a instanceof Var) || isFusedBroadcast(e) || stored.has(a) || can(a));
      memo.set(v, ok);
      return ok;
    };
    /** The equations computing v (appended in dependency order) and the values in memory they read. */
    const collect = (v: Var, eqns: Equation[], leaves: Set<Var>, seen: Set<Var>): void => {
      const e = producer.get(v)!;
      for (const a of e.inputs) {
        if (!(a instanceof Var)) continue;
        // A broadcast's source, or a value in memory this loop cannot compute: read it.
        if (isFusedBroadcast(e) || !can(a)) leaves.add(a);
        else if (!seen.has(a)) {
          seen.add(a);
          collect(a, eqns, leaves, seen);
        }
      }
      eqns.push(e);
    };
    // Bytes a loop step loads: a new leaf costs its element's bytes unless it is a broadcast's smaller
    // source (a bias: a few cache lines). A bool mask (1 byte) is not worth replacing by a float (4).
    const loadBytes = (vs: Iterable<Var>): number =>
      [...vs]
        .filter((a) => !reads.has(a) && sizeOf(a.aval.shape) === sizeOf(h.shape))
        .reduce((n, a) => n + BYTES_PER_ELEMENT[a.aval.dtype], 0);
    const accept = (eqns: readonly Equation[], leaves: Iterable<Var>): void => {
      for (const e of eqns) {
        if (copied.has(e.outputs[0]!)) continue;
        copies.push(e);
        copied.add(e.outputs[0]!);
      }
      for (const a of leaves) reads.add(a);
    };
    const candidates = h.inputs.filter(can).map((v) => {
      const eqns: Equation[] = [];
      const leaves = new Set<Var>();
      collect(v, eqns, leaves, new Set([v]));
      return { v, eqns, leaves };
    });
    const saved = (vs: readonly Var[]): number => vs.reduce((n, v) => n + BYTES_PER_ELEMENT[v.aval.dtype], 0);
    // All of them if the loads do not grow (the values' own loads go); else one by one.
    const allLeaves = new Set(candidates.flatMap((c) => [...c.leaves]));
    if (candidates.length > 0 && loadBytes(allLeaves) <= saved(candidates.map((c) => c.v)))
      accept(
        candidates.flatMap((c) => c.eqns),
        allLeaves,
      );
    else
      for (const c of candidates) {
        if (c.eqns.every((e) => copied.has(e.outputs[0]!))) continue;
        if (loadBytes(c.leaves) <= saved([c.v])) accept(c.eqns, c.leaves);
      }
    if (copies.length === 0) continue;
    // The copies first, in dependency order (each copy's inputs are loop inputs or earlier copies).
    h.equations.unshift(...copies);
    changed = true;
  }
  return changed;
}

/**
 * A broadcast of a literal or a one-element value (a `zeros_like`, a scalar scale) costs nothing to
 * recompute, so a later loop of the same shape that reads it gets its own copy of the broadcast instead of
 * the producing loop storing a full-size array for it (ReLU's zeros, read again by its backward pass).
 */
function recomputeCheapBroadcasts(steps: readonly Step[], groupOf: ReadonlyMap<Var, FusedGroup>): void {
  const cheap = new Map<Var, Equation>();
  for (const s of steps) {
    if (s.kind !== "fused") continue;
    for (const e of s.equations) {
      const x = e.inputs[0];
      if (isFusedBroadcast(e) && (x instanceof Literal || sizeOf(x!.aval.shape) === 1))
        cheap.set(e.outputs[0]!, e);
    }
  }
  for (const s of steps) {
    if (s.kind !== "fused") continue;
    const copies: Equation[] = [];
    for (const e of s.equations) {
      for (const a of e.inputs) {
        const b = a instanceof Var ? cheap.get(a) : undefined;
        if (
          b &&
          groupOf.get(a as Var) !== s &&
          !copies.includes(b) &&
          shapeEquals(s.shape, b.outputs[0]!.aval.shape)
        )
          copies.push(b);
      }
    }
    s.equations.unshift(...copies);
  }
}

function literalCode(l: Literal): string {
  return jsLiteral(l.value.storage[0]!);
}

/** The expression for output coordinate `d` of the loop. */
type Coordinate = (d: number) => string;

/** Coordinates computed from the flat index `i` (divisions: for flat loops). */
function flatCoordinates(shape: Shape): Coordinate {
  const strides = stridesOf(shape);
  return (d) =>
    d === 0
      ? `((i / ${strides[0]}) | 0)`
      : strides[d] === 1
        ? `(i % ${shape[d]})`
        : `(((i / ${strides[d]}) | 0) % ${shape[d]})`;
}

/** The flat index into a broadcast input at the loop's current coordinates. */
function broadcastIndex(inShape: Shape, dims: readonly number[], coord: Coordinate): string {
  const inStrides = stridesOf(inShape);
  const terms: string[] = [];
  dims.forEach((d, j) => {
    if (inShape[j] === 1) return;
    terms.push(inStrides[j] === 1 ? coord(d) : `${coord(d)} * ${inStrides[j]}`);
  });
  return terms.length ? terms.join(" + ") : "0";
}

export type FusedKernel = (buffers: readonly ArrayLike<number>[]) => void;

/**
 * Generates the loop of a group. `slot(v)` gives the buffer-table index of an input or output value.
 * Returns the function and its source (shown by jit's lower().toString()).
 */
export function generateFusedKernel(
  group: FusedGroup,
  slot: (v: Var) => number,
): { run: FusedKernel; source: string } {
  const n = sizeOf(group.shape);
  const rank = group.shape.length;
  // Broadcast loads and partial reductions index by coordinates: nested loops give them without divisions.
  const broadcastLoad = group.equations.some(
    (e) => isFusedBroadcast(e) && e.inputs[0] instanceof Var && sizeOf(e.inputs[0].aval.shape) > 1,
  );
  const partialReduction =
    group.reduction !== undefined &&
    (group.reduction.params as { axes: readonly number[] }).axes.length < rank;
  const nested = rank >= 2 && (broadcastLoad || partialReduction);
  const coord: Coordinate = nested ? (d) => `i${d}` : flatCoordinates(group.shape);
  const names = new Map<Var, string>();
  const header: string[] = [];
  const body: string[] = [];
  const inputIndex = new Map<Var, number>();
  group.inputs.forEach((v, k) => {
    header.push(`const in${k} = b[${slot(v)}];`);
    inputIndex.set(v, k);
    if (sizeOf(v.aval.shape) === 1 && !shapeEquals(v.aval.shape, group.shape)) {
      header.push(`const s${k} = in${k}[0];`);
      names.set(v, `s${k}`);
    } else if (shapeEquals(v.aval.shape, group.shape)) {
      body.push(`const x${k} = in${k}[i];`);
      names.set(v, `x${k}`);
    }
  });
  const ref = (a: Atom): string => {
    if (a instanceof Literal) return literalCode(a);
    const nm = names.get(a);
    if (nm === undefined)
      throw new Error(
        `fusion: value ${a.aval.dtype}${JSON.stringify(a.aval.shape)} is not available in the loop`,
      );
    return nm;
  };
  group.equations.forEach((e, k) => {
    const out = e.outputs[0]!;
    const name = `t${k}`;
    if (isFusedBroadcast(e)) {
      const src = e.inputs[0]!;
      const { broadcastDimensions } = e.params as { broadcastDimensions: number[] };
      if (src instanceof Literal) body.push(`const ${name} = ${literalCode(src)};`);
      else if (sizeOf(src.aval.shape) === 1) body.push(`const ${name} = ${ref(src)};`);
      else {
        const k2 = inputIndex.get(src)!;
        body.push(`const ${name} = in${k2}[${broadcastIndex(src.aval.shape, broadcastDimensions, coord)}];`);
      }
    } else {
      // Every node of the tree rounds to its dtype (float32) or wraps (int32), as eager's kernel computes
      // it, so the loop gives eager's bits (doubles would differ: floor((1 + 0.285) * 1000)).
      if (!isElementwise(e.primitive)) throw new Error(`fusion: ${e.primitive.name} is not elementwise`);
      const tree = e.primitive.elementwise.tree(
        e.inputs.map((a) => a.aval.dtype),
        e.params as never,
      );
      const { statements, value } = renderJs(tree, e.inputs.map(ref), `${name}_`);
      body.push(...statements, `const ${name} = ${value};`);
    }
    names.set(out, name);
  });
  const footer: string[] = [];
  group.outputs.forEach((v, k) => {
    header.push(`const out${k} = b[${slot(v)}];`);
    if (group.reduction && v === group.reduction.outputs[0]) {
      const r = reductionCode(
        group.reduction,
        names.get(group.reduction.inputs[0] as Var)!,
        `out${k}`,
        coord,
      );
      header.push(r.before);
      body.push(r.step);
      footer.push(r.after);
    } else body.push(`out${k}[i] = ${names.get(v)};`);
  });
  let loop: string;
  if (nested) {
    loop = `${body.join("\n  ")}\n  i++;`;
    for (let d = rank - 1; d >= 0; d--)
      loop = `for (let i${d} = 0; i${d} < ${group.shape[d]}; i${d}++) {\n  ${loop}\n}`;
    loop = `let i = 0;\n${loop}`;
  } else loop = `for (let i = 0; i < ${n}; i++) {\n  ${body.join("\n  ")}\n}`;
  const source = `${header.join("\n")}\n${loop}\n${footer.join("\n")}`;
  // The accumulator of a partial reduction is float64 scratch, allocated once with the kernel.
  const scratch = group.reduction ? new Float64Array(sizeOf(group.reduction.outputs[0]!.aval.shape)) : null;
  const run = kernelFactory(source)(kernelLib, scratch);
  return { run, source };
}

type KernelFactory = (lib: typeof kernelLib, acc: Float64Array | null) => FusedKernel;
/** Compiled loops by source (kernel cache): plans of the same shapes (retraces, f and its gradient) share them. */
function kernelFactory(source: string): KernelFactory {
  return cachedKernel(
    `js fused ${source}`,
    () => new Function("lib", "acc", `return function fused(b) {\n${source}\n};`) as KernelFactory,
  );
}

/** Code that accumulates `value` into reduction output `out`: setup, per-element step, and final store. */
function reductionCode(
  eqn: Equation,
  value: string,
  out: string,
  coord: Coordinate,
): { before: string; step: string; after: string } {
  const op = fusedReductionMonoid(eqn);
  if (op === null) throw new Error(`fusion: ${eqn.primitive.name} is not a fusable reduction`);
  const inShape = eqn.inputs[0]!.aval.shape;
  const axes = (eqn.params as { axes: readonly number[] }).axes;
  const init = op === "sum" ? "0" : op === "max" ? "-Infinity" : "Infinity";
  const combine = (target: string) =>
    op === "sum"
      ? `${target} += ${value};`
      : `if (${value} ${op === "max" ? ">" : "<"} ${target} || ${value} !== ${value}) ${target} = ${value};`;
  if (axes.length === inShape.length) {
    // A full reduction accumulates in a local.
    return { before: `let total = ${init};`, step: combine("total"), after: `${out}[0] = total;` };
  }
  const outSize = sizeOf(inShape.filter((_, i) => !axes.includes(i)));
  return {
    before: `acc.fill(${init});`,
    step: combine(`acc[${reducedIndex(inShape, axes, coord)}]`),
    after: `for (let j = 0; j < ${outSize}; j++) ${out}[j] = acc[j];`,
  };
}

/** The flat index into the reduced output at the loop's current coordinates. */
function reducedIndex(inShape: Shape, axes: readonly number[], coord: Coordinate): string {
  const kept = inShape.map((_, i) => i).filter((i) => !axes.includes(i));
  const outStrides = stridesOf(kept.map((i) => inShape[i]!));
  const terms = kept
    .map((axis, j) => {
      if (inShape[axis] === 1) return null;
      return outStrides[j] === 1 ? coord(axis) : `${coord(axis)} * ${outStrides[j]}`;
    })
    .filter((t): t is string => t !== null);
  return terms.length ? terms.join(" + ") : "0";
}
