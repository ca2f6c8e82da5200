/**
 * User-defined reverse-mode derivatives. Under forward mode a `custom_vjp_call` runs the user's `fwd`
 * and emits `custom_lin`, a linear primitive whose transpose calls the user's `bwd` (as JAX does).
 */

import { type AbstractValue, type ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { NARROW_DTYPES } from "../core/dtype.js";
import { type Primitive, primitive } from "../core/primitive.js";
import { shapeEquals } from "../core/shape.js";
import { batchSize } from "../ops/layout.js";
import { assertSameStructure, flatten, type TreeDef, unflatten } from "../tree/treedef.js";
import { alignTo0, type FlatFn, outAvalsOf, stagedOf, zerosIn, zerosTree } from "./custom-call.js";
import { flattenArgs } from "./flat.js";
import { vmapFlat } from "./vmap.js";

interface CustomVjpParams {
  name: string;
  fun: FlatFn;
  /** Returns the outputs followed by `nResiduals(...)` residuals. */
  fwd: FlatFn;
  /** (residuals, output cotangents) -> input cotangents. */
  bwd: (residuals: NdArray[], cts: NdArray[]) => NdArray[];
  nOut: number;
}

interface CustomLinParams {
  name: string;
  bwd: (residuals: NdArray[], cts: NdArray[]) => NdArray[];
  nResiduals: number;
  outAvals: readonly AbstractValue[];
}

export const customVjpCallPrim: Primitive<CustomVjpParams> = primitive<CustomVjpParams>({
  name: "custom_vjp_call",
  narrowDtypes: NARROW_DTYPES,
  abstractEval: (avals, p) => outAvalsOf(p.fun, avals),
  impl: (args, p) => p.fun([...args]) as ConcreteArray[],
  // The primal function, traced and inlined: the custom derivative only matters to transforms.
  onnx(g, inputs, p, inAvals) {
    const { program, consts } = stagedOf(p.fun, inAvals);
    const constNames = consts.map((c) => {
      const value = c.concrete();
      return g.constant(value.storage, value.dtype, value.shape);
    });
    return g.inline(program, [...constNames, ...inputs]);
  },
  jvp(primals, tangents, p) {
    const both = p.fwd([...primals]);
    const outs = both.slice(0, p.nOut);
    const residuals = both.slice(p.nOut);
    const tangentsOut = customLinPrim.bind([...residuals, ...tangents], {
      name: p.name,
      bwd: p.bwd,
      nResiduals: residuals.length,
      outAvals: outs.map((o) => o.aval),
    });
    return { primalsOut: outs, tangentsOut };
  },
  batch(args, dims, p) {
    const size = batchSize(args, dims);
    const aligned = alignTo0(args, dims, size);
    const fun: FlatFn = (xs) => vmapFlat(p.fun, zerosIn(xs.length), (n) => zerosIn(n), xs);
    const fwd: FlatFn = (xs) => vmapFlat(p.fwd, zerosIn(xs.length), (n) => zerosIn(n), xs);
    const bwd = (res: NdArray[], cts: NdArray[]) =>
      vmapFlat(
        (all) => p.bwd(all.slice(0, res.length), all.slice(res.length)),
        zerosIn(res.length + cts.length),
        (n) => zerosIn(n),
        [...res, ...cts],
      );
    const outs = customVjpCallPrim.bind(aligned, { ...p, fun, fwd, bwd });
    return [outs, outs.map(() => 0)];
  },
  formatParams: (p) => `name=${p.name}`,
});

export const customLinPrim: Primitive<CustomLinParams> = primitive<CustomLinParams>({
  name: "custom_lin",
  narrowDtypes: NARROW_DTYPES,
  abstractEval: (_avals, p) => [...p.outAvals],
  impl() {
    throw new Error(
      "custom_lin: a customVjp tangent can only be transposed (use vjp/grad, not jvp, through customVjp)",
    );
  },
  jvp(_primals, _tangents, p) {
    throw new Error(
      `custom_lin (${p.name}): forward-mode differentiation of a customVjp function is not supported; use grad/vjp`,
    );
  },
  transpose(cts, args, p) {
    const residuals = args.slice(0, p.nResiduals) as NdArray[];
    const inCts = p.bwd(residuals, [...cts]);
    return [...residuals.map(() => null), ...inCts];
  },
  batch(args, dims, p) {
    const size = batchSize(args, dims);
    const aligned = alignTo0(args, dims, size);
    const bwd = (res: NdArray[], cts: NdArray[]) =>
      vmapFlat(
        (all) => p.bwd(all.slice(0, res.length), all.slice(res.length)),
        zerosIn(res.length + cts.length),
        (n) => zerosIn(n),
        [...res, ...cts],
      );
    const outAvals = p.outAvals.map((a) => ({ shape: [size, ...a.shape], dtype: a.dtype }));
    const outs = customLinPrim.bind(aligned, { ...p, bwd, outAvals });
    return [outs, outs.map(() => 0)];
  },
  formatParams: (p) => `name=${p.name}`,
});

/**
 * A function with a user-defined reverse-mode derivative: `fwd(...args)` returns `[out, residuals]`,
 * `bwd(residuals, outCotangent)` returns one cotangent per argument (null for none). Forward-mode
 * derivatives (jvp, jacfwd) of the result are not available, as in JAX's custom_vjp.
 */
export function customVjp<Args extends unknown[], Out, Res>(
  f: (...args: Args) => Out,
  fwd: (...args: Args) => [Out, Res],
  bwd: (residuals: Res, cotangent: Out) => { [K in keyof Args]: Args[K] | null },
): (...args: Args) => Out {
  const name = f.name || "customVjp";
  return (...args: Args): Out => {
    const [flatArgs, inTree] = flattenArgs(name, args);
    let outTree: TreeDef | null = null;
    let resTree: TreeDef | null = null;
    const fun: FlatFn = (xs) => {
      const [outs, def] = flattenArgs(name, f(...unflatten<Args>(inTree, xs)));
      outTree = def;
      return outs;
    };
    const fwdFlat: FlatFn = (xs) => {
      const [out, res] = fwd(...unflatten<Args>(inTree, xs));
      const [outs, oDef] = flattenArgs(`${name} fwd`, out);
      const [ress, rDef] = flattenArgs(`${name} fwd (residuals)`, res);
      outTree = oDef;
      resTree = rDef;
      return [...outs, ...ress];
    };
    const bwdFlat = (res: NdArray[], cts: NdArray[]): NdArray[] => {
      const back = bwd(unflatten<Res>(resTree!, res), unflatten<Out>(outTree!, cts));
      if (!Array.isArray(back) || back.length !== args.length) {
        throw new TypeError(
          `${name} bwd: must return an array with one cotangent per argument (${args.length})`,
        );
      }
      const [argLeaves] = flatten<NdArray>(args);
      const filled = (back as unknown[]).map((c, i) => c ?? zerosTree(args[i]));
      const [ctLeaves, ctDef] = flattenArgs(`${name} bwd`, filled);
      assertSameStructure(`${name} bwd: cotangents vs arguments`, inTree, ctDef);
      ctLeaves.forEach((c, i) => {
        const a = argLeaves[i]!;
        if (!shapeEquals(c.shape, a.shape)) {
          throw new TypeError(
            `${name} bwd: cotangent ${i} is ${fmtAval(c)} but its argument is ${fmtAval(a)}`,
          );
        }
      });
      return ctLeaves;
    };
    const outs = customVjpCallPrim.bind(flatArgs, {
      name,
      fun,
      fwd: fwdFlat,
      bwd: bwdFlat,
      nOut: outAvalsOf(
        fun,
        flatArgs.map((a) => a.aval),
      ).length,
    });
    if (outTree === null) outTree = flatten(f(...args))[1];
    return unflatten<Out>(outTree, outs);
  };
}
