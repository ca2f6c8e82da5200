/**
 * A traced program as an ONNX model: each equation's primitive adds its nodes through its `onnx` rule
 * (declared on the primitive, core/onnx-rule.ts); call-like primitives without one (jit, custom_vjp) are
 * inlined through `inlineProgram`. Constants become initializers; the model's inputs are the program's
 * inputs, its outputs the program's outputs, with their static shapes.
 */
import type { AbstractValue, NdArray } from "../core/array.js";
import { type DType, isHalf, type TypedArray } from "../core/dtype.js";
import { type Atom, Literal, type Program, type Var } from "../core/ir.js";
import {
  type OnnxAttribute,
  type OnnxDType,
  OnnxExportError,
  type OnnxGraph,
  type OnnxGraphData,
  type OnnxValueType,
} from "../core/onnx-rule.js";
import { fmtShape } from "../core/shape.js";
import { fuseOnnxGraph, type TypedGraphData } from "./onnx-fuse.js";
import {
  encodeModel,
  type NodeData,
  onnxDataType,
  type TensorData,
  tensorBytes,
  type ValueData,
} from "./onnx-model.js";
import type { ClosedProgram } from "./passes.js";

/**
 * The opset the exporter targets: 18, the first with bitwise operators (BitwiseXor, BitwiseAnd), which
 * threefry's hash needs.
 */
export const ONNX_OPSET = 18;

/** Options of `programToOnnx`. */
export interface OnnxExportOptions {
  /** The graph's name (default "main"). */
  readonly name?: string;
  /** Names of the model's inputs, one per program input (default input_0, input_1, ...). */
  readonly inputNames?: readonly string[];
  /** Names of the model's outputs (default output_0, ...). */
  readonly outputNames?: readonly string[];
  /**
   * Rewrite the graph with `fuseOnnxGraph` (default true): broadcasts skipped where ONNX broadcasts by
   * itself, matrix products as Gemms that absorb transposes, scalar factors and addends, dead nodes removed.
   */
  readonly fuse?: boolean;
  /**
   * Applied to the sub-programs the graph inlines (loop bodies and conditions, switch branches) before
   * they are written: the jit's optimization passes, in the ONNX Runtime backend, which optimizes the
   * top-level program itself. Default: sub-programs are written as traced.
   */
  readonly optimizeSubprogram?: (closed: ClosedProgram) => ClosedProgram;
}

const SUPPORTED: ReadonlySet<DType> = new Set<DType>([
  "bool",
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "float32",
  "float64",
]);

function checkDtype(what: string, aval: AbstractValue): void {
  if (!SUPPORTED.has(aval.dtype) || isHalf(aval.dtype))
    throw new OnnxExportError(
      `onnx export: ${what} is ${aval.dtype}${fmtShape(aval.shape)}; the exporter writes bool, integer, float32 and float64 values`,
    );
}

/** What a graph and its subgraphs share: one namespace of values, and the model's initializers. */
class ModelScope {
  constructor(readonly optimizeSubprogram?: (closed: ClosedProgram) => ClosedProgram) {}
  readonly initializers: TensorData[] = [];
  readonly int64Cache = new Map<string, string>();
  readonly scalarCache = new Map<string, string>();
  /** The dtype and shape of each value an equation computes (for fuseOnnxGraph). */
  readonly valueTypes = new Map<string, AbstractValue>();
  private counter = 0;

  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }
}

class GraphBuilder implements OnnxGraph {
  readonly opset = ONNX_OPSET;
  readonly nodes: NodeData[] = [];

  constructor(private readonly scope: ModelScope = new ModelScope()) {}

  get initializers(): readonly TensorData[] {
    return this.scope.initializers;
  }

  get valueTypes(): Map<string, AbstractValue> {
    return this.scope.valueTypes;
  }

  fresh(prefix: string): string {
    return this.scope.fresh(prefix);
  }

  subgraph(
    inputs: readonly OnnxValueType[],
    outputs: readonly OnnxValueType[],
    build: (graph: OnnxGraph, inputs: readonly string[]) => readonly string[],
  ): { readonly graph: OnnxGraphData } {
    const sub = new GraphBuilder(this.scope);
    const inputData = inputs.map((t) => ({ name: this.fresh("arg"), dtype: t.dtype, shape: t.shape }));
    const results = build(
      sub,
      inputData.map((v) => v.name),
    );
    if (results.length !== outputs.length)
      throw new Error(
        `onnx export: a subgraph returned ${results.length} outputs, expected ${outputs.length}`,
      );
    // A value a node of the subgraph computes is an output as it is; an input, an outer value or a value
    // output twice gets an Identity of its own (a subgraph output must be computed in it, once). Each
    // Identity is a copy per iteration of a loop.
    const computed = new Set(sub.nodes.flatMap((n) => n.outputs));
    const outputData = outputs.map((t, i) => {
      let name = results[i]!;
      if (computed.has(name)) computed.delete(name);
      else {
        name = this.fresh("result");
        sub.nodes.push({ opType: "Identity", inputs: [results[i]!], outputs: [name], attributes: {} });
      }
      return { name, dtype: t.dtype, shape: t.shape };
    });
    return {
      graph: {
        name: this.fresh("subgraph"),
        nodes: sub.nodes,
        initializers: [],
        inputs: inputData,
        outputs: outputData,
      },
    };
  }

  node(
    opType: string,
    inputs: readonly string[],
    attributes: Readonly<Record<string, OnnxAttribute>> = {},
    outputs = 1,
  ): string[] {
    const names = Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase()));
    this.nodes.push({ opType, inputs, outputs: names, attributes });
    return names;
  }

  node1(
    opType: string,
    inputs: readonly string[],
    attributes?: Readonly<Record<string, OnnxAttribute>>,
  ): string {
    return this.node(opType, inputs, attributes)[0]!;
  }

  addInitializer(values: TypedArray | readonly number[], dtype: OnnxDType, shape: readonly number[]): string {
    const name = this.fresh("const");
    this.scope.initializers.push({ name, dtype, shape, bytes: tensorBytes(values, dtype) });
    return name;
  }

  constant(values: TypedArray | readonly number[], dtype: OnnxDType, shape: readonly number[]): string {
    if (dtype !== "int64") checkDtype("a constant", { shape, dtype });
    return this.addInitializer(values, dtype, shape);
  }

  int64s(values: readonly number[]): string {
    const key = values.join(",");
    let name = this.scope.int64Cache.get(key);
    if (name === undefined) {
      name = this.addInitializer(values, "int64", [values.length]);
      this.scope.int64Cache.set(key, name);
    }
    return name;
  }

  scalar(value: number, dtype: OnnxDType): string {
    const key = `${dtype}:${Object.is(value, -0) ? "-0" : String(value)}`;
    let name = this.scope.scalarCache.get(key);
    if (name === undefined) {
      name = this.constant([value], dtype, []);
      this.scope.scalarCache.set(key, name);
    }
    return name;
  }

  cast(x: string, from: OnnxDType, dtype: OnnxDType): string {
    if (from === dtype) return x;
    if (dtype !== "int64") checkDtype("a cast's target", { shape: [], dtype });
    return this.node1("Cast", [x], { to: onnxDataType(dtype) });
  }

  inline(program: Program, inputs: readonly string[]): string[] {
    const optimize = this.scope.optimizeSubprogram;
    if (optimize === undefined || program.constVars.length > 0) return this.emit(program, inputs);
    const closed = optimize({ program, consts: [] });
    return this.emit(closed.program, [...closed.consts.map((c) => this.constantArray(c)), ...inputs]);
  }

  /** Writes `program`'s equations as they are, its constants then inputs bound to `inputs`. */
  emit(program: Program, inputs: readonly string[]): string[] {
    const env = new Map<Var, string>();
    [...program.constVars, ...program.inputs].forEach((v, i) => env.set(v, inputs[i]!));
    const read = (a: Atom): string => {
      if (a instanceof Literal) {
        checkDtype("a literal", a.aval);
        return this.constant(a.value.storage, a.value.dtype, a.value.shape);
      }
      const name = env.get(a);
      if (name === undefined) throw new Error("onnx export: a program reads a variable it does not define");
      return name;
    };
    for (const eqn of program.equations) {
      const prim = eqn.primitive;
      const ins = eqn.inputs.map(read);
      const inAvals = eqn.inputs.map((a) => a.aval);
      const outAvals = eqn.outputs.map((v) => v.aval);
      let outs: string[];
      if (prim.onnx) {
        for (const a of [...inAvals, ...outAvals]) checkDtype(`an operand of ${prim.name}`, a);
        outs = prim.onnx(this, ins, eqn.params as never, inAvals, outAvals);
      } else if (prim.validatesOnly) {
        // A value check is the identity on its inputs: an ONNX graph has no way to raise.
        outs = ins.slice(0, eqn.outputs.length);
      } else if (prim.inlineProgram) {
        const { program: inner, consts } = prim.inlineProgram(inAvals, eqn.params as never);
        outs = this.inline(inner, [...consts.map((c) => this.constantArray(c)), ...ins]);
      } else {
        throw new OnnxExportError(
          `onnx export: primitive ${prim.name} has no ONNX lowering (operands ${inAvals.map((a) => `${a.dtype}${fmtShape(a.shape)}`).join(", ")})`,
        );
      }
      if (outs.length !== eqn.outputs.length)
        throw new Error(
          `onnx export: ${prim.name}'s onnx rule returned ${outs.length} outputs, expected ${eqn.outputs.length}`,
        );
      eqn.outputs.forEach((v, i) => {
        env.set(v, outs[i]!);
        this.valueTypes.set(outs[i]!, v.aval);
      });
    }
    return program.outputs.map(read);
  }

  constantArray(c: NdArray): string {
    const concrete = c.concrete();
    return this.constant(concrete.storage, concrete.dtype, concrete.shape);
  }
}

/**
 * The bytes of an ONNX ModelProto (opset 18) computing `program` on `consts` (its constant inputs, stored
 * as initializers) and its inputs. Throws an OnnxExportError naming the first primitive, dtype or
 * parameter that has no ONNX form.
 */
export function programToOnnx(
  program: Program,
  consts: readonly NdArray[],
  options: OnnxExportOptions = {},
): Uint8Array {
  const graph = programToOnnxGraph(program, consts, options);
  return encodeModel(options.fuse === false ? graph : fuseOnnxGraph(graph), ONNX_OPSET, "0.1.0");
}

/**
 * The graph `programToOnnx` encodes before `fuseOnnxGraph`, as plain data (nodes, initializers, inputs,
 * outputs), with the dtype and shape of every value an equation computes.
 */
export function programToOnnxGraph(
  program: Program,
  consts: readonly NdArray[],
  options: OnnxExportOptions = {},
): TypedGraphData {
  const g = new GraphBuilder(new ModelScope(options.optimizeSubprogram));
  const inputs: ValueData[] = program.inputs.map((v, i) => {
    checkDtype(`input ${i}`, v.aval);
    return { name: options.inputNames?.[i] ?? `input_${i}`, dtype: v.aval.dtype, shape: v.aval.shape };
  });
  const constNames = consts.map((c) => g.constantArray(c));
  const results = g.emit(program, [...constNames, ...inputs.map((v) => v.name)]);
  const outputs: ValueData[] = program.outputs.map((a, i) => {
    checkDtype(`output ${i}`, a.aval);
    const name = options.outputNames?.[i] ?? `output_${i}`;
    // Every output gets a node of its own, so that an output that is an input, a constant or another
    // output still has its own name.
    g.nodes.push({ opType: "Identity", inputs: [results[i]!], outputs: [name], attributes: {} });
    return { name, dtype: a.aval.dtype, shape: a.aval.shape };
  });
  return {
    name: options.name ?? "main",
    nodes: g.nodes,
    initializers: g.initializers,
    inputs,
    outputs,
    valueTypes: g.valueTypes,
  };
}
