/**
 * The format strings of `debug.print` and `debug.check`, as Python's `str.format` reads them (JAX's
 * debug.print formats that way): `{}` takes the next positional value, `{0}` a positional value by index,
 * `{name}` a key of the keyword object (the last value, a plain object), `{{` and `}}` are braces. `!r`
 * shows an array as `toString` does (`array([1., 2.], shape=[2], dtype=float32)`), the default its values as
 * `toString` lays them out (`[1., 2.]`, as Python's str of a numpy array); a spec `:.3f`, `:.2e` or `:.4g`
 * writes each element with that precision. A format is parsed when print is called (while tracing), so
 * its errors are thrown there.
 */
import { ConcreteArray, formatValues, NdArray } from "../core/array.js";
import { isPlainObject } from "../tree/treedef.js";

/** A replacement field: which value, how to convert it, and the element spec. */
interface Field {
  readonly kind: "field";
  /** A positional index, or a key of the keyword object. */
  readonly key: number | string;
  readonly repr: boolean;
  readonly spec: ElementSpec | null;
}

interface ElementSpec {
  readonly precision: number;
  readonly type: "f" | "e" | "g";
}

type Segment = { readonly kind: "text"; readonly text: string } | Field;

/** A parsed format and how it reads the values. */
export interface ParsedFormat {
  readonly segments: readonly Segment[];
  /** Whether named fields read the last value as the keyword object. */
  readonly usesKeywords: boolean;
}

const SPEC = /^\.(\d{1,2})([feg])$/;

/**
 * Parses `fmt` for `who` (debug.print, debug.check) against the values it will format, checking every
 * field has a value: a TypeError naming the function, the format and what is missing otherwise.
 */
export function parseFormat(who: string, fmt: string, values: readonly unknown[]): ParsedFormat {
  if (typeof fmt !== "string") throw new TypeError(`${who}: the format must be a string, got ${typeof fmt}`);
  const segments: Segment[] = [];
  let text = "";
  let auto = 0;
  let numbering: "auto" | "manual" | null = null;
  const fail = (why: string): never => {
    throw new TypeError(`${who}: format ${JSON.stringify(fmt)}: ${why}`);
  };
  for (let i = 0; i < fmt.length; i++) {
    const ch = fmt[i]!;
    if (ch === "}") {
      if (fmt[i + 1] === "}") {
        text += "}";
        i++;
        continue;
      }
      fail(`single '}' at position ${i} (write '}}' for a brace)`);
    }
    if (ch !== "{") {
      text += ch;
      continue;
    }
    if (fmt[i + 1] === "{") {
      text += "{";
      i++;
      continue;
    }
    const close = fmt.indexOf("}", i + 1);
    if (close < 0) fail(`'{' at position ${i} is never closed (write '{{' for a brace)`);
    const body = fmt.slice(i + 1, close);
    if (body.includes("{")) fail(`nested '{' in the field {${body}}`);
    i = close;
    if (text) segments.push({ kind: "text", text });
    text = "";
    const m = /^([^!:]*)(?:!([a-z]))?(?::(.*))?$/.exec(body);
    if (!m) return fail(`cannot read the field {${body}}`);
    const [, name = "", conversion, specText] = m;
    if (conversion !== undefined && conversion !== "r" && conversion !== "s")
      fail(`unknown conversion !${conversion} in {${body}} (use !r or !s)`);
    let spec: ElementSpec | null = null;
    if (specText !== undefined && specText !== "") {
      const s = SPEC.exec(specText);
      if (!s) fail(`format spec ':${specText}' in {${body}} is not supported (use .Nf, .Ne or .Ng)`);
      spec = { precision: Number(s![1]), type: s![2] as ElementSpec["type"] };
    }
    let key: number | string;
    if (name === "") {
      if (numbering === "manual") fail("cannot switch from manual field numbering ({0}) to automatic ({})");
      numbering = "auto";
      key = auto++;
    } else if (/^\d+$/.test(name)) {
      if (numbering === "auto") fail("cannot switch from automatic field numbering ({}) to manual ({0})");
      numbering = "manual";
      key = Number(name);
    } else if (/^[A-Za-z_$][\w$]*$/.test(name)) key = name;
    else return fail(`field {${body}}: only {}, {0} and {name} are supported (no attribute or index access)`);
    segments.push({ kind: "field", key, repr: conversion === "r", spec });
  }
  if (text) segments.push({ kind: "text", text });
  const parsed: ParsedFormat = {
    segments,
    usesKeywords: segments.some((s) => s.kind === "field" && typeof s.key === "string"),
  };
  checkFields(who, fmt, parsed, values);
  return parsed;
}

/** Every field of the format has its value. */
function checkFields(who: string, fmt: string, parsed: ParsedFormat, values: readonly unknown[]): void {
  const { positional, keywords } = splitValues(parsed, values);
  if (parsed.usesKeywords && keywords === null) {
    throw new TypeError(
      `${who}: format ${JSON.stringify(fmt)} has named fields, so its last value must be a plain object holding them (JAX's keyword arguments), got ${describe(values[values.length - 1])}`,
    );
  }
  for (const s of parsed.segments) {
    if (s.kind !== "field") continue;
    if (typeof s.key === "number" && s.key >= positional.length) {
      throw new TypeError(
        `${who}: format ${JSON.stringify(fmt)} reads positional value ${s.key} but ${positional.length} ${positional.length === 1 ? "was" : "were"} given`,
      );
    }
    if (typeof s.key === "string" && !(s.key in keywords!)) {
      throw new TypeError(
        `${who}: format ${JSON.stringify(fmt)} reads {${s.key}} but the keyword object has ${
          Object.keys(keywords!)
            .map((k) => `'${k}'`)
            .join(", ") || "no keys"
        }`,
      );
    }
  }
}

function splitValues(
  parsed: ParsedFormat,
  values: readonly unknown[],
): { positional: readonly unknown[]; keywords: Record<string, unknown> | null } {
  if (!parsed.usesKeywords) return { positional: values, keywords: null };
  const last = values[values.length - 1];
  if (!isPlainObject(last)) return { positional: values, keywords: null };
  return { positional: values.slice(0, -1), keywords: last };
}

/** The formatted text, with the values' arrays concrete. */
export function renderFormat(parsed: ParsedFormat, values: readonly unknown[]): string {
  const { positional, keywords } = splitValues(parsed, values);
  return parsed.segments
    .map((s) => {
      if (s.kind === "text") return s.text;
      const value = typeof s.key === "number" ? positional[s.key] : keywords![s.key];
      return formatTree(value, s.repr, s.spec);
    })
    .join("");
}

/** A value as print shows it: arrays by their values, trees as JS literals of their formatted leaves. */
export function formatTree(value: unknown, repr = false, spec: ElementSpec | null = null): string {
  const rec = (v: unknown, top: boolean): string => {
    if (v instanceof NdArray) return formatArrayValue(v, repr, spec);
    if (Array.isArray(v)) return `[${v.map((x) => rec(x, false)).join(", ")}]`;
    if (isPlainObject(v)) {
      const entries = Object.entries(v).map(([k, x]) => `${k}: ${rec(x, false)}`);
      return entries.length ? `{ ${entries.join(", ")} }` : "{}";
    }
    if (typeof v === "number" && spec) return formatElement(v, spec);
    if (typeof v === "string") return top && !repr ? v : JSON.stringify(v);
    return String(v);
  };
  return rec(value, true);
}

function formatArrayValue(x: NdArray, repr: boolean, spec: ElementSpec | null): string {
  if (repr && spec === null) return x.toString();
  const c = x instanceof ConcreteArray ? x : x.concrete();
  const element = spec && c.dtype !== "bool" ? (v: number) => formatElement(v, spec) : undefined;
  return formatValues(c, element);
}

function formatElement(v: number, { precision, type }: ElementSpec): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (type === "f") return v.toFixed(precision);
  if (type === "e") return pythonExponent(v.toExponential(precision));
  // Python's g: significant digits, trailing zeros dropped, exponent form outside [1e-4, 10^precision).
  const p = Math.max(precision, 1);
  const exp = v === 0 ? 0 : Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= p) return pythonExponent(v.toExponential(p - 1).replace(/\.?0+e/, "e"));
  return String(Number(v.toFixed(Math.max(p - 1 - exp, 0))));
}

/** JS writes 1e+5, Python 1e+05: at least two exponent digits. */
function pythonExponent(s: string): string {
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

function describe(v: unknown): string {
  if (v instanceof NdArray) return "an array";
  if (Array.isArray(v)) return "a JS array";
  return v === null ? "null" : typeof v;
}
