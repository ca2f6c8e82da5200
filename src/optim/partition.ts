/**
 * Transformations applied to part of the parameter tree: `masked(inner, mask)` runs `inner` on the
 * leaves the mask selects and passes the other updates through (optax.masked); `multiTransform`
 * partitions the leaves by label and runs one transformation per label (optax.multi_transform, torch's
 * parameter groups). The inner transformation sees the params' tree with the other leaves replaced by
 * null (an empty subtree), so its state holds buffers for its own leaves only.
 */
import { flatten, unflatten } from "../tree/index.js";
import { checkArrayLeaves, checkUpdateArgs, type GradientTransformation } from "./common.js";
import { type Labels, type LeafMask, leafLabels, leafMask, type Mask, selectLeaves } from "./mask.js";

/** The state of `masked`: the inner transformation's state, for the selected leaves. */
export interface MaskedState<S = unknown> {
  /** The inner transformation's state. */
  innerState: S;
}

/** `tree`'s leaves where `keep` holds, the others null, with `tree`'s structure. */
function restrict(tree: unknown, keep: readonly boolean[]): unknown {
  const [leaves, def] = flatten(tree);
  return unflatten(def, selectLeaves(leaves, keep));
}

/**
 * `inner.update` on the restricted trees; when nothing is selected and the params are a single leaf the
 * restricted gradients are null, which no transformation takes: then the updates are null (an empty
 * tree) and the inner state stays as it is.
 */
function updateOn<S>(
  inner: GradientTransformation<S>,
  grads: unknown,
  state: S,
  params: unknown,
): [unknown, S] {
  if (grads === null) return [null, state];
  return inner.update(grads, state, params);
}

/** Puts `part`'s leaves (in order) where `keep` holds, and `tree`'s leaves elsewhere. */
function merge<T>(tree: T, part: unknown, keep: readonly boolean[]): T {
  const [leaves, def] = flatten(tree);
  const [chosen] = flatten(part);
  let next = 0;
  return unflatten<T>(
    def,
    leaves.map((leaf, i) => (keep[i] ? chosen[next++] : leaf)),
  );
}

/** Checks that `state` is an object with field `field` (from `init`), naming `who`. */
function checkWrapperState(who: string, grads: unknown, state: unknown, field: string, init: string): void {
  checkUpdateArgs(who, grads, state, [field], init);
  checkArrayLeaves(who, grads);
}

/**
 * optax.masked: `inner` applied to the leaves `mask` selects (a tree of booleans shaped like the params or
 * a prefix of it, or a function of the params returning one: it gets the params in `init` and the
 * gradients in `update`); the other leaves' updates pass through unchanged. E.g.
 * `chain(masked(addDecayedWeights(1e-2), optim.decayMask), ...)`. Line-search extras are not passed on.
 */
export function masked<S>(
  inner: GradientTransformation<S>,
  mask: Mask,
): GradientTransformation<MaskedState<S>> {
  const who = "masked";
  const select: LeafMask = leafMask(who, mask);
  const selected = (tree: unknown): boolean[] => select(flatten(tree)[1], tree);
  return {
    init(params) {
      checkArrayLeaves(`${who}.init`, params, "param");
      return { innerState: inner.init(restrict(params, selected(params))) };
    },
    update(grads, state, params) {
      const at = `${who}.update`;
      checkWrapperState(at, grads, state, "innerState", "masked(...).init(params)");
      const keep = selected(grads);
      const [updates, innerState] = updateOn(
        inner,
        restrict(grads, keep),
        state.innerState,
        params === undefined ? undefined : restrict(params, keep),
      );
      return [merge(grads, updates, keep), { innerState }];
    },
  };
}

/** The state of `multiTransform`: each label's transformation's state, for that label's leaves. */
export interface MultiTransformState {
  /** The inner states by label. */
  innerStates: Record<string, unknown>;
}

/**
 * optax.multi_transform: each leaf gets the transformation of its label. `paramLabels` is a tree of
 * label strings shaped like the params (or a prefix of it), or a function of the params returning one;
 * every label must name one of `transforms` (a transformation without leaves is allowed). Each
 * transformation keeps its own state (and step count) for its leaves, as torch's parameter groups do:
 *
 * ```ts
 * const opt = optim.multiTransform(
 *   { decay: optim.adamw({ lr: 1e-3, weightDecay: 0.1 }), noDecay: optim.adamw({ lr: 1e-3, weightDecay: 0 }) },
 *   (params) => tree.map((p: NdArray) => (p.ndim >= 2 ? "decay" : "noDecay"), params),
 * );
 * ```
 */
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation>>,
  paramLabels: Labels,
): GradientTransformation<MultiTransformState> {
  const who = "multiTransform";
  if (typeof transforms !== "object" || transforms === null || Array.isArray(transforms))
    throw new TypeError(`${who}: transforms must be an object of gradient transformations by label`);
  const names = Object.keys(transforms);
  for (const name of names) {
    const t = transforms[name] as Partial<GradientTransformation> | undefined;
    if (typeof t?.init !== "function" || typeof t.update !== "function")
      throw new TypeError(`${who}: transforms.${name} is not a gradient transformation ({ init, update })`);
  }
  if (typeof paramLabels !== "function" && typeof paramLabels !== "string" && typeof paramLabels !== "object")
    throw new TypeError(
      `${who}: paramLabels must be a tree of labels or a function of the params returning one`,
    );
  const labelsOf = (at: string, tree: unknown): string[] => {
    const labels = leafLabels(at, paramLabels, tree);
    const unknown = [...new Set(labels.filter((l) => !Object.hasOwn(transforms, l)))];
    if (unknown.length > 0) {
      throw new TypeError(
        `${at}: no transformation for label${unknown.length > 1 ? "s" : ""} ${unknown.join(", ")} (transforms has ${names.join(", ") || "none"})`,
      );
    }
    return labels;
  };
  return {
    init(params) {
      checkArrayLeaves(`${who}.init`, params, "param");
      const labels = labelsOf(`${who}.init`, params);
      const innerStates: Record<string, unknown> = {};
      for (const name of names) {
        const keep = labels.map((l) => l === name);
        innerStates[name] = transforms[name]!.init(restrict(params, keep));
      }
      return { innerStates };
    },
    update(grads, state, params) {
      const at = `${who}.update`;
      checkWrapperState(at, grads, state, "innerStates", "multiTransform(...).init(params)");
      const labels = labelsOf(at, grads);
      const innerStates: Record<string, unknown> = {};
      let updates = grads;
      for (const name of names) {
        if (!Object.hasOwn(state.innerStates, name))
          throw new TypeError(`${at}: the state has no inner state for label ${name}`);
        const keep = labels.map((l) => l === name);
        const [u, s] = updateOn(
          transforms[name]!,
          restrict(grads, keep),
          state.innerStates[name],
          params === undefined ? undefined : restrict(params, keep),
        );
        updates = merge(updates, u, keep);
        innerStates[name] = s;
      }
      return [updates, { innerStates }];
    },
  };
}
