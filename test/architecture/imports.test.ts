/**
 * Imports point one way, down the layers of docs/design.md ("Layers of the code"): this test reads that
 * table (the one declaration of the layers) and every import in src/, and fails on an import that points
 * up or sideways, on a cycle between folders, and on a cycle between files, naming the imports at fault.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const src = join(repo, "src");

/**
 * Files whose value imports may form a cycle, with why. The op families' rules are written with each
 * other's ops (the jvp of exp multiplies, the transpose of a broadcast sums), so their modules import
 * each other; the imports are only read when a rule runs, never while a module loads.
 */
const ALLOWED_FILE_CYCLE = new Set([
  "ops/binary.ts",
  "ops/creation.ts",
  "ops/elementwise-kit.ts",
  "ops/layout.ts",
  "ops/reduce.ts",
  "ops/shape.ts",
  "ops/unary.ts",
]);

interface Import {
  readonly from: string; // path below src/
  readonly to: string;
  readonly line: number;
  /** `import type` (or every name imported as a type): erased, so it cannot make a cycle at run time. */
  readonly typeOnly: boolean;
}

interface Layer {
  readonly row: number;
  readonly name: string;
  /** Folders (`core/`) and files (`np.ts`) of src/. */
  readonly units: readonly string[];
}

/** The layers table of docs/design.md, top row first. */
function readLayers(): Layer[] {
  const design = readFileSync(join(repo, "docs/design.md"), "utf8");
  const start = design.indexOf("## Layers of the code");
  if (start < 0) throw new Error('docs/design.md has no section "## Layers of the code"');
  const end = design.indexOf("\n## ", start + 1);
  const section = design.slice(start, end < 0 ? undefined : end).split("\n");
  const header = section.findIndex((l) => l.startsWith("|") && l.includes("folders and files of `src/`"));
  if (header < 0)
    throw new Error('docs/design.md: the layers table (column "folders and files of `src/`") is missing');
  const rows: string[] = [];
  for (const line of section.slice(header + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line);
  }
  return rows.map((row, i) => {
    const cells = row.split("|").map((c) => c.trim());
    const units = [...(cells[2] ?? "").matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    return { row: i, name: cells[1] ?? "", units };
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [relative(src, path).split("\\").join("/")] : [];
  });
}

/** The src/ file a specifier names, or null for a package outside the library. */
function resolve(from: string, specifier: string, files: ReadonlySet<string>): string | null {
  let target: string;
  if (specifier === "tracegrad") target = "index.ts";
  else if (specifier.startsWith("tracegrad/")) target = `${specifier.slice("tracegrad/".length)}.ts`;
  else if (specifier.startsWith(".")) {
    target = relative(src, join(src, dirname(from), specifier))
      .split("\\")
      .join("/")
      .replace(/\.js$/, ".ts");
  } else return null;
  if (files.has(target)) return target;
  if (files.has(`${target}/index.ts`)) return `${target}/index.ts`;
  throw new Error(`${from}: cannot resolve the import "${specifier}"`);
}

function readImports(files: ReadonlySet<string>): Import[] {
  const imports: Import[] = [];
  for (const file of files) {
    const text = readFileSync(join(src, file), "utf8");
    const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
    const add = (specifier: string, node: ts.Node, typeOnly: boolean): void => {
      const to = resolve(file, specifier, files);
      const line = source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      if (to !== null) imports.push({ from: file, to, line, typeOnly });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        const clause = node.importClause;
        const named = clause?.namedBindings;
        const allTypes =
          clause !== undefined &&
          clause.name === undefined &&
          named !== undefined &&
          ts.isNamedImports(named) &&
          named.elements.length > 0 &&
          named.elements.every((e) => e.isTypeOnly);
        add(node.moduleSpecifier.text, node, (clause?.isTypeOnly ?? false) || allTypes);
      } else if (
        ts.isExportDeclaration(node) &&
        node.moduleSpecifier &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        add(node.moduleSpecifier.text, node, node.isTypeOnly);
      } else if (
        ts.isCallExpression(node) &&
        node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments[0] &&
        ts.isStringLiteral(node.arguments[0])
      ) {
        add(node.arguments[0].text, node, false);
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
        const literal = node.argument.literal;
        if (ts.isStringLiteral(literal)) add(literal.text, node, true);
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return imports;
}

/** The folder (`core/`) or top-level file (`np.ts`) of src/ a file belongs to. */
const unitOf = (file: string): string => (file.includes("/") ? `${file.split("/")[0]}/` : file);

/** Strongly connected components with more than one node (Tarjan), each sorted. */
function cycles(edges: ReadonlyMap<string, ReadonlySet<string>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of edges.keys()) if (!index.has(v)) connect(v);
  return found;
}

function graph(imports: readonly Import[], node: (file: string) => string): Map<string, Set<string>> {
  const edges = new Map<string, Set<string>>();
  for (const i of imports) {
    const [a, b] = [node(i.from), node(i.to)];
    if (a === b) continue;
    if (!edges.has(a)) edges.set(a, new Set());
    edges.get(a)!.add(b);
  }
  return edges;
}

const layers = readLayers();
const files = new Set(sourceFiles(src));
const imports = readImports(files);
const layerOf = new Map(layers.flatMap((l) => l.units.map((u) => [u, l] as const)));

describe("imports point down the layers of docs/design.md", () => {
  it("the design page declares the layers, and every file of src/ is in one", () => {
    expect(layers.length).toBeGreaterThanOrEqual(5);
    const declared = layers.flatMap((l) => l.units);
    expect(
      declared.filter((u, i) => declared.indexOf(u) !== i),
      "units declared twice",
    ).toEqual([]);
    const units = new Set([...files].map(unitOf));
    expect(
      [...units].filter((u) => !layerOf.has(u)),
      "folders or files in no layer",
    ).toEqual([]);
    expect(
      declared.filter((u) => !units.has(u)),
      "layers naming what src/ does not have",
    ).toEqual([]);
  });

  it("the import reader sees the imports (the check below is not vacuous)", () => {
    expect(imports.length).toBeGreaterThan(400);
    expect(imports).toContainEqual(
      expect.objectContaining({ from: "ops/conv.ts", to: "core/primitive.ts", typeOnly: false }),
    );
    expect(imports).toContainEqual(expect.objectContaining({ from: "core/array.ts", typeOnly: true }));
  });

  it("no module imports from a layer above its own or from another folder of its layer", () => {
    const wrong = imports.flatMap((i) => {
      const [a, b] = [unitOf(i.from), unitOf(i.to)];
      if (a === b) return [];
      const [la, lb] = [layerOf.get(a)!, layerOf.get(b)!];
      if (lb.row > la.row) return [];
      const where =
        lb.row === la.row ? `the same layer (${la.name})` : `a layer above (${lb.name} over ${la.name})`;
      return [`src/${i.from}:${i.line} imports src/${i.to}: ${b} is in ${where}`];
    });
    expect(wrong).toEqual([]);
  });

  it("no cycle between folders", () => {
    const named = cycles(graph(imports, unitOf)).map((component) => {
      // The imports that close the cycle: those from a folder to one at its own layer or above.
      const closing = imports.filter((i) => {
        const [a, b] = [unitOf(i.from), unitOf(i.to)];
        return (
          a !== b &&
          component.includes(a) &&
          component.includes(b) &&
          layerOf.get(b)!.row <= layerOf.get(a)!.row
        );
      });
      return `${component.join(" ")}: ${closing.map((i) => `src/${i.from}:${i.line} -> src/${i.to}`).join("; ")}`;
    });
    expect(named).toEqual([]);
  });

  it("no cycle between files (value imports), but the op families' rules", () => {
    const values = imports.filter((i) => !i.typeOnly);
    const found = cycles(graph(values, (f) => f)).filter((c) => !c.every((f) => ALLOWED_FILE_CYCLE.has(f)));
    const named = found.map((component) => {
      const members = new Set(component);
      const inside = values.filter((i) => members.has(i.from) && members.has(i.to));
      return inside.map((i) => `src/${i.from}:${i.line} -> src/${i.to}`).join("; ");
    });
    expect(named).toEqual([]);
  });
});
