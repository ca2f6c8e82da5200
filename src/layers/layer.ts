/**
 * The layer abstraction: a layer is a value with pure `init` and `apply` functions (Haiku/Flax style),
 * the functional form of a torch.nn.Module. Parameters and state (BatchNorm's running statistics) are
 * trees passed in and returned; train/eval mode and the dropout key are arguments, not hidden flags.
 *
 * Every layer is built by `defineLayer` from one `forward(params, state, x, ctx) => { y, state }`; the
 * public `apply` (output only, for the common stateless case) and `applyWithState` are derived from it
 * and check the params (and state) tree against the layer's spec before running.
 *
 * Most layers take one array and return one (`Layer<P, S>`, which `sequential` chains). A layer may take
 * several inputs and return any pytree, as PyTorch's forward does: `Layer<P, S, In, Out>` with `In` the
 * tuple of its positional inputs (`[input: NdArray, hx?: [NdArray, NdArray]]` for an LSTM) and `Out` its
 * output (`[NdArray, [NdArray, NdArray]]`); `apply(params, ...inputs, options?)`.
 *
 * A layer may also take call options beside `train` and `key`, as PyTorch's forward takes keyword
 * arguments (multi-head attention's `attnMask`, `needWeights`): it lists them in `callOptions`, its `In`
 * ends with an optional options object, and `apply(params, q, k, v, { attnMask, train: true, key })`
 * passes them to forward as that last input (train and key go to the context as for any layer).
 */
import { NdArray, ShapeDtype } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError, shapeEquals } from "../core/shape.js";
import type { Tuple } from "../core/tuple.js";
import { take } from "../ops/indexing.js";
import { type Key, split } from "../random/index.js";
import {
  type ArrayTree,
  assertSameStructureOf,
  flattenWithPath,
  structure,
  unflatten,
} from "../tree/index.js";
import { isPlainObject } from "../tree/treedef.js";
import type { FloatDType } from "./init.js";

export type { FloatDType, Key };

/** Parameters or state: nested plain objects with array leaves (`null` for a layer without any). */
export type ParamTree = ArrayTree;

/** The shapes a params or state tree must have: the same tree with ShapeDtype leaves. */
export type SpecTree = ShapeDtype | null | { readonly [name: string]: SpecTree };

/** Options of a layer's `init` and `initState`. */
export interface InitOptions {
  /** The dtype of parameters and state: float32 (default) or float64. */
  dtype?: FloatDType;
}

/** Options of a layer's `apply` and `applyWithState`: the mode, as `net.train()` / `net.eval()`, and the key. */
export interface ApplyOptions {
  /**
   * Training mode: dropout drops and BatchNorm uses (and updates) batch statistics. Default false
   * (evaluation), so a call without options is deterministic.
   */
  train?: boolean;
  /** The key for randomness in training mode (dropout); containers split it among their children. */
  key?: Key;
}

/** What a layer's forward function receives besides its inputs. */
export interface ForwardContext {
  /** Training mode (see ApplyOptions.train). */
  readonly train: boolean;
  /** The key for this layer's randomness, if one was given. */
  readonly key: Key | undefined;
  /** Where the layer sits in the model (`conv1`, `0`, `block.2`), "" at the top; used in error messages. */
  readonly path: string;
}

/** A forward pass's result: the output and the layer's new state. */
export interface LayerOutput<S, Out = NdArray> {
  /** The output (one array for most layers; a pytree for layers such as lstm). */
  readonly y: Out;
  /** The new state (the old one when nothing changed; null for stateless layers). */
  readonly state: S;
}

/** The positional inputs of a layer's apply, as a tuple type (`[x: NdArray]` for most layers). */
export type Inputs = readonly unknown[];

/** `apply`'s arguments after the params (or state): the inputs, then optionally the ApplyOptions. */
export type ApplyArgs<In extends Inputs> = In | [...In, ApplyOptions];

/**
 * A layer: the functional form of a torch.nn.Module. It holds no parameters; `init` makes a parameter tree
 * `P` (and `initState` a state tree `S`), and `apply(params, ...inputs)` computes the output purely.
 * `In` is the tuple of the positional inputs and `Out` the output: one array each by default.
 */
export interface Layer<
  P extends ParamTree = ParamTree,
  S extends ParamTree = ParamTree,
  In extends Inputs = [x: NdArray],
  Out = NdArray,
> {
  /** A short description for error messages, e.g. `conv2d 1->6, k=5`. */
  readonly name: string;
  /** PyTorch's one-line repr, e.g. `Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))`; containers: their class name. */
  readonly repr: string;
  /** Named sub-layers, in order (containers only). */
  readonly children: readonly (readonly [string, AnyLayer])[];
  /** Whether the layer carries state (BatchNorm's running statistics), and so needs applyWithState. */
  readonly hasState: boolean;
  /** The names of apply's positional inputs, as PyTorch's forward arguments (`["input", "hx"]`). */
  readonly inputNames: readonly string[];
  /** How many of the inputs are required (the rest may be omitted or undefined). */
  readonly requiredInputs: number;
  /**
   * The names of the call options apply accepts beside train and key (PyTorch's forward keyword arguments,
   * `["attnMask", "keyPaddingMask", ...]`); empty for most layers. forward receives them as one object
   * after the inputs.
   */
  readonly callOptions: readonly string[];
  /** One array in, one array out: the layers `sequential` can chain. */
  readonly singleArray: boolean;
  /** The shapes and dtypes of the parameters init returns. */
  paramSpec(dtype?: FloatDType): SpecTree;
  /** The shapes and dtypes of the state initState returns. */
  stateSpec(dtype?: FloatDType): SpecTree;
  /** Fresh parameters (PyTorch's default initialization unless the layer was given initializers). */
  init(key: Key, options?: InitOptions): P;
  /** Fresh state (null for stateless layers). */
  initState(options?: InitOptions): S;
  /** `{ params: init(key), state: initState() }`. */
  initWithState(key: Key, options?: InitOptions): { params: P; state: S };
  /** The layer's computation on the tuple of its inputs, without checks; containers call their children's forward. */
  forward(params: P, state: S, inputs: In, ctx: ForwardContext): LayerOutput<S, Out>;
  /**
   * The output for the inputs (`apply(params, x)`, `apply(params, x, { train: true, key })`); for layers
   * without state (BatchNorm needs applyWithState).
   */
  apply(params: P, ...args: ApplyArgs<In>): Out;
  /** The output and the new state (updated running statistics in training mode). */
  applyWithState(params: P, state: S, ...args: ApplyArgs<In>): LayerOutput<S, Out>;
}

/** Any layer, whatever its params, inputs and output (what containers and summary accept). */
export type AnyLayer = Layer<ParamTree, ParamTree, never, unknown>;
/** A layer of one array in and one array out, as `sequential` chains. */
export type SingleArrayLayer = Layer<ParamTree, ParamTree, [x: NdArray], NdArray>;

/** The parameter tree type of a layer type (`ParamsOf<typeof model>`). */
export type ParamsOf<L> = L extends {
  /** The layer's `init`, whose result type is read. */
  init(key: Key, options?: InitOptions): infer P extends ParamTree;
}
  ? P
  : never;
/** The state tree type of a layer type. */
export type StateOf<L> = L extends {
  /** The layer's `initState`, whose result type is read. */
  initState(options?: InitOptions): infer S extends ParamTree;
}
  ? S
  : never;
/** The input tuple type of a layer type. */
export type InputsOf<L> = L extends {
  /** The layer's `forward`, whose inputs type is read. */
  forward(p: never, s: never, inputs: infer In extends Inputs, ctx: never): unknown;
}
  ? In
  : never;
/** The output type of a layer type. */
export type OutputOf<L> = L extends {
  /** The layer's `forward`, whose output type is read. */
  forward(p: never, s: never, inputs: never, ctx: never): LayerOutput<unknown, infer Out>;
}
  ? Out
  : never;

/** What a layer definition's forward receives as its input: the array itself for one input, else the tuple. */
export type ForwardInput<In extends Inputs> = In extends readonly [unknown] ? In[0] : In;

/** What `defineLayer` builds a layer from; the checks, defaults and `apply` are derived from it. */
export interface LayerDefinition<
  P extends ParamTree,
  S extends ParamTree,
  In extends Inputs = [x: NdArray],
  Out = NdArray,
> {
  /** A short description for error messages (Layer.name). */
  name: string;
  /** PyTorch's one-line repr (Layer.repr). */
  repr: string;
  /** Named sub-layers, in order (containers only). */
  children?: readonly (readonly [string, AnyLayer])[];
  /**
   * The names of the positional inputs (default `["input"]`: one array); with more than one, forward
   * receives them as a tuple.
   */
  inputs?: readonly string[];
  /** How many inputs are required (default all of them). */
  requiredInputs?: number;
  /**
   * The call options the layer takes beside train and key (PyTorch's forward keyword arguments). With them,
   * forward receives its inputs as a tuple whose last element is the options object (`{}` when none were
   * given), checked against these names; `In` ends with that object, optional.
   */
  callOptions?: readonly string[];
  /** The output is one array (default true unless `inputs` is given); false for a pytree. */
  arrayOutput?: boolean;
  /** The shapes of the parameters `init` returns, for `dtype`. */
  paramSpec(dtype: FloatDType): SpecTree;
  /** Fresh parameters of `dtype`, from `key`. */
  init(key: Key, dtype: FloatDType): P;
  /** Stateful layers give both; stateless ones neither (their state is null). */
  stateSpec?(dtype: FloatDType): SpecTree;
  /** Fresh state of `dtype` (with stateSpec). */
  initState?(dtype: FloatDType): S;
  /** The computation: the output and the new state, for checked params and state. */
  forward(params: P, state: S, x: ForwardInput<In>, ctx: ForwardContext): LayerOutput<S, Out>;
}

/** Builds a layer from its forward function, specs and initializers; for custom layers too. */
export function defineLayer<
  P extends ParamTree,
  S extends ParamTree = null,
  In extends Inputs = [x: NdArray],
  Out = NdArray,
>(def: LayerDefinition<P, S, In, Out>): Layer<P, S, In, Out> {
  const stateSpec = (dtype: FloatDType = "float32"): SpecTree =>
    def.stateSpec ? def.stateSpec(dtype) : null;
  const hasState = specLeaves(stateSpec()).length > 0;
  const inputNames = def.inputs ?? ["input"];
  const requiredInputs = def.requiredInputs ?? inputNames.length;
  const callOptions = def.callOptions ?? [];
  const hasCallOptions = callOptions.length > 0;
  if (inputNames.length === 0 || requiredInputs < 0 || requiredInputs > inputNames.length)
    throw new RangeError(
      `${def.name}: a layer needs at least one input and 0..${inputNames.length} required inputs, got ${requiredInputs} of [${inputNames.join(", ")}]`,
    );
  // One required input: forward gets it as is (the tuple is only for several, or with call options).
  const unwrap = inputNames.length === 1 && requiredInputs === 1 && !hasCallOptions;
  const singleArray =
    inputNames.length === 1 && requiredInputs === 1 && (def.arrayOutput ?? def.inputs === undefined);
  const forward = (params: P, state: S, inputs: In, ctx: ForwardContext): LayerOutput<S, Out> =>
    def.forward(
      params,
      state,
      (unwrap ? inputs[0] : hasCallOptions ? withCallOptions(inputs, ctx) : inputs) as ForwardInput<In>,
      ctx,
    );
  /** The inputs padded to every input, then the call options (`{}` when absent), checked. */
  const withCallOptions = (inputs: In, ctx: ForwardContext): In => {
    const given = inputs.slice(0, inputNames.length);
    const bag = inputs[inputNames.length] ?? {};
    checkOptions(`${describeAt(def.name, ctx.path)}: call options`, bag, callOptions);
    while (given.length < inputNames.length) given.push(undefined);
    return [...given, bag] as unknown as In;
  };
  const initState = (options?: InitOptions, who = `${def.name}: initState`): S => {
    checkOptions(who, options, INIT_KEYS);
    return def.initState ? def.initState(checkDType(def.name, options?.dtype)) : (null as S);
  };
  const signature = `(${inputNames.map((n, i) => (i < requiredInputs ? n : `${n}?`)).join(", ")})`;
  const optionNames = `{ ${[...callOptions, ...APPLY_KEYS].join(", ")} }`;
  /** The inputs and the options from apply's arguments, checked. */
  const splitArgs = (who: string, args: readonly unknown[]): [In, ForwardContext] => {
    let inputs = args;
    let options: unknown = {};
    let bag: Record<string, unknown> | undefined;
    const last = args[args.length - 1];
    if (hasCallOptions) {
      // The object after the inputs holds the call options and train/key; `(..., callOptions, { train,
      // key })` is accepted too.
      const allNames = [...callOptions, ...APPLY_KEYS];
      const trailing = (xs: readonly unknown[], names: readonly string[]): boolean =>
        xs.length > requiredInputs &&
        isPlainObject(xs[xs.length - 1]) &&
        (xs.length > inputNames.length || isOptionsOf(xs[xs.length - 1], names));
      const objects: unknown[] = [];
      if (trailing(inputs, allNames)) {
        objects.unshift(inputs[inputs.length - 1]);
        inputs = inputs.slice(0, -1);
        if (isOptionsOf(objects[0], APPLY_KEYS) && trailing(inputs, callOptions)) {
          objects.unshift(inputs[inputs.length - 1]);
          inputs = inputs.slice(0, -1);
        }
      }
      objects.forEach((o) => checkOptions(who, o, allNames));
      const merged: Record<string, unknown> = {};
      for (const o of objects as Record<string, unknown>[]) {
        for (const [k, v] of Object.entries(o)) {
          if (k in merged) throw new TypeError(`${who}: option ${k} given twice`);
          merged[k] = v;
        }
      }
      const { train, key, ...rest } = merged;
      options = { ...(train === undefined ? {} : { train }), ...(key === undefined ? {} : { key }) };
      bag = rest;
    } else if (args.length > inputNames.length || (args.length > requiredInputs && isApplyOptions(last))) {
      inputs = args.slice(0, -1);
      options = last;
    }
    if (inputs.length > inputNames.length || inputs.length < requiredInputs) {
      throw new TypeError(
        `${who}: expected inputs ${signature} and optionally ${optionNames}, got ${args.length} argument${args.length === 1 ? "" : "s"}`,
      );
    }
    checkOptions(who, options, APPLY_KEYS);
    inputs.slice(0, requiredInputs).forEach((x, i) => {
      if (x === undefined || x === null)
        throw new TypeError(`${who}: input ${inputNames[i]} is required, got ${String(x)}`);
    });
    if (unwrap && !(inputs[0] instanceof NdArray))
      throw new TypeError(`${who}: the input must be an array, got ${describeValue(inputs[0])}`);
    // The call options go after every input, omitted optional ones as undefined.
    const padding = new Array<undefined>(inputNames.length - inputs.length).fill(undefined);
    const withBag = bag === undefined ? inputs : [...inputs, ...padding, bag];
    return [withBag as unknown as In, contextOf(options as ApplyOptions)];
  };
  const layer: Layer<P, S, In, Out> = {
    name: def.name,
    repr: def.repr,
    children: def.children ?? [],
    hasState,
    inputNames,
    requiredInputs,
    callOptions,
    singleArray,
    paramSpec: (dtype = "float32") => def.paramSpec(dtype),
    stateSpec,
    init: (key, options) => {
      checkOptions(`${def.name}: init`, options, INIT_KEYS);
      return def.init(key, checkDType(def.name, options?.dtype));
    },
    initState: (options) => initState(options),
    initWithState: (key, options) => ({
      params: layer.init(key, options),
      state: initState(options, `${def.name}: initWithState`),
    }),
    forward,
    apply(params, ...args) {
      const [inputs, ctx] = splitArgs(`${def.name}: apply`, args);
      if (hasState) {
        throw new TypeError(
          `${def.name} has state (running statistics); call applyWithState(params, state, x, { train }) instead of apply`,
        );
      }
      checkTree(def.name, "params", def.paramSpec("float32"), params);
      return forward(params, null as S, inputs, ctx).y;
    },
    applyWithState(params, state, ...args) {
      const [inputs, ctx] = splitArgs(`${def.name}: applyWithState`, args);
      checkTree(def.name, "params", def.paramSpec("float32"), params);
      checkTree(def.name, "state", stateSpec(), state);
      return forward(params, state, inputs, ctx);
    },
  };
  return layer;
}

/** Whether apply's last argument is its options rather than an optional input: `{ train }`, `{ key }`. */
function isApplyOptions(x: unknown): boolean {
  return isOptionsOf(x, APPLY_KEYS);
}

/** Whether `x` is a non-empty plain object whose keys are all among `names`. */
function isOptionsOf(x: unknown, names: readonly string[]): boolean {
  if (!isPlainObject(x)) return false;
  const keys = Object.keys(x);
  return keys.length > 0 && keys.every((k) => names.includes(k));
}

function describeValue(x: unknown): string {
  if (x === null) return "null";
  if (Array.isArray(x)) return "a JS array";
  return typeof x;
}

const INIT_KEYS = ["dtype"] as const;
const APPLY_KEYS = ["train", "key"] as const;

function contextOf(options: ApplyOptions): ForwardContext {
  return { train: options.train ?? false, key: options.key, path: "" };
}

function checkDType(who: string, dtype: FloatDType | undefined): FloatDType {
  const d = dtype ?? "float32";
  if (d !== "float32" && d !== "float64")
    throw new TypeError(`${who}: init dtype must be float32 or float64, got ${String(d)}`);
  return d;
}

function specLeaves(spec: SpecTree): [string, ShapeDtype][] {
  return flattenWithPath<ShapeDtype>(spec);
}

/** Throws unless `tree` has the structure of `spec` and every leaf is an array of the spec's shape. */
export function checkTree(who: string, what: string, spec: SpecTree, tree: unknown): void {
  assertSameStructureOf(`${who}: ${what} (expected vs got)`, spec, tree);
  const expected = specLeaves(spec);
  const got = flattenWithPath<unknown>(tree);
  expected.forEach(([path, s], i) => {
    const leaf = got[i]![1];
    if (!(leaf instanceof NdArray))
      throw new TypeError(`${who}: ${what} ${path} must be an array, got ${typeof leaf}`);
    if (!shapeEquals(leaf.shape, s.shape)) {
      throw new ShapeError(
        `${who}: ${what} ${path} has shape ${fmtShape(leaf.shape)}, expected ${fmtShape(s.shape)}`,
      );
    }
  });
}

/** `path (name)` for messages: where the layer sits, then what it is. */
export function describeAt(layerName: string, path: string): string {
  return path === "" ? layerName : `${path} (${layerName})`;
}

/** The tree of a spec without leaves (`null`, `{}`, or nested empties): the params of a parameterless layer. */
export function emptyTree(spec: SpecTree): ParamTree {
  return unflatten<ParamTree>(structure(spec), []);
}

/** `n` independent keys from one (rows of random.split), as a tuple when `n` is a literal. */
export function splitKeys<N extends number>(key: Key, n: N): Tuple<Key, N> {
  const keys = split(key, n);
  return Array.from({ length: n }, (_, i) => take(keys, i, { axis: 0 })) as Tuple<Key, N>;
}

/** Whether a spec tree has any leaves (so the layer has parameters or state to store). */
export function hasLeaves(spec: SpecTree): boolean {
  return specLeaves(spec).length > 0;
}

/** A ShapeDtype spec leaf. */
export function spec(shape: readonly number[], dtype: FloatDType): ShapeDtype {
  return new ShapeDtype(shape, dtype);
}
