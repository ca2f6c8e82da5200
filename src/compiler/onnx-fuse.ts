/**
 * Peephole rewrites of an exported ONNX graph that spare ONNX Runtime work its own optimizer leaves in:
 * - a broadcast (Expand) read by elementwise nodes that broadcast by themselves (Add, Mul, Where, ...) is
 *   skipped when the node's result keeps its shape, so no broadcast tensor is materialised (a runtime
 *   folds an Expand of a constant into a full-size initializer, which the node then streams through);
 * - a float MatMul of two matrices becomes one Gemm that absorbs the 2-D Transposes of its operands and of
 *   its result (transA/transB: the weight layouts of a layer and of its gradients), a multiplication of
 *   its result by a scalar constant (alpha: a learning rate) and an addition or subtraction (C, beta ±1:
 *   a bias, or the parameter an SGD step updates), so `w - lr * xᵀ dy` is one GEMM;
 * - a per-channel bias added to a Conv's result becomes the Conv's bias input, and a ReLU feeding only a
 *   max-pooling runs after it, on the pooled values;
 * - nodes and initializers that no output needs any more are removed;
 * - the same, inside Loop and Scan bodies and If branches (reading their enclosing graphs' values).
 * Shapes come from the graph's inputs and initializers, the types the exporter knows (`valueTypes`), and a
 * small inference over the node types the exporter writes; a rewrite only happens where every shape it
 * depends on is known.
 */
import type { GraphData, NodeData, OnnxDType, TensorData } from "./onnx-model.js";

/** The element type and static shape of a value. */
export interface ValueType {
  readonly dtype: OnnxDType;
  readonly shape: readonly number[];
}

/** A graph with the types of (some of) its values: the exporter knows those its equations compute. */
export type TypedGraphData = GraphData & { readonly valueTypes?: ReadonlyMap<string, ValueType> };

/** Elementwise node types with ONNX's multidirectional (numpy) broadcasting of all inputs. */
const BROADCASTING = new Set([
  "Add",
  "Sub",
  "Mul",
  "Div",
  "Pow",
  "Max",
  "Min",
  "Mod",
  "Where",
  "Equal",
  "Less",
  "LessOrEqual",
  "Greater",
  "GreaterOrEqual",
  "And",
  "Or",
  "Xor",
  "BitwiseAnd",
  "BitwiseOr",
  "BitwiseXor",
]);

const COMPARISONS = new Set([
  "Equal",
  "Less",
  "LessOrEqual",
  "Greater",
  "GreaterOrEqual",
  "And",
  "Or",
  "Xor",
]);

/** Elementwise node types of one input whose result has the input's shape and dtype. */
const UNARY = new Set([
  "Identity",
  "Neg",
  "Abs",
  "Exp",
  "Log",
  "Sqrt",
  "Reciprocal",
  "Relu",
  "Sigmoid",
  "Tanh",
  "Erf",
  "Sin",
  "Cos",
  "Tan",
  "Floor",
  "Ceil",
  "Round",
  "Sign",
  "Softplus",
  "Asin",
  "Acos",
  "Atan",
  "Sinh",
  "Cosh",
  "Asinh",
  "Acosh",
  "Atanh",
]);

/** Reductions over `axes` (an attribute before opset 18 but for ReduceSum, an input since). */
const REDUCTIONS = new Set(["ReduceSum", "ReduceMax", "ReduceMin", "ReduceMean", "ReduceProd"]);

/** numpy broadcasting of `shapes`, or null when they do not broadcast. */
function broadcastShapes(shapes: readonly (readonly number[])[]): number[] | null {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const o = rank - s.length + i;
      const d = s[i]!;
      if (d === out[o] || d === 1) continue;
      if (out[o] !== 1) return null;
      out[o] = d;
    }
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The values of a constant int64 initializer, or of a one-element float one; null for anything else. */
function initializerValues(t: TensorData): number[] | null {
  const view = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.dtype === "int64") return Array.from({ length: n }, (_, i) => Number(view.getBigInt64(8 * i, true)));
  if (n !== 1) return null;
  if (t.dtype === "float32") return [view.getFloat32(0, true)];
  if (t.dtype === "float64") return [view.getFloat64(0, true)];
  return null;
}

/** The names a node's subgraph attributes (Loop bodies, If branches) read, at any depth. */
function subgraphReads(node: NodeData, into: Set<string>): void {
  for (const value of Object.values(node.attributes)) {
    const graph = (value as { graph?: GraphData }).graph;
    if (typeof value !== "object" || graph === undefined) continue;
    for (const inner of graph.nodes) {
      for (const name of inner.inputs) into.add(name);
      subgraphReads(inner, into);
    }
    for (const o of graph.outputs) into.add(o.name);
  }
}

class GraphRewriter {
  /** Nodes in order; a removed node is null. */
  readonly nodes: (NodeData | null)[];
  readonly types = new Map<string, ValueType>();
  readonly constants = new Map<string, TensorData>();
  /** The index of the node producing each value. */
  readonly producer = new Map<string, number>();
  /** How many node inputs (and graph outputs, subgraph reads) read each value. */
  readonly uses = new Map<string, number>();
  readonly graphOutputs: ReadonlySet<string>;

  constructor(
    readonly graph: TypedGraphData,
    outer: EnclosingScope | null,
  ) {
    this.nodes = [...graph.nodes];
    if (outer !== null) {
      outer.types.forEach((t, name) => this.types.set(name, t));
      outer.constants.forEach((t, name) => this.constants.set(name, t));
    }
    for (const v of graph.inputs) this.types.set(v.name, v);
    for (const t of graph.initializers) {
      this.types.set(t.name, t);
      this.constants.set(t.name, t);
    }
    this.graphOutputs = new Set(graph.outputs.map((o) => o.name));
    this.nodes.forEach((n, i) => {
      for (const o of n!.outputs) this.producer.set(o, i);
      const type = graph.valueTypes?.get(n!.outputs[0]!) ?? this.outputType(n!);
      if (type) this.types.set(n!.outputs[0]!, type);
    });
    // Bodies first (they see this graph's values as their outer scope), so that what they read of this
    // graph afterwards is what the uses below count.
    this.nodes.forEach((n, i) => {
      this.nodes[i] = this.withFusedSubgraphs(n!);
    });
    this.countUses();
  }

  /** `n` with its subgraph attributes (Loop and Scan bodies, If branches) rewritten by the same pass. */
  withFusedSubgraphs(n: NodeData): NodeData {
    const graphs = Object.entries(n.attributes).filter(
      (entry): entry is [string, { graph: GraphData }] => typeof entry[1] === "object" && "graph" in entry[1],
    );
    if (graphs.length === 0) return n;
    const scope: EnclosingScope = { types: this.types, constants: this.constants };
    const attributes = { ...n.attributes };
    for (const [key, { graph }] of graphs) {
      attributes[key] = { graph: fuseGraph({ ...graph, valueTypes: this.graph.valueTypes }, scope) };
    }
    return { ...n, attributes };
  }

  countUses(): void {
    this.uses.clear();
    const use = (name: string) => this.uses.set(name, (this.uses.get(name) ?? 0) + 1);
    for (const n of this.nodes) {
      if (n === null) continue;
      n.inputs.forEach(use);
      const inner = new Set<string>();
      subgraphReads(n, inner);
      inner.forEach(use);
    }
    this.graphOutputs.forEach(use);
  }

  /** The node producing `name`, if it is of `opType`. */
  producedBy(name: string, opType: string): NodeData | null {
    const i = this.producer.get(name);
    const n = i === undefined ? null : this.nodes[i]!;
    return n !== null && n.opType === opType ? n : null;
  }

  /** The one node reading `name`, if nothing else (no graph output either) reads it. */
  soleReader(name: string): { node: NodeData; index: number } | null {
    if (this.uses.get(name) !== 1 || this.graphOutputs.has(name)) return null;
    const index = this.nodes.findIndex((n) => n?.inputs.includes(name));
    return index < 0 ? null : { node: this.nodes[index]!, index };
  }

  /** The dtype and shape of `n`'s (first) output, where the node type is one the pass knows. */
  outputType(n: NodeData): ValueType | null {
    const t = n.inputs.map((name) => this.types.get(name));
    const typed = (dtype: OnnxDType, shape: readonly number[] | null): ValueType | null =>
      shape === null ? null : { dtype, shape };
    const constInts = (name: string | undefined) => {
      const c = name === undefined ? undefined : this.constants.get(name);
      return c?.dtype === "int64" ? initializerValues(c) : null;
    };
    if (UNARY.has(n.opType) && t[0]) return typed(t[0].dtype, t[0].shape);
    if (n.opType === "Cast" && t[0]) {
      const dtype = CAST_TYPES[n.attributes.to as number];
      return dtype === undefined ? null : typed(dtype, t[0].shape);
    }
    if (n.opType === "Not" && t[0]) return typed("bool", t[0].shape);
    if (BROADCASTING.has(n.opType) && t.every((x) => x !== undefined)) {
      const shape = broadcastShapes(t.map((x) => x!.shape));
      const dtype = COMPARISONS.has(n.opType) ? "bool" : n.opType === "Where" ? t[1]!.dtype : t[0]!.dtype;
      return typed(dtype, shape);
    }
    if (n.opType === "Transpose" && t[0]) {
      const perm = n.attributes.perm as readonly number[] | undefined;
      const shape = t[0].shape;
      return typed(t[0].dtype, perm ? perm.map((p) => shape[p]!) : [...shape].reverse());
    }
    if (n.opType === "Reshape" && t[0]) {
      const target = constInts(n.inputs[1]);
      if (target === null) return null;
      const shape = target.map((d, i) => (d === 0 ? t[0]!.shape[i]! : d));
      const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
      const size = t[0].shape.reduce((a, b) => a * b, 1);
      return typed(
        t[0].dtype,
        shape.map((d) => (d === -1 ? size / known : d)),
      );
    }
    if (n.opType === "Expand" && t[0]) {
      const target = constInts(n.inputs[1]);
      return typed(t[0].dtype, target === null ? null : broadcastShapes([t[0].shape, target]));
    }
    if (REDUCTIONS.has(n.opType) && t[0]) {
      const rank = t[0].shape.length;
      const axes = (n.attributes.axes as readonly number[] | undefined) ?? constInts(n.inputs[1]);
      if (axes === null) return null;
      const reduced = new Set(
        (axes.length === 0 ? t[0].shape.map((_, i) => i) : axes).map((a) => (a + rank) % rank),
      );
      const keep = n.attributes.keepdims !== 0;
      const shape = t[0].shape.flatMap((d, i) => (!reduced.has(i) ? [d] : keep ? [1] : []));
      return typed(t[0].dtype, shape);
    }
    if (n.opType === "MatMul" && t[0] && t[1] && t[0].shape.length === 2 && t[1].shape.length === 2)
      return typed(t[0].dtype, [t[0].shape[0]!, t[1].shape[1]!]);
    return null;
  }

  /** Points broadcasting nodes past the Expands they read where their result keeps its shape. */
  skipBroadcasts(): void {
    this.nodes.forEach((n, i) => {
      if (n === null || !BROADCASTING.has(n.opType)) return;
      const out = this.types.get(n.outputs[0]!);
      if (!out) return;
      const inputs = [...n.inputs];
      const keepsShape = (candidate: readonly string[]) => {
        const shapes = candidate.map((name) => this.types.get(name)?.shape);
        if (shapes.some((s) => s === undefined)) return false;
        const shape = broadcastShapes(shapes as (readonly number[])[]);
        return shape !== null && sameShape(shape, out.shape);
      };
      for (let k = 0; k < inputs.length; k++) {
        const expand = this.producedBy(inputs[k]!, "Expand");
        let candidate = [...inputs];
        if (expand) {
          candidate[k] = expand.inputs[0]!;
          if (keepsShape(candidate)) inputs[k] = candidate[k]!;
        }
        // A reshaped one-element constant read as the rank-0 initializer: ONNX Runtime's broadcasting
        // loops take a scalar operand on a path of their own.
        const reshape = this.producedBy(inputs[k]!, "Reshape");
        const scalar = reshape && this.constants.get(reshape.inputs[0]!);
        if (scalar && scalar.shape.length === 0) {
          candidate = [...inputs];
          candidate[k] = scalar.name;
          if (keepsShape(candidate)) inputs[k] = scalar.name;
        }
      }
      if (inputs.some((name, k) => name !== n.inputs[k])) this.nodes[i] = { ...n, inputs };
    });
    this.countUses();
  }

  /**
   * Moves a ReLU (as the exporter writes it: Where(x <= 0, 0, x)) read only by a MaxPool after the pooling:
   * max commutes with a nondecreasing function, and the ReLU then runs on a quarter of the values.
   */
  poolBeforeRelu(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const where = this.nodes[i];
      if (where?.opType !== "Where") continue;
      const [cond, zero, x] = where.inputs as [string, string, string];
      const compare = this.producedBy(cond, "LessOrEqual");
      const pool = this.soleReader(where.outputs[0]!);
      if (!compare || compare.inputs[0] !== x || this.uses.get(cond) !== 1) continue;
      if (this.scalarConstant(zero) !== 0 || this.scalarConstant(compare.inputs[1]!) !== 0) continue;
      if (pool?.node.opType !== "MaxPool" || pool.node.outputs.length !== 1) continue;
      const pooled = `${pool.node.outputs[0]!}_before_relu`;
      const mask = `${cond}_after_pool`;
      const compareIndex = this.producer.get(cond)!;
      this.nodes[compareIndex] = null;
      this.nodes[i] = { ...pool.node, inputs: [x], outputs: [pooled] };
      this.nodes[pool.index] = null;
      // The pool's result keeps its name: LessOrEqual and Where take the pool's place in order.
      this.nodes.splice(
        pool.index,
        1,
        { ...compare, inputs: [pooled, compare.inputs[1]!], outputs: [mask] },
        { ...where, inputs: [mask, zero, pooled], outputs: pool.node.outputs },
      );
      this.reindex();
    }
  }

  /** Rebuilds the producer index and the use counts after nodes moved. */
  reindex(): void {
    this.producer.clear();
    this.nodes.forEach((n, i) => {
      if (n !== null) for (const o of n.outputs) this.producer.set(o, i);
    });
    for (const n of this.nodes) {
      if (n === null || this.types.has(n.outputs[0]!)) continue;
      const type = this.outputType(n);
      if (type) this.types.set(n.outputs[0]!, type);
    }
    this.countUses();
  }

  /** Folds a per-channel bias added to a Conv's result into the Conv (its input B). */
  foldConvBiases(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const conv = this.nodes[i];
      if (conv?.opType !== "Conv" || conv.inputs.length !== 2) continue;
      const out = conv.outputs[0]!;
      const added = this.soleReader(out);
      const shape = this.types.get(out)?.shape;
      if (added?.node.opType !== "Add" || !shape || !this.keepsShape(added.node, shape)) continue;
      const other = added.node.inputs[added.node.inputs[0] === out ? 1 : 0]!;
      // The bias as the exporter broadcasts it: a [M] vector reshaped to [1, M, 1, ...].
      const reshape = this.producedBy(other, "Reshape");
      const bias = reshape && this.types.get(reshape.inputs[0]!);
      const channels = shape[1]!;
      const reshaped = this.types.get(other)?.shape;
      if (!reshape || !bias || !reshaped || bias.shape.length !== 1 || bias.shape[0] !== channels) continue;
      if (
        !sameShape(
          reshaped,
          shape.map((d, axis) => (axis === 1 ? d : 1)),
        )
      )
        continue;
      this.nodes[i] = null;
      this.nodes[added.index] = {
        ...conv,
        inputs: [...conv.inputs, reshape.inputs[0]!],
        outputs: added.node.outputs,
      };
      this.producer.set(added.node.outputs[0]!, added.index);
      this.countUses();
    }
  }

  /** A scalar constant `name` stands for (an initializer, possibly reshaped or expanded), or null. */
  scalarConstant(name: string): number | null {
    const c = this.constants.get(name);
    if (c)
      return initializerValues(c)?.length === 1 && c.dtype !== "int64" ? initializerValues(c)![0]! : null;
    const i = this.producer.get(name);
    const n = i === undefined ? null : this.nodes[i];
    if (n && (n.opType === "Reshape" || n.opType === "Expand" || n.opType === "Identity"))
      return this.scalarConstant(n.inputs[0]!);
    return null;
  }

  /** Rewrites each float MatMul of two matrices into a Gemm with what it can absorb (see the module). */
  formGemms(): void {
    for (let i = 0; i < this.nodes.length; i++) {
      const m = this.nodes[i];
      if (m?.opType !== "MatMul") continue;
      const [ta, tb] = m.inputs.map((name) => this.types.get(name));
      if (!ta || !tb || ta.shape.length !== 2 || tb.shape.length !== 2) continue;
      if (ta.dtype !== tb.dtype || (ta.dtype !== "float32" && ta.dtype !== "float64")) continue;
      const dtype = ta.dtype;
      const absorbed: number[] = [];
      // An operand read through any number of matrix transposes.
      const operand = (name: string): [string, number] => {
        let trans = 0;
        for (let t = this.producedBy(name, "Transpose"); t !== null; t = this.producedBy(name, "Transpose")) {
          const perm = t.attributes.perm as readonly number[] | undefined;
          if (perm !== undefined && perm[0] !== 1) break;
          name = t.inputs[0]!;
          trans = 1 - trans;
        }
        return [name, trans];
      };
      let [a, transA] = operand(m.inputs[0]!);
      let [b, transB] = operand(m.inputs[1]!);
      let out = m.outputs[0]!;
      let alpha = 1;
      let beta = 1;
      let c: string | null = null;
      // (op(A) op(B))ᵀ = op(B)ᵀ op(A)ᵀ.
      const transposed = this.soleReader(out);
      const tperm = transposed?.node.attributes.perm as readonly number[] | undefined;
      if (transposed?.node.opType === "Transpose" && (tperm === undefined || tperm[0] === 1)) {
        [a, transA, b, transB] = [b, 1 - transB, a, 1 - transA];
        out = transposed.node.outputs[0]!;
        absorbed.push(transposed.index);
      }
      const shape = this.types.get(out)?.shape;
      const scaled = this.soleReader(out);
      if (scaled?.node.opType === "Mul") {
        const other = scaled.node.inputs[scaled.node.inputs[0] === out ? 1 : 0]!;
        const s = this.scalarConstant(other);
        // alpha is a float32 attribute: a float64 factor folds only when float32 holds it exactly.
        if (s !== null && Math.fround(s) === s && this.keepsShape(scaled.node, shape)) {
          alpha = s;
          out = scaled.node.outputs[0]!;
          absorbed.push(scaled.index);
        }
      }
      const added = this.soleReader(out);
      if ((added?.node.opType === "Add" || added?.node.opType === "Sub") && shape) {
        const first = added.node.inputs[0] === out;
        const other = added.node.inputs[first ? 1 : 0]!;
        const ct = this.types.get(other);
        if (ct?.dtype === dtype && this.keepsShape(added.node, shape) && gemmBias(ct.shape, shape)) {
          // C - P = (-alpha) A B + C; P - C = alpha A B - C.
          if (added.node.opType === "Sub" && first) beta = -1;
          else if (added.node.opType === "Sub") alpha = -alpha;
          c = other;
          out = added.node.outputs[0]!;
          absorbed.push(added.index);
        }
      }
      if (absorbed.length === 0 && a === m.inputs[0] && b === m.inputs[1]) continue;
      const attributes: Record<string, number | { float: number }> = { transA, transB };
      if (alpha !== 1) attributes.alpha = { float: alpha };
      if (beta !== 1) attributes.beta = { float: beta };
      const plain = transA === 0 && transB === 0 && alpha === 1 && c === null;
      const gemm: NodeData = plain
        ? { opType: "MatMul", inputs: [a, b], outputs: [out], attributes: {} }
        : { opType: "Gemm", inputs: c ? [a, b, c] : [a, b], outputs: [out], attributes };
      // The Gemm takes the place of the last node it absorbs: every operand is computed by then.
      const at = Math.max(i, ...absorbed);
      this.nodes[i] = null;
      for (const k of absorbed) this.nodes[k] = null;
      this.nodes[at] = gemm;
      this.producer.set(out, at);
      this.countUses();
    }
  }

  /** Whether `n` (elementwise) has the shape `shape` of the operand the Gemm computes. */
  keepsShape(n: NodeData, shape: readonly number[] | undefined): boolean {
    const t = this.types.get(n.outputs[0]!);
    return shape !== undefined && t !== undefined && sameShape(t.shape, shape);
  }

  /** The graph without the nodes and initializers no output needs. */
  withoutDeadCode(): GraphData {
    const live = new Set<string>(this.graphOutputs);
    const kept: NodeData[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i] ?? null;
      if (n === null || !n.outputs.some((o) => live.has(o))) continue;
      kept.push(n);
      n.inputs.forEach((name) => live.add(name));
      subgraphReads(n, live);
    }
    kept.reverse();
    const { name, inputs, outputs, initializers } = this.graph;
    return {
      name,
      nodes: kept,
      initializers: initializers.filter((t) => live.has(t.name)),
      inputs,
      outputs,
    };
  }
}

const CAST_TYPES: Readonly<Record<number, OnnxDType>> = {
  1: "float32",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  9: "bool",
  10: "float16",
  11: "float64",
  12: "uint32",
  16: "bfloat16",
};

/** Whether Gemm takes `c` as its C for an [M, N] result (ONNX: unidirectional broadcasting to [M, N]). */
function gemmBias(c: readonly number[], shape: readonly number[]): boolean {
  const [m, n] = shape as [number, number];
  if (c.length === 2) return (c[0] === m || c[0] === 1) && (c[1] === n || c[1] === 1);
  return c.length === 0 || (c.length === 1 && (c[0] === n || c[0] === 1));
}

/**
 * `graph` with its broadcasts skipped where elementwise nodes broadcast by themselves, its matrix
 * products as Gemms absorbing transposes, a scalar factor and an addend, and its dead nodes removed
 * (see the module). The result computes the same outputs, up to float rounding inside a Gemm.
 */
export function fuseOnnxGraph(graph: TypedGraphData): GraphData {
  return fuseGraph(graph, null);
}

/** The values a subgraph reads from its enclosing graphs, with their types and constant data. */
interface EnclosingScope {
  readonly types: ReadonlyMap<string, ValueType>;
  readonly constants: ReadonlyMap<string, TensorData>;
}

function fuseGraph(graph: TypedGraphData, outer: EnclosingScope | null): GraphData {
  const rewriter = new GraphRewriter(graph, outer);
  rewriter.skipBroadcasts();
  rewriter.foldConvBiases();
  rewriter.poolBeforeRelu();
  rewriter.formGemms();
  return rewriter.withoutDeadCode();
}
