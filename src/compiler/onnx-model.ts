/**
 * Encodes an ONNX ModelProto (onnx/onnx.proto, IR version 8) from a graph held as plain data: nodes,
 * initializers, typed inputs and outputs. Field numbers are those of onnx.proto.
 */
import type { TypedArray } from "../core/dtype.js";
import type {
  OnnxAttribute,
  OnnxDType,
  OnnxGraphData,
  OnnxNodeData,
  OnnxTensorData,
  OnnxValueData,
} from "../core/onnx-rule.js";
import { ProtoWriter } from "./protobuf.js";

/** The IR version written: 8 goes with opset 18 (ONNX 1.13), read by every current runtime. */
export const ONNX_IR_VERSION = 8;

const DATA_TYPE: Readonly<Record<OnnxDType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  uint16: 4,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  bfloat16: 16,
};

/** ONNX's TensorProto.DataType number of a dtype. */
export function onnxDataType(dtype: OnnxDType): number {
  return DATA_TYPE[dtype];
}

export type NodeData = OnnxNodeData;
export type TensorData = OnnxTensorData;
export type ValueData = OnnxValueData;
export type GraphData = OnnxGraphData;
export type { OnnxDType };

/** The raw little-endian bytes of a typed array's elements as ONNX stores `dtype`. */
export function tensorBytes(values: TypedArray | readonly number[], dtype: OnnxDType): Uint8Array {
  const n = values.length;
  switch (dtype) {
    case "int64": {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt(values[i]!);
      return new Uint8Array(out.buffer);
    }
    case "bool": {
      const out = new Uint8Array(n);
      for (let i = 0; i < n; i++) out[i] = values[i] ? 1 : 0;
      return out;
    }
    default: {
      const Ctor = STORAGE[dtype];
      const out = new Ctor(n);
      for (let i = 0; i < n; i++) out[i] = values[i]!;
      // Every platform that runs this library is little-endian, as raw_data is.
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    }
  }
}

type NumericCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor;

const STORAGE: Readonly<Record<Exclude<OnnxDType, "int64" | "bool">, NumericCtor>> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  // Halves are stored as their bits (core/dtype.ts), which is what raw_data holds.
  float16: Uint16Array,
  bfloat16: Uint16Array,
};

function attribute(name: string, value: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new TypeError(`ONNX attribute ${name}: ${value} is not an integer`);
    return w.int(3, value).int(20, 2);
  }
  if (typeof value === "string") return w.bytes(4, new TextEncoder().encode(value)).int(20, 3);
  if (Array.isArray(value)) return w.packedInts(8, value as readonly number[]).int(20, 7);
  if ("graph" in value) return w.message(6, graph(value.graph)).int(20, 5);
  return w.float(2, (value as { float: number }).float).int(20, 1);
}

function tensor(t: TensorData): ProtoWriter {
  return new ProtoWriter()
    .packedInts(1, t.shape)
    .int(2, DATA_TYPE[t.dtype])
    .string(8, t.name)
    .bytes(9, t.bytes);
}

function valueInfo(v: ValueData): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, new ProtoWriter().int(1, d));
  const tensorType = new ProtoWriter().int(1, DATA_TYPE[v.dtype]).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}

function node(n: NodeData, index: number): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, `${n.opType}_${index}`).string(4, n.opType);
  for (const [name, value] of Object.entries(n.attributes)) w.message(5, attribute(name, value));
  return w;
}

function graph(g: GraphData): ProtoWriter {
  const w = new ProtoWriter();
  g.nodes.forEach((n, i) => w.message(1, node(n, i)));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, tensor(t));
  for (const v of g.inputs) w.message(11, valueInfo(v));
  for (const v of g.outputs) w.message(12, valueInfo(v));
  return w;
}

/** The bytes of a ModelProto holding `g`, importing the default domain at `opset`. */
export function encodeModel(g: GraphData, opset: number, producerVersion: string): Uint8Array {
  return new ProtoWriter()
    .int(1, ONNX_IR_VERSION)
    .string(2, "tracegrad")
    .string(3, producerVersion)
    .message(7, graph(g))
    .message(8, new ProtoWriter().string(1, "").int(2, opset))
    .finish();
}
