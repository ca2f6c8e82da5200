/**
 * Containers: `sequential` (torch.nn.Sequential) and `named` (a custom nn.Module with named sub-layers and
 * a forward function). Their params and state are objects keyed by child name ("0", "1", ... for
 * sequential); children without parameters get no key, so the paths are PyTorch's state_dict keys
 * (Sequential(Linear, Sigmoid, Linear) has "0.weight", "0.bias", "2.weight", "2.bias").
 *
 * Keys: init splits its key into one per child, in order (parameterless children included); apply does
 * the same with the training key, so every dropout gets its own randomness.
 */
import { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { foldIn } from "../random/index.js";
import { joinPath } from "../tree/treedef.js";
import {
  defineLayer,
  emptyTree,
  type ForwardContext,
  hasLeaves,
  type Key,
  type Layer,
  type ParamsOf,
  type ParamTree,
  type SpecTree,
  type StateOf,
  splitKeys,
} from "./layer.js";

type Empty = null | Record<string, never>;

/** The params of a `named` model: one entry per child that has parameters. */
export type NamedParams<L extends Record<string, Layer>> = {
  [K in keyof L as ParamsOf<L[K]> extends Empty ? never : K]: ParamsOf<L[K]>;
};
/** The state of a `named` model: one entry per child that has state. */
export type NamedState<L extends Record<string, Layer>> = {
  [K in keyof L as StateOf<L[K]> extends Empty ? never : K]: StateOf<L[K]>;
};

/** The params of a sequential: keyed by the index of each child that has parameters. */
export type SequentialParams<Ls extends readonly Layer[]> = {
  [I in keyof Ls as I extends `${number}` ? (ParamsOf<Ls[I]> extends Empty ? never : I) : never]: ParamsOf<
    Ls[I]
  >;
};
/** The state of a sequential: keyed by the index of each child that has state. */
export type SequentialState<Ls extends readonly Layer[]> = {
  [I in keyof Ls as I extends `${number}` ? (StateOf<Ls[I]> extends Empty ? never : I) : never]: StateOf<
    Ls[I]
  >;
};

/** Sub-layers inside a `named` forward function: call one on an input to apply it with its params. */
export type BoundLayers<L> = { readonly [K in keyof L]: (x: NdArray) => NdArray };

/** What a `named` forward function receives besides its input. */
export interface ModelContext {
  /** Training mode (see ApplyOptions.train). */
  readonly train: boolean;
  /** A key of the model's own (distinct from its children's) in training mode with a key; else undefined. */
  readonly key: Key | undefined;
}

type Entries = readonly (readonly [string, Layer])[];

/** Params or state of the children that have any, keyed by child name. */
function childSpecs(entries: Entries, specOf: (child: Layer) => SpecTree): SpecTree {
  const out: Record<string, SpecTree> = {};
  for (const [name, child] of entries) {
    const s = specOf(child);
    if (hasLeaves(s)) out[name] = s;
  }
  return out;
}

/**
 * Runs children over one forward call: `call(i, x)` applies child i with its params and current state
 * and a key of its own, and records its new state.
 */
function childRunner(
  entries: Entries,
  params: ParamTree,
  state: ParamTree,
  ctx: ForwardContext,
  extraKeys: number,
) {
  const keys = ctx.key === undefined ? undefined : splitKeys(ctx.key, entries.length + extraKeys);
  const paramsByName = (params ?? {}) as Record<string, ParamTree>;
  const newState: Record<string, ParamTree> = { ...((state ?? {}) as Record<string, ParamTree>) };
  const calls = new Array<number>(entries.length).fill(0);
  const call = (i: number, x: NdArray): NdArray => {
    const [name, child] = entries[i]!;
    // A child used twice (weight sharing) gets a fresh key per call.
    const key = keys === undefined ? undefined : calls[i] === 0 ? keys[i] : foldIn(keys[i]!, calls[i]!);
    calls[i]! += 1;
    const childParams = name in paramsByName ? paramsByName[name]! : emptyTree(child.paramSpec());
    const childState = name in newState ? newState[name]! : emptyTree(child.stateSpec());
    const out = child.forward(childParams, childState, x, {
      train: ctx.train,
      key,
      path: joinPath(ctx.path, name),
    });
    if (child.hasState) newState[name] = out.state;
    return out.y;
  };
  return { call, newState, ownKey: keys?.[entries.length] };
}

function containerLayer<P extends ParamTree, S extends ParamTree>(
  repr: string,
  entries: Entries,
  run: (runner: ReturnType<typeof childRunner>, x: NdArray, ctx: ForwardContext) => NdArray,
  extraKeys: number,
): Layer<P, S> {
  return defineLayer<P, S>({
    name: repr,
    repr,
    children: entries,
    paramSpec: (dtype) => childSpecs(entries, (c) => c.paramSpec(dtype)),
    init(key, dtype) {
      const keys = splitKeys(key, Math.max(entries.length, 1));
      const params: Record<string, ParamTree> = {};
      entries.forEach(([name, child], i) => {
        if (hasLeaves(child.paramSpec(dtype))) params[name] = child.init(keys[i]!, { dtype });
      });
      return params as P;
    },
    stateSpec: (dtype) => childSpecs(entries, (c) => c.stateSpec(dtype)),
    initState(dtype) {
      const state: Record<string, ParamTree> = {};
      for (const [name, child] of entries) if (child.hasState) state[name] = child.initState({ dtype });
      return state as S;
    },
    forward(params, state, x, ctx) {
      const runner = childRunner(entries, params, state, ctx, extraKeys);
      const y = run(runner, x, ctx);
      return { y, state: runner.newState as S };
    },
  });
}

/** torch.nn.Sequential: applies the layers in order; params keyed "0", "1", ... (parameterless skipped). */
export function sequential<const Ls extends readonly Layer[]>(
  ...layers: Ls
): Layer<SequentialParams<Ls>, SequentialState<Ls>> {
  const entries: Entries = layers.map((l, i) => [String(i), l] as const);
  return containerLayer(
    "Sequential",
    entries,
    (runner, x) => layers.reduce((h, _, i) => runner.call(i, h), x),
    0,
  );
}

/**
 * A model with named sub-layers and a forward function, like a torch.nn.Module subclass:
 *
 *     const lenet = layers.named(
 *       { conv1: layers.conv2d(1, 6, 5), fc1: layers.linear(400, 120), ... },
 *       (m, x) => m.fc1(nn.relu(m.conv1(x)).flatten(1)),
 *       { name: "Net" },
 *     );
 *
 * The params tree is `{ conv1: { weight, bias }, fc1: {...}, ... }`. Inside `forward`, `m.conv1(x)`
 * applies conv1 with its params, the mode, its own key and state; `ctx.key` is a key for the forward
 * function's own randomness.
 */
export function named<L extends Record<string, Layer>>(
  layers: L,
  forward: (layers: BoundLayers<L>, x: NdArray, ctx: ModelContext) => NdArray,
  options: { name?: string } = {},
): Layer<NamedParams<L>, NamedState<L>> {
  checkOptions("named", options, ["name"]);
  const entries: Entries = Object.entries(layers);
  const name = options.name ?? "Model";
  return containerLayer(
    name,
    entries,
    (runner, x, ctx) => {
      const bound: Record<string, (x: NdArray) => NdArray> = {};
      entries.forEach(([childName], i) => {
        bound[childName] = (input) => runner.call(i, input);
      });
      const y = forward(bound as BoundLayers<L>, x, { train: ctx.train, key: runner.ownKey });
      if (!(y instanceof NdArray))
        throw new TypeError(`${name}: the forward function must return an array, got ${typeof y}`);
      return y;
    },
    1,
  );
}
