/**
 * The differential test against NumPy 1.24 (issue 18): every case of data/numpy-cases.json.gz (random
 * shapes with size 0 and 1, every dtype, axes, NaN, infinities, both zeros and ties; written by
 * generate.py) replayed eagerly and under jit. Integer and bool results, and float results of numpy's
 * dtype, must be numpy's bit for bit (NaN equal to NaN, -0 apart from +0); where tracegrad's dtype
 * deliberately differs (float32 statistics of integers, float32 quantiles where numpy computes in
 * float64; see docs/guides/numpy-differences.md) within a few float32 roundings of the inputs' scale.
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { DType } from "../../src/core/dtype.js";
import { jit, type NdArray, np } from "../../src/index.js";
import { type Arg, FUNCTIONS, type Options } from "./functions.js";

type Encoded = number | string;

interface EncodedArray {
  dtype: string;
  shape: number[];
  data: Encoded[];
}

interface Case {
  fn: string;
  args: (EncodedArray | number | number[])[];
  kw: Options;
  out: EncodedArray[];
}

const file = JSON.parse(
  gunzipSync(readFileSync(new URL("./data/numpy-cases.json.gz", import.meta.url))).toString("utf8"),
) as { meta: { numpy_version: string; cases: number }; cases: Case[] };

const decode = (v: Encoded): number =>
  v === "nan"
    ? Number.NaN
    : v === "inf"
      ? Number.POSITIVE_INFINITY
      : v === "-inf"
        ? Number.NEGATIVE_INFINITY
        : v === "-0"
          ? -0
          : (v as number);

/** numpy's dtype as tracegrad's: indices (int64) are int32. */
const libraryDType = (numpy: string): DType => (numpy === "int64" ? "int32" : (numpy as DType));

const isEncodedArray = (a: unknown): a is EncodedArray => typeof a === "object" && a !== null && "dtype" in a;

function decodeArray(a: EncodedArray): NdArray {
  const values = a.data.map(decode);
  return np.array(a.dtype === "bool" ? values.map((v) => v !== 0) : values, {
    dtype: libraryDType(a.dtype),
    shape: a.shape,
  });
}

/** Calls the function on the case's arguments, with `arrays` standing in for the array arguments. */
function call(c: Case, arrays: readonly NdArray[]): NdArray[] {
  let next = 0;
  const args: Arg[] = c.args.map((a) => (isEncodedArray(a) ? arrays[next++]! : a));
  const spec = FUNCTIONS[c.fn];
  const out = spec?.call
    ? spec.call(args, c.kw)
    : (np as unknown as Record<string, (...xs: unknown[]) => NdArray | NdArray[]>)[c.fn]!(...args, c.kw);
  return Array.isArray(out) ? [...out] : [out as NdArray];
}

/** The largest finite magnitude among the inputs: the scale of float32 rounding in a result. */
function inputScale(arrays: readonly NdArray[]): number {
  let scale = 0;
  for (const a of arrays) {
    for (const v of a.toTypedArray()) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  }
  return scale;
}

const F32_EPS = 2 ** -23;

/** The mismatches of one case's outputs against numpy's, as readable lines (empty when it agrees). */
function compare(c: Case, arrays: readonly NdArray[], outs: readonly NdArray[]): string[] {
  const bad: string[] = [];
  if (outs.length !== c.out.length) return [`${outs.length} outputs, numpy ${c.out.length}`];
  const spec = FUNCTIONS[c.fn];
  c.out.forEach((e, k) => {
    const actual = outs[k]!;
    const numpyDType = libraryDType(e.dtype);
    const dtype =
      spec?.dtype?.(
        arrays.map((a) => a.dtype),
        k,
      ) ?? numpyDType;
    if (actual.dtype !== dtype)
      bad.push(`output ${k}: dtype ${actual.dtype}, expected ${dtype} (numpy ${e.dtype})`);
    if (actual.shape.join() !== e.shape.join()) {
      bad.push(`output ${k}: shape [${actual.shape}], numpy [${e.shape}]`);
      return;
    }
    const got = actual.toTypedArray();
    const want = e.data.map(decode);
    // Exact where the dtype is numpy's; else to float32 rounding of the inputs' scale.
    const exact = dtype === numpyDType && spec?.summed !== true && spec?.libm !== true;
    const atol = exact ? 0 : 8 * F32_EPS * inputScale(arrays);
    want.forEach((w, i) => {
      const g = got[i]!;
      const ok =
        exact || !Number.isFinite(w)
          ? Object.is(g, w) || (dtype === "bool" && g === Number(w)) || (spec?.zerosTie === true && g === w)
          : Math.abs(g - w) <= atol + 4 * F32_EPS * Math.abs(w);
      if (!ok && bad.length < 4) bad.push(`output ${k}[${i}]: ${g}, numpy ${w}`);
    });
  });
  return bad;
}

function describeCase(c: Case, index: number): string {
  const shapes = c.args.map((a) => (isEncodedArray(a) ? `${a.dtype}[${a.shape}]` : JSON.stringify(a)));
  return `#${index} ${c.fn}(${shapes.join(", ")}, ${JSON.stringify(c.kw)})`;
}

const byFunction = new Map<string, { c: Case; index: number }[]>();
file.cases.forEach((c, index) => {
  byFunction.set(c.fn, [...(byFunction.get(c.fn) ?? []), { c, index }]);
});

describe(`np functions against NumPy ${file.meta.numpy_version} (${file.cases.length} cases)`, () => {
  it("the data holds every case the generator wrote", () => {
    expect(file.cases.length).toBe(file.meta.cases);
  });

  for (const [fn, cases] of byFunction) {
    for (const mode of ["eager", "jit"] as const) {
      it(`${fn}: ${cases.length} cases, ${mode}`, () => {
        const failures: string[] = [];
        for (const { c, index } of cases) {
          const arrays = c.args.filter(isEncodedArray).map(decodeArray);
          if (mode === "jit" && FUNCTIONS[c.fn]?.needsSizeUnderJit?.(c.kw, c.args)) {
            let message = "";
            try {
              jit((...xs: NdArray[]) => call(c, xs))(...arrays);
            } catch (e) {
              message = (e as Error).message;
            }
            if (!message.includes("pass { size }"))
              failures.push(
                `${describeCase(c, index)}: expected the error asking for a size, got "${message}"`,
              );
            continue;
          }
          let outs: NdArray[];
          try {
            outs = mode === "eager" ? call(c, arrays) : jit((...xs: NdArray[]) => call(c, xs))(...arrays);
          } catch (e) {
            failures.push(`${describeCase(c, index)}: threw ${(e as Error).message}`);
            continue;
          }
          const bad = compare(c, arrays, outs);
          if (bad.length) failures.push(`${describeCase(c, index)}: ${bad.join("; ")}`);
        }
        expect(failures.slice(0, 12)).toEqual([]);
      });
    }
  }
});
