/**
 * Re-initializing a params tree by a rule on paths, the functional form of PyTorch's
 * `net.apply(init_fn)`: `reinit(params, key, (path, leaf, key) => ...)`.
 */
import { NdArray } from "../core/array.js";
import { fmtShape, ShapeError, shapeEquals } from "../core/shape.js";
import { leaves, mapWithPath } from "../tree/index.js";
import type { Key, ParamTree } from "./layer.js";
import { splitKeys } from "./layer.js";

/**
 * A new tree where each leaf is `rule(path, leaf, key)`; return `leaf` to keep it. The key is split
 * into one subkey per leaf, in flatten order, so the result depends only on `key` and the tree.
 * A new leaf must keep the old one's shape (a params tree is tied to its model).
 */
export function reinit<P extends ParamTree>(
  params: P,
  key: Key,
  rule: (path: string, leaf: NdArray, key: Key) => NdArray,
): P {
  const n = leaves(params).length;
  const keys = n === 0 ? [] : splitKeys(key, n);
  let i = 0;
  return mapWithPath((path: string, leaf: NdArray) => {
    const out = rule(path, leaf, keys[i++]!);
    if (!(out instanceof NdArray))
      throw new TypeError(`reinit: the rule returned ${typeof out} for ${path}; expected an array`);
    if (!shapeEquals(out.shape, leaf.shape)) {
      throw new ShapeError(
        `reinit: the rule changed the shape of ${path} from ${fmtShape(leaf.shape)} to ${fmtShape(out.shape)}`,
      );
    }
    return out;
  }, params);
}
