/**
 * Loader for the PyTorch reference data in ../shared/golden (see its README.md for the format), and a
 * closeness check that names the worst element when it fails.
 */
import { readFileSync } from "node:fs";
import type { DType } from "../../src/core/dtype.js";
import { fmtShape } from "../../src/core/shape.js";
import { NdArray, np } from "../../src/index.js";

/** The repository sits at /work/main and the data at /work/shared (CI clones the repo beside shared). */
export const GOLDEN_DIR = new URL("../../../shared/golden/", import.meta.url);

/** A stored tensor: row-major `data` of `shape`. */
export interface GoldenArray {
  dtype: "float64" | "int64";
  shape: number[];
  data: number[];
}

export type GoldenArrays = Record<string, GoldenArray>;

export interface VjpCase {
  name: string;
  kind: "vjp";
  op: string;
  torch: string;
  /** Op attributes; JSON null stands for Python's None. */
  attrs: Record<string, unknown>;
  seed: number;
  inputs: GoldenArrays;
  outputs: GoldenArrays;
  cotangent: GoldenArrays;
  grads: GoldenArrays;
  intermediates?: GoldenArrays;
  note?: string;
}

export interface ModelCase {
  name: string;
  kind: "model";
  model: string;
  architecture: string[];
  seed: number;
  param_order: string[];
  params: GoldenArrays;
  inputs: { input: GoldenArray; target: GoldenArray };
  outputs: { output: GoldenArray; loss: GoldenArray };
  intermediates?: GoldenArrays;
  cotangent: GoldenArrays;
  grads: GoldenArrays;
  diagnostics?: Record<string, unknown>;
  numbers?: number[];
}

export interface OptimizerCase {
  name: string;
  kind: "optimizer";
  optimizer: string;
  torch: string;
  hyperparameters: Record<string, unknown>;
  update_rule: string;
  initial_params: GoldenArrays;
  batch: { input: GoldenArray; target: GoldenArray };
  step_procedure: string;
  losses: GoldenArray;
  final_loss: GoldenArray;
  param_sums_after_step: GoldenArrays;
  final_params: GoldenArrays;
}

export interface HessianCase {
  name: string;
  kind: "hessian";
  function: string;
  inputs: { x: GoldenArray; v: GoldenArray };
  outputs: { f: GoldenArray; grad: GoldenArray; hessian: GoldenArray; hvp: GoldenArray };
}

export interface JacobianCase {
  name: string;
  kind: "jacobian";
  function: string;
  inputs: { x: GoldenArray };
  outputs: { y: GoldenArray; jacobian: GoldenArray };
}

export type GoldenCase = VjpCase | ModelCase | OptimizerCase | HessianCase | JacobianCase;

export interface GoldenFile<C extends GoldenCase = GoldenCase> {
  meta: Record<string, unknown> & { format: string; file: string; dtype: string };
  cases: C[];
}

/** Reads one data file, e.g. `loadGolden("elementwise.json")`. */
export function loadGolden<C extends GoldenCase = GoldenCase>(file: string): GoldenFile<C> {
  const parsed = JSON.parse(readFileSync(new URL(file, GOLDEN_DIR), "utf8")) as GoldenFile<C>;
  if (parsed.meta?.format !== "golden-v1")
    throw new Error(`${file}: unknown golden format ${String(parsed.meta?.format)}`);
  return parsed;
}

/** The vjp cases of a file (all of them, for the op files). */
export function loadVjpCases(file: string): VjpCase[] {
  return loadGolden(file).cases.filter((c): c is VjpCase => c.kind === "vjp");
}

/** A golden tensor as an array: float64 by default, int64 (class targets, indices) as int32. */
export function toArray(g: GoldenArray, dtype?: DType): NdArray {
  const target: DType = dtype ?? (g.dtype === "int64" ? "int32" : "float64");
  return np.array(g.data, { shape: g.shape, dtype: target });
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** The tolerance the golden README suggests for a float64 port of single ops and models. */
export const FLOAT64_TOLERANCE: Tolerance = { atol: 1e-12, rtol: 1e-9 };

function multiIndex(flat: number, shape: readonly number[]): number[] {
  const index = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i]!;
    index[i] = flat % d;
    flat = Math.floor(flat / d);
  }
  return index;
}

/**
 * Throws unless `got` has the shape of `ref` and every element satisfies |got - ref| <= atol + rtol * |ref|
 * (NaN matches NaN, infinities must match exactly); the message names the worst element.
 */
export function expectClose(
  got: NdArray,
  ref: GoldenArray | NdArray,
  tolerance: Tolerance,
  label = "value",
): void {
  const refShape = ref.shape;
  const refData: ArrayLike<number> = ref instanceof NdArray ? ref.toTypedArray() : ref.data;
  if (fmtShape(got.shape) !== fmtShape(refShape)) {
    throw new Error(
      `${label}: shape ${fmtShape(got.shape)} differs from the reference ${fmtShape(refShape)}`,
    );
  }
  const data = got.toTypedArray();
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < data.length; i++) {
    const g = data[i]!;
    const r = refData[i]!;
    if (g === r || (Number.isNaN(g) && Number.isNaN(r))) continue;
    const excess = Math.abs(g - r) - (tolerance.atol + tolerance.rtol * Math.abs(r));
    // NaN against a number, or a mismatched infinity, ranks worst.
    const score = Number.isNaN(excess) ? Number.POSITIVE_INFINITY : excess;
    if (score > worstExcess || (score > 0 && worst < 0)) {
      worst = i;
      worstExcess = score;
    }
  }
  if (worst >= 0) {
    const g = data[worst]!;
    const r = refData[worst]!;
    throw new Error(
      `${label}: element [${multiIndex(worst, refShape).join(",")}] of ${fmtShape(refShape)} is ${g}, reference ${r} ` +
        `(|diff| ${Math.abs(g - r)} > atol ${tolerance.atol} + rtol ${tolerance.rtol} * |ref|)`,
    );
  }
}
