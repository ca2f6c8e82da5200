/**
 * Transforming a whole program at once, for higher-order primitives (jit, cond, scan, checkpoint):
 * the JVP of a program and its batched version, each staged into a new program and cached.
 */
import type { AbstractValue, NdArray } from "../core/array.js";
import { evalProgram, Program } from "../core/ir.js";
import type { BatchDim } from "../core/primitive.js";
import { stageFlat } from "../core/staging.js";
import { instantiate, jvpFlat } from "./jvp.js";
import { vmapFlat } from "./vmap.js";

/** A program with no constVars: captured constants are leading inputs, bound with `consts`. */
export interface ClosedOver {
  program: Program;
  consts: NdArray[];
}

/** A staged program with its constants moved into leading inputs. */
export function closeOver(staged: { program: Program; consts: NdArray[] }): ClosedOver {
  const p = staged.program;
  return {
    program: new Program([], [...p.constVars, ...p.inputs], p.equations, p.outputs),
    consts: staged.consts,
  };
}

/** Stages `f` on `avals` into a closed-over program. */
export function stageClosed(f: (xs: NdArray[]) => NdArray[], avals: readonly AbstractValue[]): ClosedOver {
  return closeOver(stageFlat(f, avals));
}

const jvpCache = new WeakMap<Program, ClosedOver>();

/** The program mapping [inputs, tangents] to [outputs, output tangents] (zeros instantiated). */
export function jvpProgram(program: Program): ClosedOver {
  let out = jvpCache.get(program);
  if (!out) {
    const n = program.inputs.length;
    const avals = program.inputs.map((v) => v.aval);
    out = stageClosed(
      (xs) => {
        const [outs, touts] = jvpFlat((ys) => evalProgram(program, [], ys), xs.slice(0, n), xs.slice(n));
        return [...outs, ...touts.map(instantiate)];
      },
      [...avals, ...avals],
    );
    jvpCache.set(program, out);
  }
  return out;
}

const batchCache = new WeakMap<Program, Map<string, ClosedOver>>();

/**
 * The program over batched inputs (`dims` per input, null for unbatched) with every output batched at 0,
 * or at `outDims` when given (null: an output that does not depend on a batched input stays unbatched).
 */
export function vmapProgram(
  program: Program,
  args: readonly AbstractValue[],
  dims: readonly BatchDim[],
  outDims?: readonly BatchDim[],
): ClosedOver {
  let byDims = batchCache.get(program);
  if (!byDims) batchCache.set(program, (byDims = new Map()));
  const key = `${args.map((a, i) => `${a.dtype}${a.shape.join("x")}@${dims[i] ?? "n"}`).join(",")}${outDims ? ` -> ${outDims.map((d) => d ?? "n").join(",")}` : ""}`;
  let out = byDims.get(key);
  if (!out) {
    out = stageClosed(
      (xs) =>
        vmapFlat(
          (ys) => evalProgram(program, [], ys),
          dims,
          (n) => outDims ?? new Array<BatchDim>(n).fill(0),
          xs,
        ),
      args.map((a) => ({ shape: a.shape, dtype: a.dtype })),
    );
    byDims.set(key, out);
  }
  return out;
}
