/**
 * Vectorizing map: the batch interpreter carries, beside every value, which axis is the batch axis
 * (or none) and applies each primitive's `batch` rule.
 */
import { type AbstractValue, fmtAval, type NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import type { BatchDim, Primitive } from "../core/primitive.js";
import { ShapeError } from "../core/shape.js";
import { fullRaise, type MainTrace, Trace, Tracer, withNewMain } from "../core/trace.js";
import { broadcastTo, moveaxis } from "../ops/layout.js";
import { flatten, leafPaths, type TreeDef, unflatten } from "../tree/treedef.js";
import { flattenArgs, flattenFun } from "./flat.js";

export class BatchTracer extends Tracer {
  constructor(
    readonly trace: BatchTrace,
    readonly value: NdArray,
    readonly batchDim: BatchDim,
  ) {
    super();
  }
  override get aval(): AbstractValue {
    if (this.batchDim === null) return this.value.aval;
    return { shape: this.value.shape.filter((_, i) => i !== this.batchDim), dtype: this.value.dtype };
  }
  override fullLower(): NdArray {
    return this.batchDim === null ? this.value : this;
  }
}

export class BatchTrace extends Trace {
  pure(value: NdArray): Tracer {
    return new BatchTracer(this, value, null);
  }
  lift(value: NdArray): Tracer {
    return this.pure(value);
  }
  processPrimitive<P>(prim: Primitive<P>, tracers: NdArray[], params: P): NdArray[] {
    const ts = tracers as BatchTracer[];
    const values = ts.map((t) => t.value);
    const dims = ts.map((t) => t.batchDim);
    if (dims.every((d) => d === null))
      return prim.bind(values, params).map((v) => new BatchTracer(this, v, null));
    const [outs, outDims] = prim.batch(values, dims, params);
    return outs.map((o, i) => new BatchTracer(this, o, outDims[i] ?? null));
  }
}

/** Moves (or creates, by broadcasting) the batch axis of `x` to `to`. */
export function moveBatchAxis(x: NdArray, from: BatchDim, to: BatchDim, size: number): NdArray {
  if (from === to) return x;
  if (to === null)
    throw new ShapeError("vmap: an output batched along an axis was declared unbatched (outAxes null)");
  if (from === null) {
    const withAxis = broadcastTo(x, [size, ...x.shape]);
    return to === 0 ? withAxis : moveaxis(withAxis, 0, to);
  }
  return moveaxis(x, from, to);
}

/**
 * `vmapFlat` over leaves; `leafName(i)` names leaf i in errors (default `argument i`; `vmap` gives the
 * argument's position and path inside its tree). `axisSize` is the size of the mapped axis when no
 * input is mapped (JAX's `axis_size`); when inputs are mapped it must agree with them.
 */
export function vmapFlat(
  f: (xs: NdArray[]) => NdArray[],
  inDims: readonly BatchDim[],
  outDims: (nOut: number) => readonly BatchDim[],
  args: NdArray[],
  leafName: (i: number) => string = (i) => `argument ${i}`,
  axisSize?: number,
): NdArray[] {
  const sizes = new Set<number>();
  args.forEach((a, i) => {
    const d = inDims[i];
    if (d !== null && d !== undefined) sizes.add(a.shape[d]!);
  });
  // JAX's message: each mapped argument with its axis and size.
  const mappedLines = () =>
    args.flatMap((a, i) => {
      const d = inDims[i];
      if (d === null || d === undefined) return [];
      return [`  * one axis had size ${a.shape[d]}: axis ${d} of ${leafName(i)} of type ${fmtAval(a)}`];
    });
  if (sizes.size === 0 && axisSize === undefined) {
    throw new ShapeError(
      "vmap must have at least one non-null value in inAxes, or be given axisSize (every argument is unmapped, so there is no axis size)",
    );
  }
  if (sizes.size > 1) {
    throw new ShapeError(
      `vmap got inconsistent sizes for array axes to be mapped:\n${mappedLines().join("\n")}`,
    );
  }
  if (axisSize !== undefined && sizes.size === 1 && !sizes.has(axisSize)) {
    throw new ShapeError(
      `vmap got axisSize ${axisSize} but the mapped axes have another size:\n${mappedLines().join("\n")}`,
    );
  }
  const size = axisSize ?? [...sizes][0];
  if (size === undefined) throw new Error("vmapFlat: no axis size");
  return withNewMain(
    (m: MainTrace) => new BatchTrace(m),
    null,
    (main) => {
      const trace = new BatchTrace(main);
      const ins = args.map((a, i) => new BatchTracer(trace, a, inDims[i] ?? null));
      const outs = f(ins).map((o) => fullRaise(trace, o) as BatchTracer);
      const dims = outDims(outs.length);
      // An outAxes entry null keeps that output unbatched (it must not depend on the mapped axis).
      return outs.map((o, i) =>
        moveBatchAxis(o.value, o.batchDim, dims[i] === undefined ? 0 : dims[i], size),
      );
    },
  );
}

/** `vmap`'s `inAxes`: one axis (or null) for all arguments, or per positional argument an axis, null or a tree of them. */
export type InAxes = number | null | readonly (number | null | object)[];

/** Options of `vmap`: which axes are mapped, as JAX's `in_axes` and `out_axes` (default 0 for both). */
export interface VmapOptions {
  /** Per positional argument: the mapped axis, null for unmapped, or a tree of axes matching the argument. */
  inAxes?: InAxes;
  /** The batch axis of every output (a number), or a tree of axes matching the output. */
  outAxes?: number | null | readonly unknown[] | object;
  /**
   * The size of the mapped axis (JAX's `axis_size`): needed when no input is mapped (every `inAxes` entry
   * null, or no arguments), and then every output is broadcast to it; when inputs are mapped it must
   * equal their mapped size.
   */
  axisSize?: number;
}

function checkVmapOptions(options: VmapOptions): void {
  if (typeof options === "object" && options !== null && "axisName" in options) {
    throw new TypeError(
      "vmap: axisName is not supported: tracegrad has no collective operations (psum, pmean, all_gather, ...) " +
        "that could refer to a named axis; reduce over the batch outside vmap instead",
    );
  }
  checkOptions("vmap", options, ["inAxes", "outAxes", "axisSize"]);
  const n = options.axisSize;
  if (n !== undefined && !(Number.isInteger(n) && n >= 0)) {
    throw new RangeError(`vmap: axisSize must be a non-negative integer, got ${String(n)}`);
  }
}

/** Broadcasts an axes spec (a number/null prefix of the tree) over a tree's leaves. */
function axesForLeaves(who: string, spec: unknown, tree: unknown): BatchDim[] {
  const [, def] = flatten(tree);
  const out: BatchDim[] = [];
  const rec = (s: unknown, d: TreeDef): void => {
    if (s === null || typeof s === "number") {
      const n = countLeaves(d);
      for (let i = 0; i < n; i++) out.push(s as BatchDim);
      return;
    }
    if (d.kind === "array" && Array.isArray(s) && s.length === d.children.length) {
      d.children.forEach((c, i) => rec(s[i], c));
      return;
    }
    if (d.kind === "object" && typeof s === "object" && s !== null && !Array.isArray(s)) {
      d.children.forEach((c, i) => rec((s as Record<string, unknown>)[d.keys[i]!] ?? null, c));
      return;
    }
    throw new TypeError(`${who}: axes specification does not match the tree structure`);
  };
  rec(spec, def);
  return out;
}

function countLeaves(d: TreeDef): number {
  return d.kind === "leaf" ? 1 : d.kind === "none" ? 0 : d.children.reduce((n, c) => n + countLeaves(c), 0);
}

/**
 * `vmap(f, { inAxes, outAxes, axisSize })` maps `f` over an axis of its arguments. `inAxes` defaults to
 * 0 for every argument; an entry null broadcasts the argument. Negative axes count from the end. With
 * no mapped argument, `axisSize` says how many times to map (`vmap(f, { inAxes: null, axisSize: 3 })(x)`
 * stacks three copies of `f(x)`).
 */
export function vmap<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  options: VmapOptions = {},
): (...args: Args) => Out {
  checkVmapOptions(options);
  return (...args: Args): Out => {
    const spec = options.inAxes === undefined ? 0 : options.inAxes;
    const perArg = typeof spec === "number" || spec === null ? args.map(() => spec) : spec;
    if (perArg.length !== args.length) {
      throw new TypeError(
        `vmap: inAxes has ${perArg.length} entries but the function got ${args.length} arguments`,
      );
    }
    const [flatArgs, inTree] = flattenArgs("vmap", args);
    const dims = axesForLeaves("vmap inAxes", perArg, args).map((d, i) => {
      if (d === null) return null;
      const r = flatArgs[i]!.ndim;
      if (d < -r || d >= r)
        throw new RangeError(
          `vmap: in axis ${d} is out of bounds for argument leaf ${i} ${fmtAval(flatArgs[i]!)}`,
        );
      return d < 0 ? d + r : d;
    });
    const flat = flattenFun("vmap", f as (...a: never[]) => unknown, inTree);
    let outTree: TreeDef | null = null;
    const outs = vmapFlat(
      flat,
      dims,
      (n) => {
        outTree = flat.outTree();
        const spec = options.outAxes === undefined ? 0 : options.outAxes;
        const d = axesForLeaves("vmap outAxes", spec, unflatten(outTree, new Array(n).fill(0)));
        return d;
      },
      flatArgs,
      (i) => {
        const [position, ...rest] = leafPaths(inTree)[i]!.split(".");
        return `argument ${position}${rest.length ? ` at ${rest.join(".")}` : ""}`;
      },
      options.axisSize,
    );
    return unflatten<Out>(outTree!, outs);
  };
}
