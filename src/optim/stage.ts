/**
 * The atoms optimizers are built from. A `Stage` is one step of an optax chain written over the leaves of
 * the gradient tree: it reads the step count and (if it says so) the params, keeps named buffers shaped
 * like the params, and maps updates to updates. `chainStages` runs stages in order as ONE gradient
 * transformation whose state is a flat record — the step count, an optional hyperparameter record and
 * every stage's buffers under their own names (torch's `exp_avg` is `expAvg`) — so an optimizer's state
 * and checkpoints read as torch's, not as a list of sub-states. A single stage run this way is a
 * stand-alone optax-style atom (`optim.scaleByAdam()`, …).
 */
import { NdArray } from "../core/array.js";
import * as np from "../np.js";
import { leaves, type TreeDef, unflatten } from "../tree/index.js";
import {
  arrayLeaves,
  checkArrayLeaves,
  checkGrads,
  checkUpdateArgs,
  type GradientTransformation,
  type HyperparamRecord,
  nextCount,
  paramLeaves,
  zeroCount,
} from "./common.js";

/** A stage's buffers by state-field name: one array per parameter leaf, or null when the option is off. */
export type Buffers = Readonly<Record<string, readonly NdArray[] | null>>;

/** What a stage may read besides the updates and its buffers. */
export interface StepContext {
  /** `<optimizer>.update`, to name in errors. */
  readonly at: string;
  /** Updates done before this one (int32 scalar; 0 on the first update). */
  readonly count: NdArray;
  /** The params' leaves, when given to update (always, for a stage with `needsParams`). */
  readonly params: readonly NdArray[] | null;
  /** The structure of the gradient tree (for stages with a mask). */
  readonly def: TreeDef;
  /** The params as given to update, else the gradients: what a mask function is called with. */
  readonly tree: unknown;
}

/**
 * What a state field holds: true, a buffer shaped like the params (one array per leaf, checked against
 * the gradients); "tree", one array per leaf of any shape (Adafactor's row statistics); "single", one
 * array for all leaves (NAdam's `muProduct`; its Buffers entry is a one-element list); false, null under
 * this configuration (torch's `momentum_buffer` without momentum). The state keeps all four.
 */
export type FieldKind = boolean | "tree" | "single";

export interface Stage {
  /** The state fields this stage owns, in state order, and what each holds (see FieldKind). */
  readonly fields: Readonly<Record<string, FieldKind>>;
  /** The option that makes the stage read the params (named when they are missing), or null. */
  readonly needsParams: string | null;
  /** Whether it reads the step count (a stand-alone stage then keeps one in its state). */
  readonly usesCount: boolean;
  /** Its buffers for the params' leaves (the kept ones; the others are null). */
  init(params: readonly NdArray[]): Buffers;
  update(updates: readonly NdArray[], buffers: Buffers, step: StepContext): [NdArray[], Buffers];
}

/** `list[i]` of aligned per-leaf lists, where a gap would be a bug here, not bad input. */
export function leafAt<T>(list: readonly T[], i: number): T {
  const x = list[i];
  if (x === undefined) throw new Error(`optim: internal error, no leaf ${i} (of ${list.length})`);
  return x;
}

/** The kept buffer `name` of `buffers`. */
export function buffer(buffers: Buffers, name: string): readonly NdArray[] {
  const b = buffers[name];
  if (b === undefined || b === null) throw new Error(`optim: internal error, no buffer ${name}`);
  return b;
}

/** The params, which a stage with `needsParams` always gets. */
export function paramsOf(step: StepContext): readonly NdArray[] {
  if (step.params === null) throw new Error(`${step.at}: internal error, the params were not passed on`);
  return step.params;
}

/** Zero buffers for the params' leaves. */
export function zerosFor(params: readonly NdArray[]): NdArray[] {
  return params.map((p) => np.zerosLike(p));
}

/** A stage of no buffers mapping each update leaf (with its index) by `f`. */
export function leafwise(
  f: (u: NdArray, i: number, step: StepContext) => NdArray,
  options: { needsParams?: string | null; usesCount?: boolean } = {},
): Stage {
  return {
    fields: {},
    needsParams: options.needsParams ?? null,
    usesCount: options.usesCount ?? false,
    init: () => ({}),
    update: (updates, _buffers, step) => [updates.map((u, i) => f(u, i, step)), {}],
  };
}

/** A stage's field as the state holds it: a tree of the params' structure, one array, or null. */
function toField(
  keep: FieldKind,
  b: readonly NdArray[] | null | undefined,
  def: ReturnType<typeof arrayLeaves>[1],
): unknown {
  if (keep === false || b === undefined || b === null) return null;
  return keep === "single" ? leafAt(b, 0) : unflatten(def, [...b]);
}

/** A state field as a stage reads it; "tree" and "single" fields are checked here (grads check the rest). */
function readField(
  at: string,
  name: string,
  keep: FieldKind,
  value: unknown,
  leafCount: number,
): NdArray[] | null {
  if (keep === false) return null;
  if (keep === "single") {
    if (!(value instanceof NdArray)) throw new TypeError(`${at}: the state's ${name} is not an array`);
    return [value];
  }
  const [list] = arrayLeaves(value);
  if (keep === "tree" && (list.length !== leafCount || !list.every((x) => x instanceof NdArray))) {
    throw new TypeError(`${at}: the state's ${name} must hold one array per gradient leaf (${leafCount})`);
  }
  return list;
}

/** The state of a chain of stages: a step count, the hyperparameter record if any, the stages' buffers. */
type FlatState = Record<string, unknown> & { count: NdArray };

/**
 * Runs `stages` in order as one gradient transformation named `who` (`adam`): its state is
 * `{ count, hyperparams?, ...every stage's fields }`, or null when no stage keeps anything. Before any
 * stage runs, `update` checks its arguments as one optimizer: grads present, the state's fields, grads
 * against the params (if given) and against every kept buffer, the params when a stage needs them —
 * so errors name `who` and the first differing path.
 */
export function chainStages<S>(
  who: string,
  stages: readonly Stage[],
  hyperparams?: HyperparamRecord<string>,
): GradientTransformation<S> {
  const fieldOrder = stages.flatMap((s) => Object.entries(s.fields));
  const names = fieldOrder.map(([name]) => name);
  if (new Set(names).size !== names.length || names.includes("count") || names.includes("hyperparams")) {
    throw new Error(`${who}: internal error, stage fields collide: ${names.join(", ")}`);
  }
  const kept = fieldOrder.filter(([, keep]) => keep !== false).map(([name]) => name);
  const perLeaf = fieldOrder.filter(([, keep]) => keep === true).map(([name]) => name);
  const stateful = hyperparams !== undefined || stages.some((s) => s.usesCount || kept.length > 0);
  const required = stateful ? ["count", ...kept] : [];
  const paramsFor = stages.find((s) => s.needsParams !== null)?.needsParams ?? null;
  const initName = `${who}(...).init(params)`;
  return {
    init(params) {
      if (!stateful) return null as S;
      const state: FlatState = { count: zeroCount() };
      if (hyperparams !== undefined) state["hyperparams"] = hyperparams;
      if (names.length === 0) return state as S;
      checkArrayLeaves(`${who}.init`, params);
      const [p, def] = arrayLeaves(params);
      for (const stage of stages) {
        const buffers = stage.init(p);
        for (const [name, keep] of Object.entries(stage.fields))
          state[name] = toField(keep, buffers[name], def);
      }
      return state as S;
    },
    update(grads, state, params) {
      const at = `${who}.update`;
      checkUpdateArgs(at, grads, state, required, initName);
      if (params !== undefined) checkGrads(at, grads, params, "params");
      const flat = (state ?? {}) as FlatState;
      for (const name of perLeaf) checkGrads(at, grads, flat[name], "optimizer state");
      if (perLeaf.length === 0) checkArrayLeaves(at, grads);
      const [g, def] = arrayLeaves(grads);
      const p =
        paramsFor !== null
          ? paramLeaves(at, grads, params, paramsFor)
          : params !== undefined
            ? leaves<NdArray>(params)
            : null;
      const count = stateful ? flat.count : zeroCount();
      const step: StepContext = { at, count, params: p, def, tree: params ?? grads };
      let updates: NdArray[] = g;
      const next: FlatState = { count: nextCount(count) };
      if (hyperparams !== undefined) next["hyperparams"] = flat["hyperparams"];
      for (const stage of stages) {
        const buffers: Record<string, NdArray[] | null> = {};
        for (const [name, keep] of Object.entries(stage.fields)) {
          buffers[name] = readField(at, name, keep, flat[name], g.length);
        }
        const [u, nextBuffers] = stage.update(updates, buffers, step);
        updates = u;
        for (const [name, keep] of Object.entries(stage.fields))
          next[name] = toField(keep, nextBuffers[name], def);
      }
      return [unflatten(def, updates), (stateful ? next : null) as S];
    },
  };
}
