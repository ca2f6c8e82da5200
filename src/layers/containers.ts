/**
 * Containers: `sequential` (torch.nn.Sequential) and `named` (a custom nn.Module with named sub-layers and
 * a forward function). Their params and state are objects keyed by child name ("0", "1", ... for
 * sequential); children without parameters get no key, so the paths are PyTorch's state_dict keys
 * (Sequential(Linear, Sigmoid, Linear) has "0.weight", "0.bias", "2.weight", "2.bias").
 *
 * Keys: init splits its key into one per child, in order (parameterless children included); apply does
 * the same with the training key, so every dropout gets its own randomness.
 *
 * `sequential` chains layers of one array in and one array out; a model with other inputs or outputs (an
 * LSTM's carry, attention's query/key/value) is a `named` model with `inputs` and an explicit forward.
 */
import { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { foldIn } from "../random/index.js";
import { joinPath } from "../tree/treedef.js";
import {
  type AnyLayer,
  defineLayer,
  emptyTree,
  type ForwardContext,
  hasLeaves,
  type Inputs,
  type InputsOf,
  type Key,
  type Layer,
  type OutputOf,
  type ParamsOf,
  type ParamTree,
  type SingleArrayLayer,
  type SpecTree,
  type StateOf,
  splitKeys,
} from "./layer.js";

type Empty = null | Record<string, never>;

/** The params of a `named` model: one entry per child that has parameters. */
export type NamedParams<L extends Record<string, AnyLayer>> = {
  [K in keyof L as ParamsOf<L[K]> extends Empty ? never : K]: ParamsOf<L[K]>;
};
/** The state of a `named` model: one entry per child that has state. */
export type NamedState<L extends Record<string, AnyLayer>> = {
  [K in keyof L as StateOf<L[K]> extends Empty ? never : K]: StateOf<L[K]>;
};

/** The params of a sequential: keyed by the index of each child that has parameters. */
export type SequentialParams<Ls extends readonly SingleArrayLayer[]> = {
  [I in keyof Ls as I extends `${number}` ? (ParamsOf<Ls[I]> extends Empty ? never : I) : never]: ParamsOf<
    Ls[I]
  >;
};
/** The state of a sequential: keyed by the index of each child that has state. */
export type SequentialState<Ls extends readonly SingleArrayLayer[]> = {
  [I in keyof Ls as I extends `${number}` ? (StateOf<Ls[I]> extends Empty ? never : I) : never]: StateOf<
    Ls[I]
  >;
};

/**
 * Sub-layers inside a `named` forward function: call one on its inputs to apply it with its params
 * (`m.fc1(x)`, `m.lstm(x, [h0, c0])`).
 */
export type BoundLayers<L> = { readonly [K in keyof L]: (...inputs: InputsOf<L[K]>) => OutputOf<L[K]> };

/** What a `named` forward function receives besides its input. */
export interface ModelContext {
  /** Training mode (see ApplyOptions.train). */
  readonly train: boolean;
  /** A key of the model's own (distinct from its children's) in training mode with a key; else undefined. */
  readonly key: Key | undefined;
}

type Entries = readonly (readonly [string, AnyLayer])[];

/** Params or state of the children that have any, keyed by child name. */
function childSpecs(entries: Entries, specOf: (child: AnyLayer) => SpecTree): SpecTree {
  const out: Record<string, SpecTree> = {};
  for (const [name, child] of entries) {
    const s = specOf(child);
    if (hasLeaves(s)) out[name] = s;
  }
  return out;
}

/**
 * Runs children over one forward call: `call(i, inputs)` applies child i with its params and current
 * state and a key of its own, and records its new state.
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
  const call = (i: number, inputs: readonly unknown[]): unknown => {
    const [name, child] = entries[i]!;
    const slots = child.inputNames.length + (child.callOptions.length > 0 ? 1 : 0);
    if (inputs.length < child.requiredInputs || inputs.length > slots) {
      throw new TypeError(
        `${joinPath(ctx.path, name)} (${child.name}): expected inputs (${child.inputNames.join(", ")})${child.callOptions.length > 0 ? ` and optionally { ${child.callOptions.join(", ")} }` : ""}, ${child.requiredInputs} required, got ${inputs.length}`,
      );
    }
    // A child used twice (weight sharing) gets a fresh key per call.
    const key = keys === undefined ? undefined : calls[i] === 0 ? keys[i] : foldIn(keys[i]!, calls[i]!);
    calls[i]! += 1;
    const childParams = name in paramsByName ? paramsByName[name]! : emptyTree(child.paramSpec());
    const childState = name in newState ? newState[name]! : emptyTree(child.stateSpec());
    const out = child.forward(childParams, childState, inputs as never, {
      train: ctx.train,
      key,
      path: joinPath(ctx.path, name),
    });
    if (child.hasState) newState[name] = out.state;
    return out.y;
  };
  return { call, newState, ownKey: keys?.[entries.length] };
}

interface Signature {
  readonly inputs?: readonly string[];
  readonly requiredInputs?: number;
}

function containerLayer<P extends ParamTree, S extends ParamTree, In extends Inputs, Out>(
  repr: string,
  entries: Entries,
  run: (runner: ReturnType<typeof childRunner>, inputs: In, ctx: ForwardContext) => Out,
  extraKeys: number,
  signature: Signature = {},
): Layer<P, S, In, Out> {
  const several = signature.inputs !== undefined;
  return defineLayer<P, S, In, Out>({
    name: repr,
    repr,
    children: entries,
    ...(several ? { inputs: signature.inputs, requiredInputs: signature.requiredInputs } : {}),
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
      // defineLayer hands a single input over as is; run always gets the tuple.
      const inputs = (several && Array.isArray(x) && !(x instanceof NdArray) ? x : [x]) as unknown as In;
      const y = run(runner, inputs, ctx);
      return { y, state: runner.newState as S };
    },
  });
}

/**
 * torch.nn.Sequential: applies the layers in order; params keyed "0", "1", ... (parameterless skipped).
 * Every layer must take one array and return one (`layer.singleArray`); for others use `named`.
 */
export function sequential<const Ls extends readonly SingleArrayLayer[]>(
  ...layers: Ls
): Layer<SequentialParams<Ls>, SequentialState<Ls>> {
  layers.forEach((l, i) => {
    if (!l.singleArray) {
      throw new TypeError(
        `sequential: layer ${i} (${l.name}) takes (${l.inputNames.join(", ")}) and is not one array in, one array out; sequential chains only such layers: use a named model with inputs and an explicit forward, layers.named({ ... }, (m, [x, ...]) => ..., { inputs: [...] })`,
      );
    }
  });
  const entries: Entries = layers.map((l, i) => [String(i), l as unknown as AnyLayer] as const);
  return containerLayer<SequentialParams<Ls>, SequentialState<Ls>, [x: NdArray], NdArray>(
    "Sequential",
    entries,
    (runner, [x]) => layers.reduce((h, _, i) => runner.call(i, [h]) as NdArray, x),
    0,
  );
}

/** Options of `named`. */
export interface NamedOptions {
  /** The class name summary prints (default "Model"). */
  name?: string;
}

/** Options of a `named` model with several inputs or a pytree output. */
export interface NamedManyOptions extends NamedOptions {
  /** The names of the model's positional inputs, as its forward's arguments (`["input", "hx"]`). */
  inputs: readonly string[];
  /** How many of them are required (default all). */
  requiredInputs?: number;
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
 *
 * With `inputs` (their names) the model takes any inputs and returns any pytree; forward receives the
 * inputs as a tuple, and sub-layers are called with theirs:
 *
 *     const tagger = layers.named(
 *       { lstm: layers.lstm(8, 16), head: layers.linear(16, 5) },
 *       (m, [x, hx]: [NdArray, [NdArray, NdArray]?]) => {
 *         const [out, carry] = m.lstm(x, hx);
 *         return [m.head(out), carry] as const;
 *       },
 *       { inputs: ["input", "hx"], requiredInputs: 1 },
 *     );
 *     tagger.apply(params, x);   // [logits, [hN, cN]]
 */
export function named<L extends Record<string, AnyLayer>>(
  layers: L,
  forward: (layers: BoundLayers<L>, x: NdArray, ctx: ModelContext) => NdArray,
  options?: NamedOptions,
): Layer<NamedParams<L>, NamedState<L>>;
export function named<L extends Record<string, AnyLayer>, In extends Inputs, Out>(
  layers: L,
  forward: (layers: BoundLayers<L>, inputs: In, ctx: ModelContext) => Out,
  options: NamedManyOptions,
): Layer<NamedParams<L>, NamedState<L>, In, Out>;
export function named<L extends Record<string, AnyLayer>>(
  layers: L,
  forward: (layers: BoundLayers<L>, x: never, ctx: ModelContext) => unknown,
  options: NamedOptions | NamedManyOptions = {},
): Layer<NamedParams<L>, NamedState<L>, Inputs, unknown> {
  checkOptions("named", options, ["name", "inputs", "requiredInputs"]);
  const several = "inputs" in options && options.inputs !== undefined;
  const entries: Entries = Object.entries(layers);
  const name = options.name ?? "Model";
  return containerLayer<NamedParams<L>, NamedState<L>, Inputs, unknown>(
    name,
    entries,
    (runner, inputs, ctx) => {
      const bound: Record<string, (...inputs: unknown[]) => unknown> = {};
      entries.forEach(([childName], i) => {
        bound[childName] = (...childInputs) => runner.call(i, childInputs);
      });
      const y = forward(bound as unknown as BoundLayers<L>, (several ? inputs : inputs[0]) as never, {
        train: ctx.train,
        key: runner.ownKey,
      });
      if (!several && !(y instanceof NdArray))
        throw new TypeError(`${name}: the forward function must return an array, got ${typeof y}`);
      return y;
    },
    1,
    several ? (options as NamedManyOptions) : {},
  );
}
