/**
 * einsum and tensordot, built from existing primitives: each pair of operands becomes one (batched)
 * matmul after summing out the indices only one side has, so gradients, vmap and jit come for free.
 */
import type { NdArray } from "../core/array.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { zip } from "../core/tuple.js";
import { asBoolResult, astype, promoteOperands, where } from "./binary.js";
import { eye } from "./creation.js";
import { broadcastTo, reshape, transpose } from "./layout.js";
import { matmul } from "./linalg.js";
import { sum } from "./reduce.js";

/** An operand with one label per axis. */
interface Labelled {
  readonly x: NdArray;
  readonly labels: readonly string[];
}

/** Where errors come from: the op name and a description of its arguments. */
interface Context {
  readonly op: string;
  readonly describe: string;
}

const ELLIPSIS_LABEL = "...";

function fail(ctx: Context, message: string): never {
  throw new ShapeError(`${ctx.op}: ${message} (${ctx.describe})`);
}

/**
 * Einstein summation over one or more operands: "ij,jk->ik" (matrix product), "bij,bjk->bik", "ii->i"
 * (diagonal), "ij->" (sum), "...ij,...jk->...ik" (broadcast batch axes). Without "->" the output holds
 * the indices that appear exactly once, sorted (with any "..." axes first), as numpy.
 */
export function einsum(subscripts: string, ...operands: NdArray[]): NdArray {
  const ctx: Context = {
    op: "einsum",
    describe: `subscripts "${subscripts}" with operand shapes ${operands.map((x) => fmtShape(x.shape)).join(", ")}`,
  };
  if (operands.length === 0) fail(ctx, "expected at least one operand");
  const spec = subscripts.replace(/\s+/g, "");
  // split gives at least one part, so the default never applies.
  const [inputSpec = "", outputSpec, ...more] = spec.split("->");
  if (more.length > 0) fail(ctx, `"->" appears more than once`);
  const terms = inputSpec.split(",");
  if (terms.length !== operands.length)
    fail(ctx, `${terms.length} operand subscripts but ${operands.length} operands`);

  const parsed = terms.map((t, i) => parseTerm(ctx, t, `operand ${i}`));
  const ellipsisRank = Math.max(
    0,
    ...zip(parsed, operands, terms).map(([p, x, term], i) => {
      if (!p.hasEllipsis) return 0;
      const extra = x.ndim - p.named;
      if (extra < 0) fail(ctx, `operand ${i} has ${p.named} indices "${term}" but rank ${x.ndim}`);
      return extra;
    }),
  );
  const promoted = promoteOperands("einsum", operands);
  const labelled: Labelled[] = zip(parsed, promoted, terms).map(([p, x, term], i) => {
    const extra = x.ndim - p.named;
    if (!p.hasEllipsis && extra !== 0) {
      fail(ctx, `operand ${i} has ${p.named} indices "${term}" but rank ${x.ndim}`);
    }
    // "..." axes are right-aligned across operands, as numpy broadcasting.
    const ellipsisLabels = Array.from({ length: extra }, (_, j) =>
      ellipsisAxisLabel(ellipsisRank - extra + j),
    );
    const labels = p.letters.flatMap((l) => (l === ELLIPSIS_LABEL ? ellipsisLabels : [l]));
    return { x: x.dtype === "bool" ? astype(x, "int32") : x, labels };
  });

  const allEllipsis = Array.from({ length: ellipsisRank }, (_, j) => ellipsisAxisLabel(j));
  let output: string[];
  if (outputSpec !== undefined) {
    const out = parseTerm(ctx, outputSpec, "output");
    output = out.letters.flatMap((l) => (l === ELLIPSIS_LABEL ? allEllipsis : [l]));
    const seen = new Set<string>();
    for (const l of output) {
      if (seen.has(l)) fail(ctx, `output index '${l}' appears more than once`);
      seen.add(l);
      if (!labelled.some((o) => o.labels.includes(l)))
        fail(ctx, `output index '${l}' does not appear in any operand`);
    }
  } else {
    const counts = new Map<string, number>();
    for (const o of labelled) for (const l of o.labels) counts.set(l, (counts.get(l) ?? 0) + 1);
    const once = [...counts].filter(([l, n]) => n === 1 && !isEllipsisLabel(l)).map(([l]) => l);
    output = [...allEllipsis, ...once.sort()];
  }
  return asBoolResult("einsum", promoted[0]!.dtype, contract(ctx, labelled, output));
}

function ellipsisAxisLabel(j: number): string {
  return `${ELLIPSIS_LABEL}${j}`;
}

function isEllipsisLabel(l: string): boolean {
  return l.startsWith(ELLIPSIS_LABEL);
}

/** The letters of one term, with "..." kept as one entry; `named` counts the letters. */
function parseTerm(
  ctx: Context,
  term: string,
  what: string,
): { letters: string[]; hasEllipsis: boolean; named: number } {
  const letters: string[] = [];
  let hasEllipsis = false;
  for (let i = 0; i < term.length; ) {
    if (term.startsWith(ELLIPSIS_LABEL, i)) {
      if (hasEllipsis) fail(ctx, `${what} "${term}" has more than one "..."`);
      hasEllipsis = true;
      letters.push(ELLIPSIS_LABEL);
      i += 3;
      continue;
    }
    const c = term[i]!;
    if (!/[a-zA-Z]/.test(c))
      fail(ctx, `${what} "${term}" has '${c}'; indices are letters a-z, A-Z (or "...")`);
    letters.push(c);
    i++;
  }
  return { letters, hasEllipsis, named: letters.length - (hasEllipsis ? 1 : 0) };
}

/**
 * Contracts labelled operands into the `output` labels: diagonals first, then every pair left to right,
 * summing out each label as soon as nothing later needs it.
 */
function contract(ctx: Context, operands: readonly Labelled[], output: readonly string[]): NdArray {
  const sizes = labelSizes(ctx, operands);
  let pending = operands.map((o) => broadcastLabels(takeDiagonals(o), sizes));
  while (pending.length > 1) {
    const [a, b, ...rest] = pending as [Labelled, Labelled, ...Labelled[]];
    const needed = new Set([...output, ...rest.flatMap((o) => o.labels)]);
    pending = [contractPair(a, b, needed, sizes), ...rest];
  }
  const last = sumOut(pending[0]!, new Set(output));
  return transpose(
    last.x,
    output.map((l) => last.labels.indexOf(l)),
  );
}

/** Each label's size; "..." axes of size 1 stretch (numpy broadcasting), letters must agree exactly. */
function labelSizes(ctx: Context, operands: readonly Labelled[]): Map<string, number> {
  const sizes = new Map<string, { size: number; operand: number }>();
  operands.forEach((o, i) => {
    zip(o.labels, o.x.shape).forEach(([l, d]) => {
      const prev = sizes.get(l);
      if (prev === undefined || (isEllipsisLabel(l) && prev.size === 1)) {
        sizes.set(l, { size: d, operand: i });
        return;
      }
      if (prev.size === d || (isEllipsisLabel(l) && d === 1)) return;
      const name = isEllipsisLabel(l) ? `broadcast ("...") axis` : `index '${l}'`;
      fail(
        ctx,
        `${name} has size ${prev.size} in operand ${prev.operand} (shape ${fmtShape(operands[prev.operand]!.x.shape)}) ` +
          `but ${d} in operand ${i} (shape ${fmtShape(o.x.shape)})`,
      );
    });
  });
  return new Map([...sizes].map(([l, s]) => [l, s.size]));
}

/** The size of label `l` (labelSizes gave every label of every operand one). */
function labelSize(sizes: ReadonlyMap<string, number>, l: string): number {
  const n = sizes.get(l);
  if (n === undefined) throw new Error(`einsum: index '${l}' has no size`);
  return n;
}

/** Stretches size-1 "..." axes to the common size. */
function broadcastLabels(o: Labelled, sizes: ReadonlyMap<string, number>): Labelled {
  const shape = o.labels.map((l) => labelSize(sizes, l));
  return { x: broadcastTo(o.x, shape), labels: o.labels };
}

/** A label repeated within one operand ("ii") keeps only its diagonal. */
function takeDiagonals(o: Labelled): Labelled {
  let { x, labels } = o;
  for (;;) {
    const q = labels.findIndex((l, i) => labels.indexOf(l) !== i);
    if (q < 0) return { x, labels };
    const p = labels.indexOf(labels[q]!);
    const n = x.shape[p]!;
    const maskShape = x.shape.map((_, i) => (i === p || i === q ? n : 1));
    const onDiagonal = reshape(eye(n, n, { dtype: "bool" }), maskShape);
    x = sum(where(onDiagonal, x, 0), { axis: q });
    labels = labels.filter((_, i) => i !== q);
  }
}

/** Sums out every label not in `keep`. */
function sumOut(o: Labelled, keep: ReadonlySet<string>): Labelled {
  const axes = o.labels.map((l, i) => (keep.has(l) ? -1 : i)).filter((i) => i >= 0);
  if (axes.length === 0) return o;
  return { x: sum(o.x, { axis: axes }), labels: o.labels.filter((l) => keep.has(l)) };
}

/** One pair as a matmul: [batch, freeA, contracted] @ [batch, contracted, freeB]. */
function contractPair(
  a: Labelled,
  b: Labelled,
  needed: ReadonlySet<string>,
  sizes: ReadonlyMap<string, number>,
): Labelled {
  a = sumOut(a, new Set([...needed, ...b.labels]));
  b = sumOut(b, new Set([...needed, ...a.labels]));
  const inB = new Set(b.labels);
  const inA = new Set(a.labels);
  const batch = a.labels.filter((l) => inB.has(l) && needed.has(l));
  const contracted = a.labels.filter((l) => inB.has(l) && !needed.has(l));
  const freeA = a.labels.filter((l) => !inB.has(l));
  const freeB = b.labels.filter((l) => !inA.has(l));
  const size = (ls: readonly string[]): number => ls.reduce((n, l) => n * labelSize(sizes, l), 1);
  const [nb, nfa, nc, nfb] = [size(batch), size(freeA), size(contracted), size(freeB)];
  const lead = batch.length > 0 ? [nb] : [];
  const am = reshape(arrange(a, [...batch, ...freeA, ...contracted]), [...lead, nfa, nc]);
  const bm = reshape(arrange(b, [...batch, ...contracted, ...freeB]), [...lead, nc, nfb]);
  const labels = [...batch, ...freeA, ...freeB];
  return {
    x: reshape(
      matmul(am, bm),
      labels.map((l) => labelSize(sizes, l)),
    ),
    labels,
  };
}

function arrange(o: Labelled, order: readonly string[]): NdArray {
  return transpose(
    o.x,
    order.map((l) => o.labels.indexOf(l)),
  );
}

/**
 * Sums products over the given axes of `a` and `b`: `axes = n` pairs the last n axes of `a` with the first
 * n of `b` (2 by default); `[axesA, axesB]` names them. The result has a's free axes, then b's.
 */
export function tensordot(
  a: NdArray,
  b: NdArray,
  axes: number | readonly [number | readonly number[], number | readonly number[]] = 2,
): NdArray {
  const ctx: Context = {
    op: "tensordot",
    describe: `shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} with axes ${JSON.stringify(axes)}`,
  };
  let axesA: number[];
  let axesB: number[];
  if (typeof axes === "number") {
    if (!Number.isInteger(axes) || axes < 0 || axes > a.ndim || axes > b.ndim)
      fail(ctx, `cannot contract ${axes} axes`);
    axesA = Array.from({ length: axes }, (_, i) => a.ndim - axes + i);
    axesB = Array.from({ length: axes }, (_, i) => i);
  } else {
    const list = (v: number | readonly number[]): number[] => (typeof v === "number" ? [v] : [...v]);
    axesA = list(axes[0]).map((ax) => normalize(ctx, ax, a.ndim));
    axesB = list(axes[1]).map((ax) => normalize(ctx, ax, b.ndim));
    if (axesA.length !== axesB.length)
      fail(ctx, `${axesA.length} axes of the first operand but ${axesB.length} of the second`);
    if (new Set(axesA).size !== axesA.length || new Set(axesB).size !== axesB.length)
      fail(ctx, "repeated axis");
  }
  zip(axesA, axesB).forEach(([ax, bx]) => {
    if (a.shape[ax] !== b.shape[bx]) {
      fail(
        ctx,
        `axis ${ax} of the first operand has size ${a.shape[ax]} but axis ${bx} of the second has ${b.shape[bx]}`,
      );
    }
  });
  const labelsA = a.shape.map((_, i) => {
    const k = axesA.indexOf(i);
    return k >= 0 ? `c${k}` : `a${i}`;
  });
  const labelsB = b.shape.map((_, i) => {
    const k = axesB.indexOf(i);
    return k >= 0 ? `c${k}` : `b${i}`;
  });
  const output = [...labelsA, ...labelsB].filter((l) => !l.startsWith("c"));
  const [pa, pb] = promoteOperands("tensordot", [a, b]) as [NdArray, NdArray];
  const cast = (x: NdArray): NdArray => (x.dtype === "bool" ? astype(x, "int32") : x);
  const out = contract(
    ctx,
    [
      { x: cast(pa), labels: labelsA },
      { x: cast(pb), labels: labelsB },
    ],
    output,
  );
  return asBoolResult("tensordot", pa.dtype, out);
}

function normalize(ctx: Context, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim)
    fail(ctx, `axis ${axis} is out of bounds for rank ${ndim}`);
  return axis < 0 ? axis + ndim : axis;
}
