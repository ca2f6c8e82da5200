/**
 * A traced program as a Graphviz DOT graph: one node per equation (its primitive and output shape), the
 * inputs and outputs as distinct shapes, edges along the data flow. Equations of the forward pass and of
 * the backward (or tangent) pass get different colours, and the edges that carry forward values into
 * the backward pass (the residuals reverse mode keeps) are dashed.
 */
import type { AbstractValue } from "../core/array.js";
import { type Atom, type Equation, Literal, type Program, Var } from "../core/ir.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { leafPaths, type TreeDef } from "../tree/treedef.js";

/** Which pass an equation belongs to, which sets its colour. */
export type GraphPart = "forward" | "backward";

/** What `programToDot` draws: a bare program, or anything carrying one (makeProgram's result, jit's `lower()`). */
export type DrawableProgram =
  | Program
  | { readonly program: Program; readonly inTree?: TreeDef; readonly outTree?: TreeDef };

/** Options of `programToDot`: the title, how forward and backward are told apart, and names. */
export interface ProgramToDotOptions {
  /** A title drawn above the graph. */
  title?: string;
  /**
   * Which outputs are the forward results (flattened output indices), e.g. `[0]` for the loss of
   * `valueAndGrad`: the equations they depend on are the forward pass, all others the backward pass.
   */
  forwardOutputs?: readonly number[];
  /**
   * Which inputs are cotangents or tangents (flattened input indices; negative ones count from the end):
   * the equations that depend on them are the backward pass, e.g. `[-1]` for `(p, x, ct) => vjpFn(ct)`.
   */
  cotangentInputs?: readonly number[];
  /** Decide each equation's part yourself (takes precedence over the two options above). */
  partOf?: (equation: Equation, index: number) => GraphPart;
  /** Leave out equations whose results reach no output (tracing leaves a few behind). Default true. */
  pruneUnused?: boolean;
  /**
   * Names for the positional arguments, replacing the leading index of each input's tree path when the
   * program came from makeProgram: `["params", "x"]` turns `0.conv1.weight` into `params.conv1.weight`.
   */
  argNames?: readonly string[];
  /** The same for the results: `["loss", "grads"]` for `valueAndGrad`'s `[value, grad]`. */
  resultNames?: readonly string[];
}

const COLORS = {
  input: "#d9d9d9",
  const: "#f0f0f0",
  forward: "#c6dbef",
  backward: "#fdd0a2",
  output: "#fff2a8",
  edge: "#555555",
  residual: "#9e9e9e",
};

const SHORT_DTYPE: Record<string, string> = { float32: "f32", float64: "f64", int32: "i32", bool: "bool" };

const typeLabel = (aval: AbstractValue): string =>
  `${SHORT_DTYPE[aval.dtype] ?? aval.dtype}[${aval.shape.join(",")}]`;

const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const quote = (s: string): string => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** An HTML-like label: a bold first line, then smaller grey lines. */
function htmlLabel(title: string, ...details: string[]): string {
  const rest = details.map((d) => `<br/><font point-size="9" color="#444444">${escapeHtml(d)}</font>`);
  return `<<b>${escapeHtml(title)}</b>${rest.join("")}>`;
}

function literalText(l: Literal): string {
  const v = l.value.storage[0]!;
  if (l.value.dtype === "bool") return String(v === 1);
  if (l.value.dtype === "int32") return String(v);
  // float32 literals widened to JS numbers print as 0.10000000149011612; 7 digits say the same.
  const short = Number(v.toPrecision(7));
  return Number.isInteger(short) ? `${short}.0` : String(short);
}

/** Tree paths with the leading argument index replaced by a name, or `prefix0`, `prefix1`, ... */
function leafNames(
  tree: TreeDef | undefined,
  count: number,
  names: readonly string[] | undefined,
  prefix: string,
) {
  const paths = tree ? leafPaths(tree) : [];
  return Array.from({ length: count }, (_, i) => {
    const path = paths[i];
    if (path === undefined) return `${prefix}${i}`;
    if (names === undefined) return path === "" ? `${prefix}${i}` : path;
    const [head, ...rest] = path.split(".");
    const name = names[Number(head)] ?? head!;
    return [name, ...rest].join(".");
  });
}

/** The equations (by index) that some output in `outputs` depends on. */
function ancestorsOf(program: Program, outputs: readonly Atom[]): Set<number> {
  const producer = new Map<Var, number>();
  program.equations.forEach((e, i) => {
    for (const v of e.outputs) producer.set(v, i);
  });
  const needed = new Set<number>();
  const stack = outputs.filter((a): a is Var => a instanceof Var);
  while (stack.length > 0) {
    const i = producer.get(stack.pop()!);
    if (i === undefined || needed.has(i)) continue;
    needed.add(i);
    for (const a of program.equations[i]!.inputs) if (a instanceof Var) stack.push(a);
  }
  return needed;
}

/** The equations (by index) that depend on any of `sources`. */
function descendantsOf(program: Program, sources: readonly Var[]): Set<number> {
  const tainted = new Set<Var>(sources);
  const out = new Set<number>();
  program.equations.forEach((e, i) => {
    if (e.inputs.some((a) => a instanceof Var && tainted.has(a))) {
      out.add(i);
      for (const v of e.outputs) tainted.add(v);
    }
  });
  return out;
}

function partsOf(program: Program, options: ProgramToDotOptions): ((i: number) => GraphPart) | null {
  if (options.partOf) {
    const partOf = options.partOf;
    return (i) => partOf(program.equations[i]!, i);
  }
  if (options.cotangentInputs) {
    const n = program.inputs.length;
    const sources = options.cotangentInputs.map((k) => {
      const v = program.inputs[k < 0 ? n + k : k];
      if (v === undefined) throw new RangeError(`programToDot: no input ${k} (the program has ${n})`);
      return v;
    });
    const backward = descendantsOf(program, sources);
    return (i) => (backward.has(i) ? "backward" : "forward");
  }
  if (options.forwardOutputs) {
    const outs = options.forwardOutputs.map((k) => {
      const a = program.outputs[k];
      if (a === undefined)
        throw new RangeError(`programToDot: no output ${k} (the program has ${program.outputs.length})`);
      return a;
    });
    const forward = ancestorsOf(program, outs);
    return (i) => (forward.has(i) ? "forward" : "backward");
  }
  return null;
}

/**
 * The program as Graphviz DOT text (render with `dot -Tsvg graph.dot > graph.svg`). Equations are
 * boxes labelled with the primitive (and any scalar literal operands) and the output type; inputs are
 * grey, outputs yellow; with `forwardOutputs`, `cotangentInputs` or `partOf`, forward equations are blue
 * and backward ones orange.
 */
export function programToDot(drawable: DrawableProgram, options: ProgramToDotOptions = {}): string {
  checkOptions(
    "programToDot",
    options,
    optionKeys<ProgramToDotOptions>({
      title: true,
      forwardOutputs: true,
      cotangentInputs: true,
      partOf: true,
      pruneUnused: true,
      argNames: true,
      resultNames: true,
    }),
  );
  const program = "program" in drawable ? drawable.program : drawable;
  const inTree = "program" in drawable ? drawable.inTree : undefined;
  const outTree = "program" in drawable ? drawable.outTree : undefined;
  const part = partsOf(program, options);
  const kept =
    (options.pruneUnused ?? true)
      ? ancestorsOf(program, program.outputs)
      : new Set(program.equations.map((_, i) => i));

  const lines: string[] = [
    "digraph program {",
    '  graph [rankdir=TB, fontname="Helvetica", nodesep=0.25, ranksep=0.3];',
    '  node [fontname="Helvetica", fontsize=11, shape=box, style="rounded,filled", penwidth=0.8, margin="0.08,0.03"];',
    `  edge [color="${COLORS.edge}", arrowsize=0.6];`,
  ];
  if (options.title) {
    lines.push(`  label=${quote(options.title)}; labelloc=t; fontsize=18;`);
  }

  // Who produces each variable: an input, a constant or an equation node.
  const source = new Map<Var, { id: string; part: GraphPart | "input" }>();
  const inputNames = leafNames(inTree, program.inputs.length, options.argNames, "in");
  program.constVars.forEach((v, i) => {
    const id = `const${i}`;
    source.set(v, { id, part: "input" });
    lines.push(
      `  ${id} [label=${htmlLabel("constant", typeLabel(v.aval))}, shape=note, fillcolor="${COLORS.const}"];`,
    );
  });
  // Inputs and outputs are not pinned to the top and bottom rows: each sits next to its first
  // use (a layer's weights beside that layer), which keeps a network's graph narrow.
  program.inputs.forEach((v, i) => {
    const id = `in${i}`;
    source.set(v, { id, part: "input" });
    lines.push(
      `  ${id} [label=${htmlLabel(inputNames[i]!, typeLabel(v.aval))}, shape=invhouse, style=filled, fillcolor="${COLORS.input}"];`,
    );
  });

  const edgeFrom = (from: { part: GraphPart | "input" }, toPart: GraphPart | "output"): string =>
    from.part === "forward" && toPart === "backward" ? ` [style=dashed, color="${COLORS.residual}"]` : "";

  program.equations.forEach((eqn, i) => {
    if (!kept.has(i)) return;
    const id = `eq${i}`;
    const eqPart: GraphPart = part ? part(i) : "forward";
    const literals = eqn.inputs.filter((a): a is Literal => a instanceof Literal).map(literalText);
    const name = literals.length > 0 ? `${eqn.primitive.name} ${literals.join(" ")}` : eqn.primitive.name;
    const types = eqn.outputs.map((v) => typeLabel(v.aval)).join(", ");
    lines.push(`  ${id} [label=${htmlLabel(name, types)}, fillcolor="${COLORS[eqPart]}"];`);
    const seen = new Set<string>();
    for (const a of eqn.inputs) {
      if (!(a instanceof Var)) continue;
      const from = source.get(a);
      if (from === undefined || seen.has(from.id)) continue; // x * x gets one edge
      seen.add(from.id);
      lines.push(`  ${from.id} -> ${id}${edgeFrom(from, eqPart)};`);
    }
    for (const v of eqn.outputs) source.set(v, { id, part: eqPart });
  });

  const outputNames = leafNames(outTree, program.outputs.length, options.resultNames, "out");
  program.outputs.forEach((a, i) => {
    const id = `out${i}`;
    const detail = a instanceof Literal ? `${literalText(a)} ${typeLabel(a.aval)}` : typeLabel(a.aval);
    lines.push(
      `  ${id} [label=${htmlLabel(outputNames[i]!, detail)}, shape=house, style=filled, fillcolor="${COLORS.output}"];`,
    );
    const from = a instanceof Var ? source.get(a) : undefined;
    if (from) lines.push(`  ${from.id} -> ${id};`);
  });

  // A legend, when there is more than one kind of equation to tell apart.
  if (part) {
    lines.push(
      "  subgraph cluster_legend {",
      '    label="legend"; fontsize=11; style=rounded; color="#bbbbbb";',
      `    legend_forward [label="forward pass", fillcolor="${COLORS.forward}"];`,
      `    legend_backward [label="backward pass", fillcolor="${COLORS.backward}"];`,
      `    legend_forward -> legend_backward [style=dashed, color="${COLORS.residual}", label=" residual", fontsize=9, fontname="Helvetica"];`,
      "  }",
    );
  }
  lines.push("}");
  return lines.join("\n");
}
