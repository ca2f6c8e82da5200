/**
 * Buffers that kernels of different steps share: scratch a kernel derives from one of its inputs (the
 * primitive's `compiler.derivedInput` fact, e.g. a convolution's unrolled input, which the weight
 * gradient needs again). One buffer per key. Walking the steps in order, a kernel fills the buffer unless an earlier
 * step of the same run filled it from the same value; then it reads it as is. That value is still live
 * (it is read at the later step), so no slot reuse, in-place loop or donated output can have changed it.
 */
import { Var } from "../core/ir.js";
import type { PlanStep } from "./plan-steps.js";

export interface SharedBufferUse {
  readonly step: number;
  /** The value the buffer is derived from (the root of the kernel's input). */
  readonly from: Var;
  /** Whether this step fills the buffer; else it reads what an earlier step of the run put there. */
  readonly fill: boolean;
}

export interface SharedBufferRequest {
  readonly key: string;
  /** What the printed plan calls it. */
  readonly label: string;
  readonly bytes: number;
  /** The steps that use it, in plan order. */
  readonly uses: readonly SharedBufferUse[];
}

export function planSharedBuffers(
  steps: readonly PlanStep[],
  rootOf: (v: Var) => Var,
): SharedBufferRequest[] {
  const byKey = new Map<
    string,
    { label: string; bytes: number; uses: SharedBufferUse[]; holds: Var | null }
  >();
  steps.forEach((s, k) => {
    if (s.kind !== "eqn") return;
    const e = s.equation;
    const derived = e.primitive.compiler?.derivedInput?.(
      e.inputs.map((a) => a.aval),
      e.outputs.map((v) => v.aval),
      e.params,
    );
    const input = derived && e.inputs[derived.input];
    if (!derived || !(input instanceof Var)) return;
    let buffer = byKey.get(derived.key);
    if (!buffer) {
      buffer = { label: derived.label, bytes: derived.bytes, uses: [], holds: null };
      byKey.set(derived.key, buffer);
    }
    const from = rootOf(input);
    const fill = buffer.holds !== from;
    buffer.uses.push({ step: k, from, fill });
    buffer.holds = derived.reusable ? from : null;
  });
  return [...byKey].map(([key, { label, bytes, uses }]) => ({ key, label, bytes, uses }));
}
