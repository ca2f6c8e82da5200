/**
 * assertAllClose: elementwise comparison of two pytrees of arrays (or numbers), numpy's allclose rule
 * |actual - expected| <= atol + rtol * |expected|, with a diff that names each differing element's path.
 */
import { NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { fmtShape, type Shape, shapeEquals } from "../core/shape.js";
import { firstDifference, flatten, leafPaths } from "../tree/treedef.js";
import { formatIndex, formatNumber, formatSetting, formatShort, joinLeafPath } from "./format.js";

/** Options of `assertAllClose`: the tolerances and how the message reads. */
export interface AllCloseOptions {
  /** Absolute tolerance (default 1e-8, as numpy.allclose). */
  atol?: number;
  /** Relative tolerance, relative to the expected value (default 1e-5, as numpy.allclose). */
  rtol?: number;
  /** NaN equals NaN (default true, as numpy.testing.assert_allclose). */
  equalNan?: boolean;
  /** How many differing elements the message lists (default 5, worst first). */
  maxReported?: number;
  /** The name of the compared value in messages (default "value"). */
  name?: string;
}

/** The two trees differ: in structure, in a leaf's shape, or in values beyond the tolerance. */
export class AllCloseError extends Error {
  override name = "AllCloseError";
}

interface LeafValues {
  shape: Shape;
  data: ArrayLike<number>;
}

function leafValues(leaf: unknown): LeafValues | null {
  if (leaf instanceof NdArray) return { shape: leaf.shape, data: leaf.concrete().storage };
  if (typeof leaf === "number") return { shape: [], data: [leaf] };
  if (typeof leaf === "boolean") return { shape: [], data: [leaf ? 1 : 0] };
  return null;
}

interface Difference {
  where: string;
  actual: number;
  expected: number;
  excess: number;
}

/**
 * Throws an AllCloseError unless `actual` and `expected` have the same tree structure, the same leaf
 * shapes, and every element pair satisfies |actual - expected| <= atol + rtol * |expected|.
 * Leaves may be arrays, numbers or booleans; dtypes are not compared.
 */
export function assertAllClose(actual: unknown, expected: unknown, options: AllCloseOptions = {}): void {
  checkOptions(
    "testing.assertAllClose",
    options,
    optionKeys<AllCloseOptions>({ atol: true, rtol: true, equalNan: true, maxReported: true, name: true }),
  );
  const atol = options.atol ?? 1e-8;
  const rtol = options.rtol ?? 1e-5;
  const equalNan = options.equalNan ?? true;
  const name = options.name ?? "value";
  const [actualLeaves, actualDef] = flatten(actual);
  const [expectedLeaves, expectedDef] = flatten(expected);
  const structural = firstDifference(actualDef, expectedDef, "");
  if (structural) throw new AllCloseError(`assertAllClose: tree structures differ ${structural}`);
  const paths = leafPaths(actualDef);
  const differences: Difference[] = [];
  let compared = 0;
  actualLeaves.forEach((a, k) => {
    const path = joinLeafPath(name, paths[k]!);
    const av = leafValues(a);
    const ev = leafValues(expectedLeaves[k]);
    if (av === null || ev === null) {
      throw new AllCloseError(`assertAllClose: leaf ${path} is not an array or a number`);
    }
    if (!shapeEquals(av.shape, ev.shape)) {
      throw new AllCloseError(
        `assertAllClose: ${path} has shape ${fmtShape(av.shape)} but ${fmtShape(ev.shape)} was expected`,
      );
    }
    for (let i = 0; i < av.data.length; i++) {
      compared++;
      const x = Number(av.data[i]);
      const y = Number(ev.data[i]);
      if (x === y) continue; // also equal infinities
      if (equalNan && Number.isNaN(x) && Number.isNaN(y)) continue;
      const tol = atol + rtol * Math.abs(y);
      const diff = Math.abs(x - y);
      // Infinities are close only to themselves (handled above), whatever the relative tolerance.
      if (diff <= tol && Number.isFinite(x) && Number.isFinite(y)) continue;
      // NaN or a mismatched infinity counts as infinitely far.
      differences.push({
        where: `${path}${formatIndex(av.shape, i)}`,
        actual: x,
        expected: y,
        excess: Number.isFinite(diff / tol) ? diff / tol : Infinity,
      });
    }
  });
  if (differences.length === 0) return;
  differences.sort((p, q) => q.excess - p.excess);
  const shown = differences.slice(0, options.maxReported ?? 5).map((d) => {
    const diff = Math.abs(d.actual - d.expected);
    const rel = diff / Math.max(Math.abs(d.expected), Number.MIN_VALUE);
    return `  ${d.where}: actual ${formatNumber(d.actual)}, expected ${formatNumber(d.expected)} (|diff| ${formatShort(diff)}, relative ${formatShort(rel)})`;
  });
  const more =
    differences.length > shown.length ? [`  ... and ${differences.length - shown.length} more`] : [];
  throw new AllCloseError(
    [
      `assertAllClose: ${differences.length} of ${compared} elements differ (atol=${formatSetting(atol)}, rtol=${formatSetting(rtol)}), worst first:`,
      ...shown,
      ...more,
    ].join("\n"),
  );
}
