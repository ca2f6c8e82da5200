/**
 * The benchmark suite still runs: tracegrad's part in quick mode (small workloads, few iterations, no
 * peers) produces a report with a row for every workload. Timings are not asserted.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { type BenchReport, renderReport } from "../../bench/report.js";
import { runBenchmarks } from "../../bench/run.js";
import { isTrainStep, workloadsFor } from "../../bench/workloads.js";

describe("npm run bench -- --quick", () => {
  const workloads = workloadsFor("quick");
  let report: BenchReport;
  let markdown: string;
  beforeAll(() => {
    report = runBenchmarks({ mode: "quick", peers: [] });
    markdown = renderReport(report);
  });

  it("measures every workload eagerly and under jit", () => {
    expect(report.tracegrad.rows.map((r) => r.workload.id)).toEqual(workloads.map((w) => w.id));
    for (const row of report.tracegrad.rows) {
      expect(row.eager, `${row.workload.id} eager`).toMatchObject({ ok: true });
      expect(row.jit, `${row.workload.id} jit`).toMatchObject({ ok: true });
      expect(row.memory, `${row.workload.id} memory`).toMatchObject({ ok: true });
    }
  });

  it("has a row for every workload in the time and memory tables", () => {
    for (const w of workloads) {
      const title = w.kind === "matmul" ? `${w.label} (GFLOP/s)` : w.label;
      expect(markdown).toContain(`| ${title} |`);
      expect(markdown).toContain(`| ${w.label} |`);
    }
    expect(markdown).toMatch(/## Time per call/);
    expect(markdown).toMatch(/## tracegrad jit memory/);
    expect(markdown).toMatch(/tracegrad backend: /);
  });

  it("a donated jitted train step allocates no more than its loss", () => {
    for (const row of report.tracegrad.rows) {
      if (!isTrainStep(row.workload)) continue;
      if (!row.memory.ok) throw new Error(row.memory.error);
      expect(row.memory.value.allocatedBytesPerCall, row.workload.id).toBeLessThanOrEqual(8);
    }
  });
});
