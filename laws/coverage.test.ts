/**
 * Every registered primitive has a gradient-law entry (differentiable, non-differentiable, or covered
 * through another primitive): a new primitive fails here until laws/registry-table.ts describes it.
 */
import { describe, expect, it } from "vitest";
import { coverageMarkdown, coverageRows, staleEntries } from "./coverage-table.js";
import { LAW_TABLE } from "./registry-table.js";

describe("law coverage", () => {
  it("every registered primitive has an entry in laws/registry-table.ts", () => {
    const missing = coverageRows()
      .filter((r) => r.entry === null)
      .map((r) => r.primitive);
    expect(missing, `primitives without a law entry: ${missing.join(", ")}`).toEqual([]);
  });

  it("every differentiable or non-differentiable entry runs gradient, vmap and jit laws", () => {
    for (const row of coverageRows()) {
      if (row.entry === null || row.entry.kind === "covered-by") continue;
      expect(row.laws, row.primitive).toContain("vmap");
      expect(row.laws, row.primitive).toContain("jit");
      // A forward-only primitive (a while loop, whose reverse mode is refused as in JAX) runs the jvp laws.
      const forwardOnly =
        row.entry.kind === "differentiable" && !(row.entry.modes ?? ["rev"]).includes("rev");
      const gradientLaws =
        row.entry.kind === "differentiable" ? [forwardOnly ? "jvp" : "vjp"] : ["zeroTangent"];
      for (const law of gradientLaws) expect(row.laws, row.primitive).toContain(law);
    }
  });

  it("entries covered through another primitive point at a differentiable entry", () => {
    for (const entry of LAW_TABLE.values()) {
      if (entry.kind !== "covered-by") continue;
      expect(LAW_TABLE.get(entry.coveredBy)?.kind, `${entry.primitive} → ${entry.coveredBy}`).toBe(
        "differentiable",
      );
    }
  });

  it("no entry names a primitive that is not registered", () => {
    expect(staleEntries()).toEqual([]);
  });

  it("the report lists every primitive", () => {
    const report = coverageMarkdown();
    for (const row of coverageRows()) expect(report).toContain(`| \`${row.primitive}\` |`);
  });
});
