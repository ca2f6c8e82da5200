/**
 * The benchmark suite still runs: tracegrad's part in quick mode (small workloads, few iterations, no
 * peers; its eager and jit runners as child processes) produces a report with a row for every workload.
 * Timings are not asserted.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { RELAXED_TITLES } from "../../bench/peers/protocol.js";
import { type BenchReport, type PeerColumn, renderReport } from "../../bench/report.js";
import { runBenchmarks } from "../../bench/run.js";
import { isTrainStep, workloadsFor } from "../../bench/workloads.js";
import { relaxedSimdSupported } from "../../src/backend/wasm/runtime.js";

describe("npm run bench -- --quick", () => {
  const workloads = workloadsFor("quick");
  let report: BenchReport;
  let markdown: string;
  beforeAll(async () => {
    report = await runBenchmarks({ mode: "quick", peers: [] });
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
      const title =
        w.kind === "matmul"
          ? `${w.label} (GFLOP/s)`
          : w.kind === "lstm-train" || w.kind === "gpt-train"
            ? `${w.label} (tokens/s)`
            : w.label;
      expect(markdown).toContain(`| ${title} |`);
      expect(markdown).toContain(`| ${w.label} |`);
    }
    expect(markdown).toMatch(/## Time per call/);
    expect(markdown).toMatch(/## tracegrad jit memory/);
    expect(markdown).toMatch(/tracegrad backend: /);
  });

  it("a donated jitted train step allocates no more than its loss", () => {
    for (const row of report.tracegrad.rows) {
      // Not yet the LSTM step: a scan's body plan allocates the outputs it does not write in place on
      // every iteration (the scan copies them into its own outputs), ~1.5 MiB per call at full size.
      if (!isTrainStep(row.workload) || row.workload.kind === "lstm-train") continue;
      if (!row.memory.ok) throw new Error(row.memory.error);
      expect(row.memory.value.allocatedBytesPerCall, row.workload.id).toBeLessThanOrEqual(8);
    }
  });
});

describe("npm run bench -- --peers relaxed", () => {
  it("runs tracegrad's jit and jax-js again in a Node with relaxed SIMD, compared in their own table", async () => {
    const workload = workloadsFor("quick").find((w) => w.kind === "mlp-train")!;
    const report = await runBenchmarks({ mode: "quick", peers: ["relaxed"], only: [workload.id] });
    const columns = report.peers;
    expect(columns.map((c) => c.title)).toEqual(Object.values(RELAXED_TITLES));
    if (relaxedSimdSupported()) {
      // This Node has it on already: nothing to run twice.
      for (const c of columns) expect(c.status).toBe("skipped");
      return;
    }
    const [tracegrad, jaxjs] = columns as [PeerColumn, PeerColumn];
    expect(tracegrad.status, tracegrad.description).toBe("ok");
    expect(tracegrad.description).toMatch(/\(relaxed SIMD, /);
    expect(tracegrad.results[workload.id]).toMatchObject({ ok: true });
    // jax-js is a dev dependency; if it is absent the column says so and the table is left out.
    expect(["ok", "not installed"]).toContain(jaxjs.status);
    const markdown = renderReport(report);
    if (jaxjs.status === "ok") {
      expect(jaxjs.description).toMatch(/relaxed SIMD available/);
      expect(markdown).toMatch(/## With relaxed SIMD/);
      // A ratio of 10 or more is printed without decimals (formatRatio), and under load either can occur.
      const cell = "\\d+(?:\\.\\d+)?";
      expect(markdown).toMatch(new RegExp(`\\| ${workload.label} \\| ${cell} \\| ${cell} \\|`));
    }
    // The relaxed columns are not in the table of ratios against the plain jit.
    const ratios = markdown.split("## Peers relative to tracegrad jit")[1] ?? "";
    expect(ratios.split("##")[0]).not.toContain(RELAXED_TITLES.tracegrad);
  });
});
