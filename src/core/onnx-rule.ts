/**
 * What a primitive's `onnx` rule sees (core/primitive.ts): a graph under construction, to which it adds
 * the ONNX nodes that compute its outputs from its inputs' value names. The exporter (onnx/export.ts)
 * implements it; declaring the interface here keeps the rules with their primitives in src/ops.
 */
import type { AbstractValue } from "./array.js";
import type { DType, TypedArray } from "./dtype.js";
import type { Program } from "./ir.js";

/**
 * An ONNX node attribute: an integer (INT), a list of integers (INTS), a string (STRING), a float
 * written `{ float: x }` (FLOAT; a bare number is always an INT), or a subgraph written `{ graph: g }`
 * (GRAPH: Loop's body, If's branches; made by `OnnxGraph.subgraph`).
 */
export type OnnxAttribute =
  | number
  | readonly number[]
  | string
  | { readonly float: number }
  | { readonly graph: OnnxGraphData };

/** ONNX's element types: tracegrad's dtypes and int64, ONNX's index type (shapes, axes, indices). */
export type OnnxDType = DType | "int64";

/** A node of a graph, as plain data. */
export interface OnnxNodeData {
  readonly opType: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: Readonly<Record<string, OnnxAttribute>>;
}

/** A constant tensor (an initializer). */
export interface OnnxTensorData {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
  /** Little-endian element bytes (raw_data); bool as one byte per element. */
  readonly bytes: Uint8Array;
}

/** A typed value of a graph's signature (an input or an output). */
export interface OnnxValueData {
  readonly name: string;
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

/** A graph (the model's, or a subgraph held by an attribute), as plain data. */
export interface OnnxGraphData {
  readonly name: string;
  readonly nodes: readonly OnnxNodeData[];
  readonly initializers: readonly OnnxTensorData[];
  readonly inputs: readonly OnnxValueData[];
  readonly outputs: readonly OnnxValueData[];
}

/** The element type and static shape of a subgraph's input or output. */
export interface OnnxValueType {
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

/** A typed error of the ONNX exporter: a primitive, dtype or parameter it cannot express in ONNX. */
export class OnnxExportError extends Error {
  override name = "OnnxExportError";
}

/** The graph a primitive's `onnx` rule adds its nodes to. */
export interface OnnxGraph {
  /** The ONNX opset the graph targets (its ops must exist in this version). */
  readonly opset: number;
  /** Adds a node of the default domain; returns the names of its `outputs` (default 1) outputs. */
  node(
    opType: string,
    inputs: readonly string[],
    attributes?: Readonly<Record<string, OnnxAttribute>>,
    outputs?: number,
  ): string[];
  /** `node(...)[0]`: the one output of a node. */
  node1(
    opType: string,
    inputs: readonly string[],
    attributes?: Readonly<Record<string, OnnxAttribute>>,
  ): string;
  /** A constant tensor of `dtype` and `shape` (an initializer of the model). */
  constant(values: TypedArray | readonly number[], dtype: OnnxDType, shape: readonly number[]): string;
  /** A constant 1-D int64 tensor (shapes, axes, pads given as inputs). */
  int64s(values: readonly number[]): string;
  /** A scalar constant of `dtype`. */
  scalar(value: number, dtype: OnnxDType): string;
  /** `x` cast to ONNX's type for `dtype` (a Cast node; `x` itself when `from` is `dtype`). */
  cast(x: string, from: OnnxDType, dtype: OnnxDType): string;
  /**
   * Emits `program` into this graph with `inputs` bound to its constants then inputs (a call-like
   * primitive inlined); returns the names of its outputs.
   */
  inline(program: Program, inputs: readonly string[]): string[];
  /**
   * A subgraph (Loop's body, an If branch) with inputs of `inputs`' types and outputs of `outputs`'
   * types: `build` adds its nodes to the graph it is given, from the names of its inputs, and returns
   * the names of its outputs. It may read any value of the enclosing graphs by name (ONNX's outer
   * scope), and its constants are the model's initializers.
   */
  subgraph(
    inputs: readonly OnnxValueType[],
    outputs: readonly OnnxValueType[],
    build: (graph: OnnxGraph, inputs: readonly string[]) => readonly string[],
  ): { readonly graph: OnnxGraphData };
}

/**
 * A primitive's ONNX lowering: adds nodes computing its outputs and returns their names, one per
 * output. Throws an OnnxExportError for params or dtypes it cannot express.
 */
export type OnnxRule<P> = (
  graph: OnnxGraph,
  inputs: readonly string[],
  params: P,
  inAvals: readonly AbstractValue[],
  outAvals: readonly AbstractValue[],
) => string[];
