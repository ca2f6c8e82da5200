/// <reference types="@webgpu/types" preserve="true" />
/**
 * jit plans on WebGPU (issue 23): the program is optimized and fused as for the CPU (passes.ts,
 * fusion.ts, gemm-steps.ts), then every step becomes a compute pipeline: a fused loop's WGSL
 * (webgpu-fused.ts), a GEMM (backend/webgpu/gemm.ts), or the primitive's own `webgpu` rule. Every value
 * has a GPU buffer made once with the plan; a call copies its inputs in (host arrays with
 * `queue.writeBuffer`, device arrays buffer to buffer), records every dispatch in one compute pass,
 * copies the outputs into their own buffers (a donated input's, where one fits) and submits once. It
 * returns DeviceArrays at once: nothing waits for the GPU until someone awaits `x.data()`.
 *
 * What cannot run here (a float64 value, a primitive without a `webgpu` rule, a `call` node, a loop with
 * more buffers than the device binds) throws a WgslUnsupportedError naming it when the plan is compiled;
 * jit then runs that program on the CPU backend and says so (transforms/jit.ts).
 */

import { catchGpuErrors, type WebgpuDevice, WebgpuError } from "../backend/webgpu/device.js";
import { DeviceArray, DeviceArrayReadError, deviceBuffer } from "../backend/webgpu/device-array.js";
import { webgpuGemm } from "../backend/webgpu/gemm.js";
import { WEBGPU_DTYPES, WgslUnsupportedError } from "../backend/webgpu/wgsl.js";
import { type ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { aliasedInput } from "../core/compiler-facts.js";
import type { TypedArray } from "../core/dtype.js";
import type { Atom, Equation } from "../core/ir.js";
import { Var } from "../core/ir.js";
import type { WebgpuKernelSpec } from "../core/primitive.js";
import { sizeOf } from "../core/shape.js";
import { evalPrimitive } from "../core/trace.js";
import { fuse } from "./fusion.js";
import { absorbTransposes } from "./gemm-steps.js";
import { hoistChecks } from "./hoist-checks.js";
import { type ClosedProgram, optimize } from "./passes.js";
import { describeStep, type PlanStep } from "./plan-steps.js";
import { webgpuFusedKernel } from "./webgpu-fused.js";
import { planWebgpuBuffers } from "./webgpu-memory.js";

export interface WebgpuExecutable {
  /** Runs the plan: inputs are host or device arrays, outputs device arrays (donated inputs consumed). */
  run(args: readonly NdArray[], donate: readonly boolean[]): NdArray[];
  readonly steps: readonly PlanStep[];
  /** Each dispatch's label and WGSL, in order. */
  readonly kernels: readonly WebgpuKernelSpec[];
  /**
   * The values between dispatches (not the call's inputs, outputs or constants): the bytes of the
   * buffers they share, and what they would take with a buffer each (webgpu-memory.ts).
   */
  readonly intermediates: { readonly bytes: number; readonly unsharedBytes: number };
  /**
   * Runs the plan on `args` (nothing donated) `runs` times with every dispatch submitted alone and
   * waited for: the median wall time of each kernel, in plan order (a debugging aid: it includes the
   * per-submission overhead that one submission per call does not pay).
   */
  profile(args: readonly NdArray[], runs?: number): Promise<WebgpuKernelTime[]>;
  toString(): string;
}

/** One dispatch's time, from `WebgpuExecutable.profile`. */
export interface WebgpuKernelTime {
  readonly label: string;
  readonly workgroups: readonly number[];
  readonly ms: number;
}

interface Dispatch {
  readonly spec: WebgpuKernelSpec;
  readonly pipeline: GPUComputePipeline;
  readonly bindGroup: GPUBindGroup;
}

/** How plan buffers are used (read when a plan is compiled: the global exists only where WebGPU does). */
const storageUsage = (): number => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

export function compileWebgpu(closed: ClosedProgram, gpu: WebgpuDevice): WebgpuExecutable {
  // WebGPU reports a shader that does not compile, or a buffer beyond a limit, asynchronously (and
  // otherwise only on the console): the errors of building the plan are caught here, and every output
  // of every call waits for them before its values can be read.
  const closeScopes = catchGpuErrors(gpu.device);
  let buildErrors: Promise<string | null> | undefined;
  try {
    return buildWebgpuPlan(closed, gpu, () => buildErrors!);
  } finally {
    buildErrors = closeScopes();
  }
}

function buildWebgpuPlan(
  closed: ClosedProgram,
  gpu: WebgpuDevice,
  buildErrors: () => Promise<string | null>,
): WebgpuExecutable {
  const optimized = optimize(closed);
  const program = hoistChecks(optimized.program);
  const steps = absorbTransposes(fuse(program.equations, program.outputs), program.outputs);
  const { device } = gpu;
  // Values a step reads or writes live on the GPU; an input returned unchanged (an optimizer's float64
  // hyperparameters) is handed back as it came, whatever its dtype.
  const computed = new Set<Var>(
    program.equations.flatMap((e) => [...e.inputs.filter((a) => a instanceof Var), ...e.outputs]),
  );
  for (const a of program.outputs) if (a instanceof Var && !program.inputs.includes(a)) computed.add(a);
  const outputs = new Set(program.outputs.filter((a): a is Var => a instanceof Var));
  for (const v of computed) {
    if (WEBGPU_DTYPES.includes(v.aval.dtype)) continue;
    // A float64 scalar that the plan reads or computes but does not return (a learning-rate schedule's
    // arithmetic, a hyperparameter) computes in float32: it rounds to float32 where it meets the float32
    // values anyway. Any other float64 value keeps the program on the CPU.
    const scalar64 = v.aval.dtype === "float64" && sizeOf(v.aval.shape) === 1 && !outputs.has(v);
    if (!scalar64)
      throw new WgslUnsupportedError(
        `a ${fmtAval(v.aval)} value (WebGPU computes float32, int32, uint32 and bool, and float64 only as scalars it does not return; WGSL has no float64)`,
      );
  }

  // A buffer bound beyond the device's limit would be an invalid binding: such programs stay on the CPU.
  const bindLimit = device.limits.maxStorageBufferBindingSize;
  for (const v of computed) {
    const bytes = sizeOf(v.aval.shape) * 4;
    if (bytes > bindLimit)
      throw new WgslUnsupportedError(
        `a ${fmtAval(v.aval)} value of ${bytes} bytes (this device binds at most ${bindLimit} bytes per storage buffer)`,
      );
  }

  const newBuffer = (elements: number): GPUBuffer =>
    device.createBuffer({ size: Math.max(4, elements * 4), usage: storageUsage() });
  const upload = (buffer: GPUBuffer, value: ConcreteArray): void => {
    const data = deviceStorage(value);
    device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
  };
  // Dispatches are collected first and bound to buffers once the memory plan is made. An operand is a
  // value (whose buffer comes from the plan) or a literal's buffer; a view's output is its input's value.
  type Operand = Var | GPUBuffer;
  const viewOf = new Map<Var, Operand>();
  const source = (v: Var): Operand => {
    let o: Operand = v;
    while (o instanceof Var && viewOf.has(o)) o = viewOf.get(o)!;
    return o;
  };
  const atomOperand = (a: Atom): Operand => {
    if (a instanceof Var) return a;
    const b = newBuffer(sizeOf(a.aval.shape));
    upload(b, a.value);
    return b;
  };

  const pending: { spec: WebgpuKernelSpec; operands: readonly Operand[]; pipeline: GPUComputePipeline }[] =
    [];
  const hostChecks: { equation: Equation; argument: number }[] = [];
  const maxBindings = device.limits.maxStorageBuffersPerShaderStage;
  const add = (spec: WebgpuKernelSpec, operands: readonly Operand[], what: string): void => {
    if (spec.workgroups.some((g) => g === 0)) return;
    if (operands.length > maxBindings)
      throw new WgslUnsupportedError(
        `${what} binds ${operands.length} buffers; the device binds ${maxBindings}`,
      );
    const module = device.createShaderModule({ code: spec.code, label: spec.label });
    const pipeline = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
    });
    pending.push({ spec, operands, pipeline });
  };

  steps.forEach((s, k) => {
    const what = describeStep(s, k);
    if (s.kind === "gemm") {
      const spec = webgpuGemm({
        dtype: s.dtype,
        batch: s.batch,
        m: s.m,
        k: s.k,
        n: s.n,
        transposeA: s.transposeA,
        transposeB: s.transposeB,
      });
      add(spec, [s.a, s.b, s.out], what);
      return;
    }
    if (s.kind === "fused") {
      const reduction = s.reduction;
      const reduced = reduction?.inputs[0] as Var | undefined;
      const stored = s.outputs.filter((v) => v !== reduction?.outputs[0]);
      if (reduced && !stored.includes(reduced)) stored.push(reduced);
      add(webgpuFusedKernel(s, stored), [...s.inputs, ...stored], what);
      if (reduction) addEquation(reduction, what);
      return;
    }
    addEquation(s.equation, what);
  });

  function addEquation(e: Equation, what: string): void {
    if (e.primitive.validatesOnly) {
      // A value check (class targets in range): it runs on the host, before the dispatch, on the input
      // it checks, which must be one of the call's arguments; the output is that input, unchanged.
      const checked = e.inputs[0];
      const index = checked instanceof Var ? program.inputs.indexOf(checked) : -1;
      if (index < 0)
        throw new WgslUnsupportedError(
          `${e.primitive.name} of a value computed on the GPU (it checks host values)`,
        );
      hostChecks.push({ equation: e, argument: index });
      viewOf.set(e.outputs[0]!, checked as Var);
      return;
    }
    const alias = aliasedInput(e);
    if (alias !== undefined) {
      // A view (reshape): the output is the input's buffer.
      viewOf.set(e.outputs[0]!, atomOperand(alias));
      return;
    }
    const rule = e.primitive.webgpu;
    if (!rule) throw new WgslUnsupportedError(`${e.primitive.name} (no WebGPU kernel yet)`);
    const spec = rule(
      e.inputs.map((a) => a.aval),
      e.outputs.map((v) => v.aval),
      e.params as never,
    );
    add(spec, [...e.inputs.map(atomOperand), ...e.outputs], what);
  }

  // The call's inputs, outputs and constants keep buffers of their own; values between dispatches share.
  const pinned = new Set<Operand>(
    [...program.inputs, ...program.constVars, ...outputs].map((v) => source(v)),
  );
  const memory = planWebgpuBuffers(
    pending.map((d) => d.operands.map((o) => (o instanceof Var ? source(o) : o))),
    (o) => (o instanceof Var ? Math.max(4, sizeOf(o.aval.shape) * 4) : 0),
    (o) => !(o instanceof Var) || pinned.has(o),
  );
  const shared = memory.bufferBytes.map((size) => device.createBuffer({ size, usage: storageUsage() }));
  const own = new Map<Var, GPUBuffer>();
  const bufferOf = (v: Var): GPUBuffer => {
    const o = source(v);
    if (!(o instanceof Var)) return o;
    const k = memory.bufferOf.get(o);
    if (k !== undefined) return shared[k]!;
    let b = own.get(o);
    if (!b) own.set(o, (b = newBuffer(sizeOf(o.aval.shape))));
    return b;
  };
  const atomBuffer = (a: Atom): GPUBuffer => (a instanceof Var ? bufferOf(a) : (atomOperand(a) as GPUBuffer));
  program.constVars.forEach((v, i) => {
    if (computed.has(v)) upload(bufferOf(v), optimized.consts[i]!.concrete());
  });
  const dispatches: Dispatch[] = pending.map(({ spec, operands, pipeline }) => ({
    spec,
    pipeline,
    bindGroup: device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: operands.map((o, binding) => ({
        binding,
        resource: { buffer: o instanceof Var ? bufferOf(o) : o },
      })),
    }),
  }));
  const sharedBytes = memory.bufferBytes.reduce((a, b) => a + b, 0);

  const inputBuffers = program.inputs.map((v) => (computed.has(v) ? bufferOf(v) : null));
  /** Per output: the argument it is, when the program returns an input unchanged, else -1. */
  const returnedInput = program.outputs.map((a) => (a instanceof Var ? program.inputs.indexOf(a) : -1));
  const outputBuffers = program.outputs.map((a, k) => (returnedInput[k]! >= 0 ? null : atomBuffer(a)));
  const copyInputs = (encoder: GPUCommandEncoder, args: readonly NdArray[]): void => {
    args.forEach((arg, i) => {
      const target = inputBuffers[i];
      const bytes = sizeOf(arg.shape) * 4;
      if (!target || bytes === 0) return;
      if (arg instanceof DeviceArray) encoder.copyBufferToBuffer(deviceBuffer(arg), 0, target, 0, bytes);
      else upload(target, arg.concrete());
    });
  };
  return {
    steps,
    kernels: dispatches.map((d) => d.spec),
    intermediates: { bytes: sharedBytes, unsharedBytes: memory.unsharedBytes },
    async profile(args, runs = 5) {
      const times = dispatches.map((): number[] => []);
      for (let r = 0; r < runs; r++) {
        const encoder = device.createCommandEncoder();
        copyInputs(encoder, args);
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        for (const [k, d] of dispatches.entries()) {
          const started = performance.now();
          const one = device.createCommandEncoder();
          const pass = one.beginComputePass();
          pass.setPipeline(d.pipeline);
          pass.setBindGroup(0, d.bindGroup);
          pass.dispatchWorkgroups(...(d.spec.workgroups as [number, number, number]));
          pass.end();
          device.queue.submit([one.finish()]);
          await device.queue.onSubmittedWorkDone();
          times[k]!.push(performance.now() - started);
        }
      }
      return dispatches.map((d, k) => ({
        label: d.spec.label,
        workgroups: d.spec.workgroups,
        ms: [...times[k]!].sort((p, q) => p - q)[Math.floor(runs / 2)]!,
      }));
    },
    toString: () =>
      [
        `WebGPU plan on ${gpu.adapter}: ${dispatches.length} dispatches; values between them in ${memory.bufferBytes.length} shared buffers, ${sharedBytes} bytes (${memory.unsharedBytes} with one each)`,
        ...dispatches.map((d, k) => `  ${k}: ${d.spec.label}`),
      ].join("\n"),
    run(args, donate) {
      for (const { equation, argument } of hostChecks) {
        const value = args[argument]!;
        if (value instanceof DeviceArray)
          throw new DeviceArrayReadError(
            `${equation.primitive.name} checks its input's values on the host, but argument ${argument} is a device array: pass it as a host array`,
          );
        evalPrimitive(equation.primitive, [value.concrete()], equation.params);
      }
      // The outputs are ready once the plan built and the GPU took this call's work without an error, and
      // once every device input was ready: a failure anywhere upstream makes reading them throw.
      let reportRun!: (errors: Promise<string | null>) => void;
      const runErrors = new Promise<string | null>((resolve) => {
        reportRun = resolve;
      });
      const upstream = args.filter((a): a is DeviceArray => a instanceof DeviceArray).map((a) => a.ready);
      const ready = Promise.all([buildErrors(), runErrors, ...upstream]).then(([built, ran]) => {
        if (built)
          throw new WebgpuError(`the WebGPU plan's kernels did not build on ${gpu.adapter}: ${built}`);
        if (ran) throw new WebgpuError(`the GPU refused a call of the WebGPU plan on ${gpu.adapter}: ${ran}`);
      });
      // Handled where the values are read (x.data()); an unread failed output is not an unhandled rejection.
      ready.catch(() => {});
      const closeScopes = catchGpuErrors(device);
      try {
        return encodeCall(args, donate, ready);
      } finally {
        reportRun(closeScopes());
      }
    },
  };

  function encodeCall(args: readonly NdArray[], donate: readonly boolean[], ready: Promise<void>): NdArray[] {
    const encoder = device.createCommandEncoder();
    copyInputs(encoder, args);
    const pass = encoder.beginComputePass();
    for (const d of dispatches) {
      pass.setPipeline(d.pipeline);
      pass.setBindGroup(0, d.bindGroup);
      pass.dispatchWorkgroups(...(d.spec.workgroups as [number, number, number]));
    }
    pass.end();
    // Donated device inputs give their buffers to outputs of the same size, once (as the CPU plans do).
    const returned = new Set(returnedInput.filter((i) => i >= 0));
    const free = args
      .map((a, i) =>
        donate[i] && a instanceof DeviceArray && !returned.has(i) ? { array: a, bytes: a.size * 4 } : null,
      )
      .filter((d): d is { array: DeviceArray; bytes: number } => d !== null);
    const outs = program.outputs.map((a, k): NdArray => {
      if (returnedInput[k]! >= 0) return args[returnedInput[k]!]!;
      const bytes = sizeOf(a.aval.shape) * 4;
      const fit = free.findIndex((d) => d.bytes === bytes);
      let target: GPUBuffer;
      if (fit >= 0) {
        target = deviceBuffer(free[fit]!.array);
        free[fit]!.array.donate();
        free.splice(fit, 1);
      } else target = newBuffer(sizeOf(a.aval.shape));
      if (bytes > 0) encoder.copyBufferToBuffer(outputBuffers[k]!, 0, target, 0, bytes);
      return new DeviceArray(a.aval.shape, a.aval.dtype, target, gpu, ready);
    });
    device.queue.submit([encoder.finish()]);
    for (const [i, arg] of args.entries())
      if (donate[i] && arg instanceof DeviceArray && !arg.isDonated && !returned.has(i)) arg.donate();
    return outs;
  }
}

/** A host array's values as the GPU stores them (bool as u32 0/1, a float64 scalar as float32). */
function deviceStorage(value: ConcreteArray): TypedArray {
  if (value.dtype === "bool") return Uint32Array.from(value.storage);
  return value.dtype === "float64" ? Float32Array.from(value.storage) : value.storage;
}
