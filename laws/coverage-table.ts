/**
 * The coverage report: every registered primitive with the laws that cover it, built from the same
 * table and `lawsFor` that laws/gradients.test.ts runs. Import src/index.ts first: the registry only
 * holds primitives whose modules were loaded.
 */
import "../src/index.js";
import { primitives } from "../src/core/primitive.js";
import {
  FUNCTION_LAWS,
  LAW_COLUMNS,
  LAW_TABLE,
  LAW_TITLES,
  type LawEntry,
  type LawName,
  lawsFor,
} from "./registry-table.js";

export interface CoverageRow {
  readonly primitive: string;
  /** The entry, or null when the primitive has none (a failure of laws/coverage.test.ts). */
  readonly entry: LawEntry | null;
  readonly laws: readonly LawName[];
}

const HEADERS: Record<LawName, string> = {
  jvp: "jvp",
  vjp: "vjp",
  dotProduct: "⟨vjp,jvp⟩",
  linearity: "linear in t",
  secondOrder: "2nd order",
  transpose: "transpose",
  zeroTangent: "zero tangent",
  vmap: "vmap",
  jit: "jit",
  effects: "effects",
  exercises: "traced",
};

/** One row per registered primitive, in registration order. */
export function coverageRows(): CoverageRow[] {
  return [...primitives().keys()].map((name) => {
    const entry = LAW_TABLE.get(name) ?? null;
    return { primitive: name, entry, laws: entry ? lawsFor(entry) : [] };
  });
}

/** Table entries naming no registered primitive (renamed or removed primitives). */
export function staleEntries(): string[] {
  const registered = primitives();
  return [...LAW_TABLE.keys()].filter((name) => !registered.has(name));
}

function kindOf(entry: LawEntry | null): string {
  if (entry === null) return "**no entry**";
  if (entry.kind === "covered-by") return `covered by \`${entry.coveredBy}\``;
  if (entry.kind === "non-differentiable") return "non-differentiable";
  const modes = entry.modes ?? ["fwd", "rev"];
  return modes.length === 2 ? "differentiable" : `differentiable (${modes.join(", ")} only)`;
}

/** The Markdown report printed by `npm run laws:coverage`. */
export function coverageMarkdown(): string {
  const rows = coverageRows();
  const header = ["primitive", "kind", ...LAW_COLUMNS.map((l) => HEADERS[l]), "notes"];
  const lines = [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => {
      const marks = LAW_COLUMNS.map((l) => (r.laws.includes(l) ? "✓" : ""));
      const note = (r.entry?.note ?? "").replace(/\|/g, "\\|");
      return `| \`${r.primitive}\` | ${kindOf(r.entry)} | ${marks.join(" | ")} | ${note} |`;
    }),
  ];
  const functionHeader = ["function", "built on", ...LAW_COLUMNS.map((l) => HEADERS[l]), "notes"];
  const functionLines = [
    "",
    "Functions without a primitive of their own, checked by the same laws:",
    "",
    `| ${functionHeader.join(" | ")} |`,
    `| ${functionHeader.map(() => "---").join(" | ")} |`,
    ...FUNCTION_LAWS.map((e) => {
      const laws = lawsFor(e);
      const marks = LAW_COLUMNS.map((l) => (laws.includes(l) ? "✓" : ""));
      return `| \`${e.function}\` | \`${e.primitive}\` | ${marks.join(" | ")} | ${(e.note ?? "").replace(/\|/g, "\\|")} |`;
    }),
  ];
  const missing = rows.filter((r) => r.entry === null).map((r) => r.primitive);
  const stale = staleEntries();
  const counts = {
    differentiable: rows.filter((r) => r.entry?.kind === "differentiable").length,
    nonDifferentiable: rows.filter((r) => r.entry?.kind === "non-differentiable").length,
    coveredBy: rows.filter((r) => r.entry?.kind === "covered-by").length,
  };
  const summary = [
    "",
    `${rows.length} primitives: ${counts.differentiable} differentiable, ${counts.nonDifferentiable} non-differentiable, ` +
      `${counts.coveredBy} covered through another, ${missing.length} without an entry.`,
    "",
    "Columns: " + LAW_COLUMNS.map((l) => `${HEADERS[l]}: ${LAW_TITLES[l]}`).join("; ") + ".",
  ];
  if (missing.length)
    summary.push("", `Missing entries (add them to laws/registry-table.ts): ${missing.join(", ")}.`);
  if (stale.length) summary.push("", `Entries for unregistered primitives: ${stale.join(", ")}.`);
  return [...lines, ...functionLines, ...summary].join("\n");
}
