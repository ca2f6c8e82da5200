/**
 * Eager elementwise calls in WebAssembly SIMD (issue 22): an eager call of an elementwise primitive on at
 * least `fusedThresholds.eager` elements runs the loop a jit plan would fuse for that one equation
 * (fused-wasm.ts), with its operands staged in the kernel's own memory, instead of the JS loop. Constant
 * operands (`ConcreteArray.filled`) are one-element inputs broadcast inside the loop, and deferred
 * broadcasts (`pendingBroadcastOf`, a bias row) their sources, read through the broadcast. The loop is built
 * once per primitive, operand dtypes, shape, constant operands and params, and kept in the kernel cache;
 * fused-wasm.ts gives the JS loop's bits, so eager keeps jit's.
 */
import { standaloneKernel } from "../backend/plan-memory.js";
import { makeEquation } from "../core/compiler-facts.js";
import type { TypedArray } from "../core/dtype.js";
import { Var } from "../core/ir.js";
import { paramsKey } from "../core/primitive.js";
import { sizeOf } from "../core/shape.js";
import { setEagerElementwiseKernel } from "../ops/elementwise-kit.js";
import { broadcastInDimPrim } from "../ops/layout.js";
import { fusedThresholds, wasmFusedKernel } from "./fused-wasm.js";
import type { FusedGroup } from "./fusion.js";

type EagerLoop = (ins: readonly TypedArray[], out: TypedArray) => void;

/** Eager elementwise calls that ran in WebAssembly (for tests). */
export const eagerFusedCalls = { count: 0 };

setEagerElementwiseKernel((prim, args, constants, params) => {
  const shape = args[0]!.shape;
  if (sizeOf(shape) < fusedThresholds.eager) return null;
  let key = `elementwise ${prim.name} [${shape.join(",")}] ${constants}`;
  for (const a of args) {
    key += ` ${a.dtype}`;
    const b = a.pendingBroadcastOf;
    if (b !== undefined) key += `<-[${b.source.shape.join(",")}]@${b.broadcastDimensions.join(",")}`;
  }
  key += ` ${paramsKey(params)}`;
  return standaloneKernel(key, (context): EagerLoop | null => {
    // inputs: one per operand (a constant one a scalar, broadcast in the loop); the output after them.
    const inputs: Var[] = [];
    const operands: Var[] = [];
    const equations = [];
    for (let k = 0; k < args.length; k++) {
      const a = args[k]!;
      const deferred = a.pendingBroadcastOf;
      if ((constants & (1 << k)) === 0 && deferred === undefined) {
        const v = new Var({ shape: a.shape, dtype: a.dtype });
        inputs.push(v);
        operands.push(v);
        continue;
      }
      // A constant is a scalar broadcast in the loop; a deferred broadcast, its source.
      const source = new Var({ shape: deferred === undefined ? [] : deferred.source.shape, dtype: a.dtype });
      const dims = deferred === undefined ? [] : deferred.broadcastDimensions;
      const wide = new Var({ shape: a.shape, dtype: a.dtype });
      equations.push(
        makeEquation(broadcastInDimPrim, { shape: a.shape, broadcastDimensions: dims }, [source], [wide]),
      );
      inputs.push(source);
      operands.push(wide);
    }
    const [outAval] = prim.abstractEval(
      args.map((a) => ({ shape: a.shape, dtype: a.dtype })),
      params,
    );
    const out = new Var(outAval!);
    equations.push(makeEquation(prim, params, operands, [out]));
    const group: FusedGroup = { kind: "fused", shape, equations, inputs, outputs: [out] };
    const slots = new Map<Var, number>(inputs.map((v, k) => [v, k]));
    slots.set(out, inputs.length);
    const kernel = wasmFusedKernel(group, context, (v) => slots.get(v)!);
    if (kernel === null) return null;
    return (ins, o) => {
      kernel.run([...ins, o]);
      eagerFusedCalls.count++;
    };
  });
});
