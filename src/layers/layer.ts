/**
 * The layer abstraction: a layer is a value with pure `init` and `apply` functions (Haiku/Flax style),
 * the functional form of a torch.nn.Module. Parameters and state (BatchNorm's running statistics) are
 * trees passed in and returned; train/eval mode and the dropout key are arguments, not hidden flags.
 *
 * Every layer is built by `defineLayer` from one `forward(params, state, x, ctx) => { y, state }`; the
 * public `apply` (output only, for the common stateless case) and `applyWithState` are derived from it
 * and check the params (and state) tree against the layer's spec before running.
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
export interface LayerOutput<S> {
  /** The output. */
  readonly y: NdArray;
  /** The new state (the old one when nothing changed; null for stateless layers). */
  readonly state: S;
}

/**
 * A layer: the functional form of a torch.nn.Module. It holds no parameters; `init` makes a parameter tree
 * `P` (and `initState` a state tree `S`), and `apply(params, x)` computes the output purely.
 */
export interface Layer<P extends ParamTree = ParamTree, S extends ParamTree = ParamTree> {
  /** A short description for error messages, e.g. `conv2d 1->6, k=5`. */
  readonly name: string;
  /** PyTorch's one-line repr, e.g. `Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))`; containers: their class name. */
  readonly repr: string;
  /** Named sub-layers, in order (containers only). */
  readonly children: readonly (readonly [string, Layer])[];
  /** Whether the layer carries state (BatchNorm's running statistics), and so needs applyWithState. */
  readonly hasState: boolean;
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
  /** The layer's computation, without checks; containers call their children's forward. */
  forward(params: P, state: S, x: NdArray, ctx: ForwardContext): LayerOutput<S>;
  /** The output for input `x`; for layers without state (BatchNorm needs applyWithState). */
  apply(params: P, x: NdArray, options?: ApplyOptions): NdArray;
  /** The output and the new state (updated running statistics in training mode). */
  applyWithState(params: P, state: S, x: NdArray, options?: ApplyOptions): LayerOutput<S>;
}

/** The parameter tree type of a layer type (`ParamsOf<typeof model>`). */
export type ParamsOf<L> = L extends Layer<infer P, ParamTree> ? P : never;
/** The state tree type of a layer type. */
export type StateOf<L> = L extends Layer<ParamTree, infer S> ? S : never;

/** What `defineLayer` builds a layer from; the checks, defaults and `apply` are derived from it. */
export interface LayerDefinition<P extends ParamTree, S extends ParamTree> {
  /** A short description for error messages (Layer.name). */
  name: string;
  /** PyTorch's one-line repr (Layer.repr). */
  repr: string;
  /** Named sub-layers, in order (containers only). */
  children?: readonly (readonly [string, Layer])[];
  /** The shapes of the parameters `init` returns, for `dtype`. */
  paramSpec(dtype: FloatDType): SpecTree;
  /** Fresh parameters of `dtype`, from `key`. */
  init(key: Key, dtype: FloatDType): P;
  /** Stateful layers give both; stateless ones neither (their state is null). */
  stateSpec?(dtype: FloatDType): SpecTree;
  /** Fresh state of `dtype` (with stateSpec). */
  initState?(dtype: FloatDType): S;
  /** The computation: the output and the new state, for checked params and state. */
  forward(params: P, state: S, x: NdArray, ctx: ForwardContext): LayerOutput<S>;
}

/** Builds a layer from its forward function, specs and initializers; for custom layers too. */
export function defineLayer<P extends ParamTree, S extends ParamTree = null>(
  def: LayerDefinition<P, S>,
): Layer<P, S> {
  const stateSpec = (dtype: FloatDType = "float32"): SpecTree =>
    def.stateSpec ? def.stateSpec(dtype) : null;
  const hasState = specLeaves(stateSpec()).length > 0;
  const initState = (options?: InitOptions, who = `${def.name}: initState`): S => {
    checkOptions(who, options, INIT_KEYS);
    return def.initState ? def.initState(checkDType(def.name, options?.dtype)) : (null as S);
  };
  const layer: Layer<P, S> = {
    name: def.name,
    repr: def.repr,
    children: def.children ?? [],
    hasState,
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
    forward: def.forward,
    apply(params, x, options = {}) {
      checkOptions(`${def.name}: apply`, options, APPLY_KEYS);
      if (hasState) {
        throw new TypeError(
          `${def.name} has state (running statistics); call applyWithState(params, state, x, { train }) instead of apply`,
        );
      }
      checkTree(def.name, "params", def.paramSpec("float32"), params);
      return def.forward(params, null as S, x, contextOf(options)).y;
    },
    applyWithState(params, state, x, options = {}) {
      checkOptions(`${def.name}: applyWithState`, options, APPLY_KEYS);
      checkTree(def.name, "params", def.paramSpec("float32"), params);
      checkTree(def.name, "state", stateSpec(), state);
      return def.forward(params, state, x, contextOf(options));
    },
  };
  return layer;
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
