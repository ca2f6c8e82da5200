/**
 * The IR: a program is a list of equations over variables (like a jaxpr). Constants captured while
 * tracing become leading `constVars`, bound to values when the program is evaluated, so a program itself
 * closes over nothing and transforms can treat constants like any other input.
 */
import { type AbstractValue, type ConcreteArray, fmtAval, type NdArray } from "./array.js";
import { type DType, isFloat, readScalar } from "./dtype.js";
import { formatParams, type Primitive } from "./primitive.js";

export class Var {
  constructor(readonly aval: AbstractValue) {}
}

/** A scalar constant written inline in the program. */
export class Literal {
  constructor(readonly value: ConcreteArray) {}
  get aval(): AbstractValue {
    return this.value.aval;
  }
}

export type Atom = Var | Literal;

export interface Equation {
  readonly primitive: Primitive<unknown>;
  readonly params: unknown;
  readonly inputs: readonly Atom[];
  readonly outputs: readonly Var[];
  /** Where user code bound it: recorded while tracing with `setDebugNans(true)` on, for its error messages. */
  readonly site?: Error;
}

export class Program {
  constructor(
    readonly constVars: readonly Var[],
    readonly inputs: readonly Var[],
    readonly equations: readonly Equation[],
    readonly outputs: readonly Atom[],
  ) {}

  get inAvals(): AbstractValue[] {
    return [...this.constVars, ...this.inputs].map((v) => v.aval);
  }
  get outAvals(): AbstractValue[] {
    return this.outputs.map((v) => v.aval);
  }

  toString(): string {
    return printProgram(this);
  }
}

/** Evaluates a program by binding each equation's primitive in the current interpreter. */
export function evalProgram(
  program: Program,
  consts: readonly NdArray[],
  args: readonly NdArray[],
): NdArray[] {
  const env = new Map<Var, NdArray>();
  program.constVars.forEach((v, i) => env.set(v, consts[i]!));
  program.inputs.forEach((v, i) => env.set(v, args[i]!));
  const read = (a: Atom): NdArray => (a instanceof Literal ? a.value : env.get(a)!);
  for (const eqn of program.equations) {
    const outs = eqn.primitive.bind(eqn.inputs.map(read), eqn.params);
    eqn.outputs.forEach((v, i) => env.set(v, outs[i]!));
  }
  return program.outputs.map(read);
}

const SHORT_DTYPE: Readonly<Record<DType, string>> = {
  bool: "bool",
  uint8: "u8",
  int8: "i8",
  uint16: "u16",
  int16: "i16",
  uint32: "u32",
  int32: "i32",
  bfloat16: "bf16",
  float16: "f16",
  float32: "f32",
  float64: "f64",
};

function varName(i: number): string {
  let s = "";
  let n = i;
  do {
    s = String.fromCharCode(97 + (n % 26)) + s;
    n = Math.floor(n / 26) - 1;
  } while (n >= 0);
  return s;
}

/** The names `printProgram` gives a program's values: constants, inputs, then each equation's outputs. */
export function programNames(program: Program): Map<Var, string> {
  const names = new Map<Var, string>();
  const add = (v: Var) => {
    if (!names.has(v)) names.set(v, varName(names.size));
  };
  for (const v of [...program.constVars, ...program.inputs]) add(v);
  for (const e of program.equations) for (const v of e.outputs) add(v);
  return names;
}

/** Prints a program like a jaxpr: `{ lambda consts ; inputs . let eqns in ( outputs ) }`. */
export function printProgram(program: Program, indent = ""): string {
  const names = new Map<Var, string>();
  const name = (v: Var): string => {
    let n = names.get(v);
    if (n === undefined) {
      n = varName(names.size);
      names.set(v, n);
    }
    return n;
  };
  const typed = (v: Var): string => `${name(v)}:${SHORT_DTYPE[v.aval.dtype]}[${v.aval.shape.join(",")}]`;
  const atom = (a: Atom): string =>
    a instanceof Literal ? formatLiteral(a) : names.has(a) ? name(a) : `${name(a)}(unbound)`;
  const consts = program.constVars.map(typed).join(" ");
  const ins = program.inputs.map(typed).join(" ");
  const lines = [`${indent}{ lambda ${consts}${consts ? " " : ""}; ${ins}. let`];
  for (const eqn of program.equations) {
    const params = formatParams(eqn.primitive, eqn.params);
    const lhs = eqn.outputs.map(typed).join(" ");
    const rhs = `${eqn.primitive.name}${params ? `[${params}]` : ""} ${eqn.inputs.map(atom).join(" ")}`;
    lines.push(`${indent}    ${lhs ? `${lhs} = ` : ""}${rhs}`);
  }
  lines.push(`${indent}  in (${program.outputs.map(atom).join(", ")}) }`);
  return lines.join("\n");
}

function formatLiteral(l: Literal): string {
  const v = readScalar(l.value.storage[0]!, l.value.dtype);
  const s =
    l.value.dtype === "bool"
      ? String(v === 1)
      : Number.isInteger(v) && isFloat(l.value.dtype)
        ? `${v}.0`
        : String(v);
  return `${s}:${SHORT_DTYPE[l.value.dtype]}`;
}

export function fmtAvals(avals: readonly AbstractValue[]): string {
  return avals.map(fmtAval).join(", ");
}
