/**
 * `scan` (JAX's lax.scan) and `checkpoint` (rematerialization: the backward pass recomputes the
 * function's intermediates from its inputs) as traced primitives, composable with every transform.
 * `switchCase`/`cond` live in control-flow-switch.ts, `whileLoop`/`forLoop` in control-flow-while.ts.
 *
 * Under partial evaluation (linearize, vjp, grad) a scan splits into a scan of its known part, run now,
 * which stacks the residuals, and one recorded scan linear in the unknown inputs, whose transpose is a
 * scan in the other direction; in a jit plan each body is compiled once into a plan of its own and run as
 * a loop.
 */
import { type AbstractValue, ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { NARROW_DTYPES, storageFor, type TypedArray } from "../core/dtype.js";
import { programHasEffects } from "../core/effects.js";
import { type Atom, type Equation, evalProgram, Literal, Program, type Var } from "../core/ir.js";
import { checkOptions } from "../core/options.js";
import { type BatchDim, type Primitive, primitive, UndefinedPrimal } from "../core/primitive.js";
import { ShapeError, sizeOf } from "../core/shape.js";
import { Tracer } from "../core/trace.js";
import { zip } from "../core/tuple.js";
import { add } from "../ops/binary.js";
import { batchSize, broadcastTo, moveAxisTo0, moveaxis, reshape } from "../ops/layout.js";
import { slice, stack } from "../ops/shape.js";
import { assertSameStructure, type TreeDef, treeDefToString, unflatten } from "../tree/treedef.js";
import { checkAvals, PlanOperands, subPlanCompiler, zerosOf } from "./control-flow-common.js";
import { scanToOnnx } from "./control-flow-onnx.js";
import { flattenArgs, flattenFun } from "./flat.js";
import { instantiate, jvpFlat } from "./jvp.js";
import { linearizeFlat } from "./linearize.js";
import { type PartialEvalTrace, type PartialEvalTracer, partialEvalFlat } from "./partial-eval.js";
import { type ClosedOver, stageClosed, vmapProgram } from "./program-transforms.js";
import { hoistAccumulators } from "./scan-hoist.js";
import { transposeProgram } from "./transpose.js";
import { vmapFlat } from "./vmap.js";

// ---------------------------------------------------------------------------------------------------
// scan

export interface ScanParams {
  /** Over [consts, carry, x] to [carry, y]. */
  body: Program;
  numConsts: number;
  numCarry: number;
  length: number;
  reverse: boolean;
}

function scanOutAvals(op: string, avals: readonly AbstractValue[], p: ScanParams): AbstractValue[] {
  const { body, numConsts, numCarry, length } = p;
  const consts = avals.slice(0, numConsts);
  const carry = avals.slice(numConsts, numConsts + numCarry);
  const xs = avals.slice(numConsts + numCarry);
  for (const x of xs) {
    if (x.shape[0] !== length)
      throw new ShapeError(`${op}: scanned inputs must have leading size ${length}, got ${fmtAval(x)}`);
  }
  const xSlices = xs.map((x) => ({ shape: x.shape.slice(1), dtype: x.dtype }));
  checkAvals(op, "body inputs", [...consts, ...carry, ...xSlices], body.inAvals);
  const outs = body.outAvals;
  checkAvals(
    op,
    "the carry returned by the body differs from the carry it was given",
    outs.slice(0, numCarry),
    carry,
  );
  return [
    ...outs.slice(0, numCarry),
    ...outs.slice(numCarry).map((y) => ({ shape: [length, ...y.shape], dtype: y.dtype })),
  ];
}

/** Row `i` of a concrete array, as an array of the remaining shape (a view, no copy). */
function row(x: ConcreteArray, i: number): ConcreteArray {
  const inner = sizeOf(x.shape.slice(1));
  return new ConcreteArray(x.shape.slice(1), x.dtype, x.storage.subarray(i * inner, (i + 1) * inner));
}

export const scanPrim: Primitive<ScanParams> = primitive<ScanParams>({
  name: "scan",
  narrowDtypes: NARROW_DTYPES,
  abstractEval: (avals, p) => scanOutAvals("scan", avals, p),
  impl(args, p) {
    const { body, numConsts, numCarry, length, reverse } = p;
    const consts = args.slice(0, numConsts);
    let carry: NdArray[] = args.slice(numConsts, numConsts + numCarry);
    const xs = args.slice(numConsts + numCarry);
    const yAvals = body.outAvals.slice(numCarry);
    const ys = yAvals.map((a) => storageFor(a.dtype, length * sizeOf(a.shape)));
    for (let k = 0; k < length; k++) {
      const i = reverse ? length - 1 - k : k;
      const outs = evalProgram(body, [], [...consts, ...carry, ...xs.map((x) => row(x, i))]);
      carry = outs.slice(0, numCarry);
      for (const [y, data, aval] of zip(outs.slice(numCarry), ys, yAvals)) {
        data.set(y.concrete().storage, i * sizeOf(aval.shape));
      }
    }
    return [
      ...carry.map((c) => c.concrete()),
      ...zip(ys, yAvals).map(([data, aval]) => new ConcreteArray([length, ...aval.shape], aval.dtype, data)),
    ];
  },
  jvp(args, tangents, p) {
    const { body, numConsts: nC, numCarry: nK } = p;
    const nX = args.length - nC - nK;
    const avals = body.inAvals;
    // New body over [consts, tconsts, carry, tcarry, x, tx] -> [carry, tcarry, y, ty].
    const jbody = stageClosed(
      (zs) => {
        const part = (start: number, n: number) => zs.slice(start, start + n);
        const c = part(0, nC);
        const tc = part(nC, nC);
        const k = part(2 * nC, nK);
        const tk = part(2 * nC + nK, nK);
        const x = part(2 * nC + 2 * nK, nX);
        const tx = part(2 * nC + 2 * nK + nX, nX);
        const [outs, touts] = jvpFlat(
          (ys) => evalProgram(body, [], ys),
          [...c, ...k, ...x],
          [...tc, ...tk, ...tx],
        );
        const t = touts.map(instantiate);
        return [...outs.slice(0, nK), ...t.slice(0, nK), ...outs.slice(nK), ...t.slice(nK)];
      },
      [
        ...avals.slice(0, nC),
        ...avals.slice(0, nC),
        ...avals.slice(nC, nC + nK),
        ...avals.slice(nC, nC + nK),
        ...avals.slice(nC + nK),
        ...avals.slice(nC + nK),
      ],
    );
    const seg = (xs: readonly NdArray[], start: number, n: number) => xs.slice(start, start + n);
    const outs = scanPrim.bind(
      [
        ...jbody.consts,
        ...seg(args, 0, nC),
        ...seg(tangents, 0, nC),
        ...seg(args, nC, nK),
        ...seg(tangents, nC, nK),
        ...seg(args, nC + nK, nX),
        ...seg(tangents, nC + nK, nX),
      ],
      { ...p, body: jbody.program, numConsts: jbody.consts.length + 2 * nC, numCarry: 2 * nK },
    );
    const nY = body.outputs.length - nK;
    return {
      primalsOut: [...outs.slice(0, nK), ...outs.slice(2 * nK, 2 * nK + nY)],
      tangentsOut: [...outs.slice(nK, 2 * nK), ...outs.slice(2 * nK + nY)],
    };
  },
  batch(args, dims, p) {
    const { body, numConsts: nC, numCarry: nK, length } = p;
    const size = batchSize(args, dims);
    // Consts keep their batch axis (moved to 0); carries are always batched; xs carry it on axis 1.
    const part = (from: number, to?: number) => zip(args.slice(from, to), dims.slice(from, to));
    const consts = part(0, nC).map(([c, d]) => (d === null ? c : moveAxisTo0(c, d)));
    const constDims = dims.slice(0, nC).map((d) => (d === null ? null : 0));
    const carry = part(nC, nC + nK).map(([c, d]) =>
      d === null ? broadcastTo(c, [size, ...c.shape]) : moveAxisTo0(c, d),
    );
    const xs = part(nC + nK).map(([x, d]) => (d === null ? x : moveaxis(x, d, 1)));
    const xDims = dims.slice(nC + nK).map((d) => (d === null ? null : 0));
    const bodyArgs = [...consts, ...carry, ...xs.map((x) => ({ shape: x.shape.slice(1), dtype: x.dtype }))];
    const vbody = vmapProgram(body, bodyArgs, [...constDims, ...carry.map(() => 0), ...xDims]);
    const outs = scanPrim.bind([...vbody.consts, ...consts, ...carry, ...xs], {
      ...p,
      body: vbody.program,
      numConsts: vbody.consts.length + nC,
      length,
    });
    return [outs, outs.map((_, i) => (i < nK ? 0 : 1))];
  },
  // In a jit plan: the body compiled once into the plan's memory and run `length` times, reading row views
  // of xs and writing its ys straight into their rows; each carry alternates between the carry output and
  // a second buffer, so that the last step writes the output. Nothing is allocated or copied per step.
  lower(inAvals, outAvals, p, context) {
    const { body, numConsts: nC, numCarry: nK, length, reverse } = p;
    // The consts are the body's invariants: its kernels may derive what they need of them once per call.
    const bodyPlan = subPlanCompiler("scan", context)("body", body, { invariantInputs: nC });
    const operands = new PlanOperands(context, inAvals, outAvals);
    const spare = outAvals.slice(0, nK).map((a) => operands.scratch(a));
    const nX = inAvals.length - nC - nK;
    const rowSizes = [...inAvals.slice(nC + nK), ...outAvals.slice(nK)].map((a) => sizeOf(a.shape.slice(1)));
    const args = new Array<TypedArray>(inAvals.length);
    const dests = new Array<TypedArray>(outAvals.length);
    const row = (x: TypedArray, size: number, i: number) => x.subarray(i * size, (i + 1) * size);
    return (ins, outs) => {
      const from = operands.inputs(ins);
      const to = operands.outputs(outs);
      for (let j = 0; j < nC + nK; j++) args[j] = from[j]!;
      bodyPlan.invariantsChanged();
      for (let k = 0; k < length; k++) {
        const i = reverse ? length - 1 - k : k;
        for (let j = 0; j < nX; j++) args[nC + nK + j] = row(from[nC + nK + j]!, rowSizes[j]!, i);
        for (let j = 0; j < nK; j++) dests[j] = (length - 1 - k) % 2 === 0 ? to[j]! : spare[j]!();
        for (let j = nK; j < dests.length; j++) dests[j] = row(to[j]!, rowSizes[nX + j - nK]!, i);
        bodyPlan.runInto(args, dests);
        for (let j = 0; j < nK; j++) args[nC + j] = dests[j]!;
      }
      if (length === 0) for (let j = 0; j < nK; j++) to[j]!.set(from[nC + j]!);
      operands.finish(outs);
    };
  },
  // Linearizing a scan splits its body (JAX's _scan_partial_eval): a scan of the known part runs now and
  // stacks the residuals the rest needs; the rest is recorded as one scan, linear in the unknown inputs.
  partialEval(args, p) {
    return scanPartialEval(args, p) ?? unrolledScan(args, p);
  },
  // The transpose of a linear scan is a scan in the other direction over the residuals and output
  // cotangents, carrying the carry's cotangent and the sum of the linear consts' cotangents.
  transpose(cts, args, p) {
    return transposeScan(cts, args, p);
  },
  onnx: (g, inputs, p, _inAvals, outAvals) =>
    scanToOnnx(g, inputs, p.body, p.numConsts, p.numCarry, p.length, p.reverse, outAvals),
  formatParams: (p) =>
    `length=${p.length} numCarry=${p.numCarry}${p.reverse ? " reverse" : ""} body=(${p.body.equations.length} eqns)`,
});

// ---------------------------------------------------------------------------------------------------
// scan under linearize (partial evaluation) and transposition

/** The scan, one body per step, in the current interpreter (for bodies with effects, or no steps). */
function unrolledScan(args: readonly NdArray[], p: ScanParams): NdArray[] {
  const { body, numConsts: nC, numCarry: nK, length, reverse } = p;
  const consts = args.slice(0, nC);
  let carry = args.slice(nC, nC + nK);
  const xs = args.slice(nC + nK);
  const ys: NdArray[][] = [];
  for (let k = 0; k < length; k++) {
    const i = reverse ? length - 1 - k : k;
    const xi = xs.map((x) => reshape(slice(x, [{ start: i, stop: i + 1 }]), x.shape.slice(1)));
    const outs = evalProgram(body, [], [...consts, ...carry, ...xi]);
    carry = outs.slice(0, nK);
    ys[i] = outs.slice(nK);
  }
  const nY = body.outputs.length - nK;
  const stacked = Array.from({ length: nY }, (_, j) =>
    length === 0
      ? zerosOf({ shape: [0, ...body.outAvals[nK + j]!.shape], dtype: body.outAvals[nK + j]!.dtype })
      : stack(ys.map((y) => y[j]!)),
  );
  return [...carry, ...stacked];
}

/** Where a residual of the body's unknown part comes from. */
type ResidualSource =
  | { kind: "const"; input: number } // a known const of the scan: passed as a const
  | { kind: "x"; input: number } // a row of a known xs: the xs passed as they are
  | { kind: "constant"; value: NdArray } // a constant of the body
  | { kind: "step" }; // computed per step: stacked as an extra output of the known scan

interface BodySplit {
  /** Over [its consts, the known inputs] to [known outputs, per-step residuals]. */
  known: ClosedOver;
  /** Over [the unknown inputs] with constVars = the residuals, to the unknown outputs. */
  unknown: Program;
  residuals: ResidualSource[];
  outUnknown: boolean[];
}

/** Partially evaluates the body with the inputs flagged `unknown` unknown, staging the known part. */
function splitBody(
  p: ScanParams,
  unknown: readonly boolean[],
  forceUnknown: (i: number) => boolean,
): BodySplit {
  const { body, numConsts: nC, numCarry: nK } = p;
  const inAvals = body.inputs.map((v) => v.aval);
  const knownAt = unknown.flatMap((u, i) => (u ? [] : [i]));
  let result: Omit<BodySplit, "known"> | undefined;
  const known = stageClosed(
    (ks) => {
      const ins: (NdArray | null)[] = inAvals.map(() => null);
      knownAt.forEach((pos, j) => {
        ins[pos] = ks[j]!;
      });
      const pe = partialEvalFlat((xs) => evalProgram(body, [], xs), ins, inAvals, forceUnknown);
      const residuals = pe.consts.map((r): ResidualSource => {
        const j = ks.indexOf(r);
        const pos = j < 0 ? -1 : knownAt[j]!;
        if (pos >= 0 && pos < nC) return { kind: "const", input: pos };
        if (pos >= nC + nK) return { kind: "x", input: pos };
        return r instanceof Tracer ? { kind: "step" } : { kind: "constant", value: r };
      });
      result = { unknown: pe.program, residuals, outUnknown: pe.outsKnown.map((o) => o === null) };
      return [
        ...pe.outsKnown.filter((o): o is NdArray => o !== null),
        ...pe.consts.filter((_, j) => residuals[j]!.kind === "step"),
      ];
    },
    knownAt.map((i) => inAvals[i]!),
  );
  return { known, ...result! };
}

/**
 * A scan with some inputs known and some not: the known part as a scan now, the unknown part recorded as
 * one scan over the residuals. Null when the body has effects (their order would change) or no steps.
 */
function scanPartialEval(args: readonly NdArray[], p: ScanParams): NdArray[] | null {
  const { body, numConsts: nC, numCarry: nK, length, reverse } = p;
  if (length === 0 || programHasEffects(body)) return null;
  const tracers = args as readonly PartialEvalTracer[];
  const trace = tracers.find((t) => t.known === null)!.trace;
  const unknown = tracers.map((t) => t.known === null);
  // A carry is unknown if its initial value is, or if the body makes it so from unknown inputs.
  let split: BodySplit;
  for (;;) {
    const flags = [...unknown];
    split = splitBody(p, flags, (i) => i < nK && flags[nC + i]!);
    const grew = split.outUnknown.slice(0, nK).map((u, i) => u && !unknown[nC + i]);
    if (!grew.some((g) => g)) break;
    grew.forEach((g, i) => {
      if (g) unknown[nC + i] = true;
    });
  }
  const { known, unknown: unknownBody, residuals, outUnknown } = split;
  const nX = args.length - nC - nK;
  const at = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);
  const knownIn = (positions: number[]) =>
    positions.filter((i) => !unknown[i]).map((i) => tracers[i]!.known!);
  const unknownIn = (positions: number[]) => positions.filter((i) => unknown[i]).map((i) => tracers[i]!);
  const constPos = at(0, nC);
  const carryPos = at(nC, nK);
  const xPos = at(nC + nK, nX);

  // The known part: [known carry, known ys, per-step residuals].
  const knownOuts = scanPrim.bind(
    [...known.consts, ...knownIn(constPos), ...knownIn(carryPos), ...knownIn(xPos)],
    {
      body: known.program,
      numConsts: known.consts.length + knownIn(constPos).length,
      numCarry: knownIn(carryPos).length,
      length,
      reverse,
    },
  );
  const nKnownOut = outUnknown.filter((u) => !u).length;
  const stepResiduals = knownOuts.slice(nKnownOut);

  // The unknown part: consts [invariant residuals, unknown consts], carry, xs [unknown xs, residual xs].
  const resVars = unknownBody.constVars;
  const invariant = residuals.flatMap((r, j) => (r.kind === "const" || r.kind === "constant" ? [j] : []));
  const perRow = residuals.flatMap((r, j) => (r.kind === "x" || r.kind === "step" ? [j] : []));
  const nUkConsts = unknownIn(constPos).length;
  const nUkCarry = unknownIn(carryPos).length;
  const ukInputs = unknownBody.inputs;
  const program = new Program(
    [],
    [
      ...invariant.map((j) => resVars[j]!),
      ...ukInputs.slice(0, nUkConsts + nUkCarry),
      ...ukInputs.slice(nUkConsts + nUkCarry),
      ...perRow.map((j) => resVars[j]!),
    ],
    unknownBody.equations,
    unknownBody.outputs,
  );
  let step = 0;
  const residualValue = (j: number): NdArray => {
    const r = residuals[j]!;
    if (r.kind === "const" || r.kind === "x") return tracers[r.input]!.known!;
    if (r.kind === "constant") return r.value;
    return stepResiduals[step++]!;
  };
  const invariantValues = invariant.map(residualValue);
  const rowValues = perRow.map(residualValue);
  const unknownOuts = (trace as PartialEvalTrace).recordEquation(
    scanPrim,
    [
      ...invariantValues,
      ...unknownIn(constPos),
      ...carryPos.filter((i) => unknown[i]).map((i) => tracers[i]!),
      ...unknownIn(xPos),
      ...rowValues,
    ],
    {
      body: program,
      numConsts: invariant.length + nUkConsts,
      numCarry: nUkCarry,
      length,
      reverse,
    },
  );
  let k = 0;
  let u = 0;
  return outUnknown.map((isUnknown) => (isUnknown ? unknownOuts[u++]! : knownOuts[k++]!));
}

/**
 * Cotangents of a program's unknown inputs (`known[i]` null) from its outputs' cotangents: equations on
 * known values only are evaluated first, the rest transposed.
 */
function transposeWithKnown(
  program: Program,
  known: readonly (NdArray | null)[],
  cts: readonly NdArray[],
): NdArray[] {
  const env = new Map<Var, NdArray>();
  program.inputs.forEach((v, i) => {
    if (known[i] !== null) env.set(v, known[i]!);
  });
  const value = (a: Atom): NdArray | undefined => (a instanceof Literal ? a.value : env.get(a));
  const linear: Equation[] = [];
  for (const e of program.equations) {
    const ins = e.inputs.map(value);
    if (ins.every((x) => x !== undefined)) {
      const outs = e.primitive.bind(ins as NdArray[], e.params);
      e.outputs.forEach((v, i) => env.set(v, outs[i]!));
    } else linear.push(e);
  }
  const knownVars = [...env.keys()];
  const unknownVars = program.inputs.filter((_, i) => known[i] === null);
  return transposeProgram(
    new Program(knownVars, unknownVars, linear, program.outputs),
    knownVars.map((v) => env.get(v)!),
    cts,
  );
}

function transposeScan(
  cts: readonly NdArray[],
  args: readonly (NdArray | UndefinedPrimal)[],
  p: ScanParams,
): (NdArray | null)[] {
  const { body, numConsts: nC, numCarry: nK, length, reverse } = p;
  // The carry is linear in the body even when its initial value is a known constant (a zero tangent).
  const linear = args.map((a, i) => a instanceof UndefinedPrimal || (i >= nC && i < nC + nK));
  const nX = args.length - nC - nK;
  const inAvals = body.inputs.map((v) => v.aval);
  const kConsts = Array.from({ length: nC }, (_, i) => i).filter((i) => !linear[i]);
  const lConsts = Array.from({ length: nC }, (_, i) => i).filter((i) => linear[i]);
  const kXs = Array.from({ length: nX }, (_, j) => nC + nK + j).filter((i) => !linear[i]);
  const lXs = Array.from({ length: nX }, (_, j) => nC + nK + j).filter((i) => linear[i]);
  const carryAvals = inAvals.slice(nC, nC + nK);
  const yAvals = body.outAvals.slice(nK);
  // Over [known consts, carry cotangent, const cotangent sums, known x rows, y cotangents].
  const tbody = stageClosed(
    (zs) => {
      let o = 0;
      const take = (n: number) => zs.slice(o, (o += n));
      const kc = take(kConsts.length);
      const ctCarry = take(nK);
      const acc = take(lConsts.length);
      const kx = take(kXs.length);
      const ctY = take(yAvals.length);
      const known: (NdArray | null)[] = inAvals.map(() => null);
      kConsts.forEach((pos, j) => {
        known[pos] = kc[j]!;
      });
      kXs.forEach((pos, j) => {
        known[pos] = kx[j]!;
      });
      const inCts = transposeWithKnown(body, known, [...ctCarry, ...ctY]);
      // inCts follow the linear inputs in order: linear consts, the carry, linear xs.
      const ctConsts = inCts.slice(0, lConsts.length);
      const ctCarryIn = inCts.slice(lConsts.length, lConsts.length + nK);
      const ctXs = inCts.slice(lConsts.length + nK);
      return [...ctCarryIn, ...acc.map((a, j) => add(a, ctConsts[j]!)), ...ctXs];
    },
    [
      ...kConsts.map((i) => inAvals[i]!),
      ...carryAvals,
      ...lConsts.map((i) => inAvals[i]!),
      ...kXs.map((i) => inAvals[i]!),
      ...yAvals,
    ],
  );
  const nTc = tbody.consts.length + kConsts.length;
  const xsIn = [...kXs.map((i) => args[i] as NdArray), ...cts.slice(nK)];
  // Const cotangents summed as one product of the stacked per-step values after the loop, where they can be.
  const hoist = hoistAccumulators(tbody.program, { nConsts: nTc, nCarry: nK, nAcc: lConsts.length });
  const kept = lConsts.filter((_, j) => !hoist?.hoisted[j]);
  const outs = scanPrim.bind(
    [
      ...tbody.consts,
      ...kConsts.map((i) => args[i] as NdArray),
      ...cts.slice(0, nK),
      ...kept.map((i) => zerosOf(inAvals[i]!)),
      ...xsIn,
    ],
    {
      body: hoist?.body ?? tbody.program,
      numConsts: nTc,
      numCarry: nK + kept.length,
      length,
      reverse: !reverse,
    },
  );
  const ys = outs.slice(nK + kept.length);
  const totals = hoist?.totals(xsIn, ys) ?? [];
  const result: (NdArray | null)[] = args.map(() => null);
  let [k, h] = [0, 0];
  lConsts.forEach((pos, j) => {
    result[pos] = hoist?.hoisted[j] ? totals[h++]! : outs[nK + k++]!;
  });
  for (let i = 0; i < nK; i++) result[nC + i] = outs[i]!;
  lXs.forEach((pos, j) => {
    result[pos] = ys[j]!;
  });
  return result;
}

/** Options of `scan` (JAX's `length` and `reverse`). */
export interface ScanOptions {
  /** The number of steps; needed when `xs` is null, otherwise the leading size of every leaf of xs. */
  length?: number;
  /** Scan from the last row to the first (outputs still indexed by row). */
  reverse?: boolean;
}

/**
 * `scan(f, init, xs)`: loops `[carry, y] = f(carry, x)` over the rows of `xs` (a pytree scanned along
 * axis 0), returning the final carry and the stacked ys, like JAX's lax.scan. The carry must keep its
 * structure, shapes and dtypes.
 */
export function scan<C, X, Y>(
  f: (carry: C, x: X) => [C, Y],
  init: C,
  xs: X,
  options: ScanOptions = {},
): [C, Y] {
  checkOptions("scan", options, ["length", "reverse"]);
  const [carryLeaves, carryTree] = flattenArgs("scan (init)", init);
  const [xLeaves, xTree] = flattenArgs("scan (xs)", xs);
  const lengths = new Set(xLeaves.map((x) => x.shape[0]));
  if (xLeaves.some((x) => x.ndim === 0))
    throw new ShapeError("scan: every leaf of xs needs a leading axis to scan over");
  if (lengths.size > 1)
    throw new ShapeError(`scan: leaves of xs have different leading sizes: ${[...lengths].join(", ")}`);
  const length = options.length ?? (xLeaves.length ? xLeaves[0]!.shape[0]! : undefined);
  if (length === undefined) throw new ShapeError("scan: give `length` when xs has no arrays");
  if (lengths.size === 1 && !lengths.has(length))
    throw new ShapeError(`scan: length ${length} differs from xs's leading size ${[...lengths][0]}`);
  let yTree: TreeDef | null = null;
  const bodyFn = (leaves: NdArray[]): NdArray[] => {
    const carry = unflatten<C>(carryTree, leaves.slice(0, carryLeaves.length));
    const x = unflatten<X>(xTree, leaves.slice(carryLeaves.length));
    const result = f(carry, x);
    if (!Array.isArray(result) || result.length !== 2)
      throw new TypeError("scan: the body must return [carry, y]");
    const [newCarry, y] = result as [C, Y];
    const [newLeaves, newTree] = flattenArgs("scan (carry)", newCarry);
    if (treeDefToString(newTree) !== treeDefToString(carryTree)) {
      assertSameStructure("scan: the carry returned by the body vs init", carryTree, newTree);
    }
    const [yLeaves, yDef] = flattenArgs("scan (y)", y);
    yTree = yDef;
    return [...newLeaves, ...yLeaves];
  };
  const avals = [
    ...carryLeaves.map((c) => c.aval),
    ...xLeaves.map((x) => ({ shape: x.shape.slice(1), dtype: x.dtype })),
  ];
  const closed = stageClosed(bodyFn, avals);
  const outs = scanPrim.bind([...closed.consts, ...carryLeaves, ...xLeaves], {
    body: closed.program,
    numConsts: closed.consts.length,
    numCarry: carryLeaves.length,
    length,
    reverse: options.reverse ?? false,
  });
  return [
    unflatten<C>(carryTree, outs.slice(0, carryLeaves.length)),
    unflatten<Y>(yTree!, outs.slice(carryLeaves.length)),
  ];
}

// ---------------------------------------------------------------------------------------------------
// checkpoint

export interface CheckpointParams {
  name: string;
  /** Over [consts, args]. */
  program: Program;
}

/** The tangent outputs of `program` at `primals` along `tangents` (the linear part of its JVP). */
function tangentOutputs(
  program: Program,
  primals: readonly NdArray[],
  tangents: readonly NdArray[],
): NdArray[] {
  const [, touts] = jvpFlat((ys) => evalProgram(program, [], ys), [...primals], [...tangents]);
  return touts.map(instantiate);
}

export const checkpointPrim: Primitive<CheckpointParams> = primitive<CheckpointParams>({
  name: "checkpoint",
  narrowDtypes: NARROW_DTYPES,
  abstractEval: (avals, { program, name }) => {
    checkAvals(`checkpoint(${name})`, "inputs", avals, program.inAvals);
    return program.outAvals;
  },
  impl: (args, { program }) => evalProgram(program, [], args) as ConcreteArray[],
  // The primal runs now; the tangent is a separate primitive whose only residuals are the inputs.
  jvp: (primals, tangents, p) => ({
    primalsOut: checkpointPrim.bind(primals, p),
    tangentsOut: checkpointLinPrim.bind([...primals, ...tangents], p),
  }),
  batch(args, dims, p) {
    const b = vmapProgram(p.program, args, dims);
    const outs = checkpointPrim.bind([...b.consts, ...args], { ...p, program: b.program });
    return [outs, outs.map(() => 0)];
  },
  inlineProgram: (_avals, { program }) => ({ program, consts: [] }),
  formatParams: (p) => `name=${p.name} body=(${p.program.equations.length} eqns)`,
});

/** [primals, tangents] -> output tangents of a checkpointed function; linear in the tangents. */
export const checkpointLinPrim: Primitive<CheckpointParams> = primitive<CheckpointParams>({
  name: "checkpoint_lin",
  narrowDtypes: NARROW_DTYPES,
  abstractEval: (_avals, { program }) => program.outAvals,
  impl(args, { program }) {
    const n = program.inputs.length;
    return tangentOutputs(program, args.slice(0, n), args.slice(n)) as ConcreteArray[];
  },
  jvp(args, targs, { program }) {
    const n = program.inputs.length;
    const [outs, touts] = jvpFlat(
      (zs) => tangentOutputs(program, zs.slice(0, n), zs.slice(n)),
      [...args],
      [...targs],
    );
    return { primalsOut: outs, tangentsOut: touts.map(instantiate) };
  },
  // Transposing recomputes the forward pass from the saved inputs (the rematerialization).
  transpose(cts, args, { program }) {
    const n = program.inputs.length;
    const primals = args.slice(0, n) as NdArray[];
    const zeros = program.inputs.map((v) => zerosOf(v.aval));
    const lin = linearizeFlat((ts) => tangentOutputs(program, primals, ts), zeros);
    return [...primals.map(() => null), ...lin.transposed([...cts])];
  },
  batch(args, dims, { program }) {
    const n = program.inputs.length;
    const outs = vmapFlat(
      (zs) => tangentOutputs(program, zs.slice(0, n), zs.slice(n)),
      dims,
      (m) => new Array<BatchDim>(m).fill(0),
      [...args],
    );
    return [outs, outs.map(() => 0)];
  },
  inlineProgram(avals, { program }) {
    const n = program.inputs.length;
    return stageClosed((zs) => tangentOutputs(program, zs.slice(0, n), zs.slice(n)), avals);
  },
  formatParams: (p) => `name=${p.name}`,
});

/**
 * `checkpoint(f)`: the same function, but reverse mode saves only its inputs and recomputes its
 * intermediates during the backward pass (memory for compute, as jax.checkpoint).
 */
export function checkpoint<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  options: { name?: string } = {},
) {
  checkOptions("checkpoint", options, ["name"]);
  const name = options.name ?? (f.name || "checkpoint");
  return (...args: Args): Out => {
    const [leaves, inTree] = flattenArgs(`checkpoint(${name})`, args);
    const flat = flattenFun(`checkpoint(${name})`, f as (...a: never[]) => unknown, inTree);
    const closed = stageClosed(
      flat,
      leaves.map((l) => l.aval),
    );
    const outs = checkpointPrim.bind([...closed.consts, ...leaves], { name, program: closed.program });
    return unflatten<Out>(flat.outTree(), outs);
  };
}
