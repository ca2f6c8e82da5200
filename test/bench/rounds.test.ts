/** Rounds of the benchmark merged into one report (bench/rounds.ts). */
import { describe, expect, it } from "vitest";
import { describeMachine, type PeerColumn, renderReport } from "../../bench/report.js";
import { mergeMeasurements, pairedRatio, roundRatios } from "../../bench/rounds.js";
import { runBenchmarks } from "../../bench/run.js";
import type { Measurement } from "../../bench/timing.js";
import type { TracegradSuiteResult } from "../../bench/tracegrad-suite.js";
import { workloadsFor } from "../../bench/workloads.js";

const timed = (medianMs: number, minMs = medianMs / 2, iterations = 10): Measurement => ({
  ok: true,
  timing: { medianMs, minMs, iterations },
});

describe("mergeMeasurements", () => {
  it("takes the median of the round medians, the lowest minimum and every call", () => {
    const merged = mergeMeasurements([timed(30, 20, 5), timed(10, 8, 7), timed(12, 11, 9)]);
    expect(merged).toEqual({
      ok: true,
      timing: { medianMs: 12, minMs: 8, iterations: 21, roundMediansMs: [30, 10, 12] },
    });
  });

  it("averages the two middle rounds of an even count", () => {
    const merged = mergeMeasurements([timed(4), timed(1), timed(2), timed(8)]);
    expect(merged?.ok && merged.timing.medianMs).toBe(3);
  });

  it("leaves a single round as it is", () => {
    expect(mergeMeasurements([timed(5)])).toEqual(timed(5));
  });

  it("reports a failure of any round", () => {
    const failed: Measurement = { ok: false, error: "out of memory" };
    expect(mergeMeasurements([timed(5), failed, timed(6)])).toBe(failed);
  });
});

describe("roundRatios", () => {
  it("pairs the runners' medians round by round", () => {
    const a = mergeMeasurements([timed(30), timed(20), timed(40)]);
    const b = mergeMeasurements([timed(10), timed(10), timed(8)]);
    expect(roundRatios(a, b)).toEqual([3, 2, 5]);
  });

  it("is empty when either side has no rounds to pair", () => {
    expect(roundRatios(timed(3), timed(1))).toEqual([]);
    expect(roundRatios(undefined, timed(1))).toEqual([]);
  });
});

describe("pairedRatio", () => {
  it("is the median of the per-round ratios, not the ratio of the medians", () => {
    // Medians 20 and 10 (ratio 2); per round 30/10, 20/10 and 10/1: median 3.
    const a = mergeMeasurements([timed(30), timed(20), timed(10)]);
    const b = mergeMeasurements([timed(10), timed(10), timed(1)]);
    expect(pairedRatio(a, b)).toEqual({ median: 3, min: 2, max: 10, rounds: 3 });
  });

  it("is the ratio of the medians with a single round, and null without a timing", () => {
    expect(pairedRatio(timed(3), timed(2))).toEqual({ median: 1.5, min: 1.5, max: 1.5, rounds: 1 });
    expect(pairedRatio(timed(3), { ok: false, error: "crashed" })).toBeNull();
    expect(pairedRatio(undefined, timed(3))).toBeNull();
  });
});

describe("a report of several rounds", () => {
  const workload = workloadsFor("quick").find((w) => w.kind === "mlp-train")!;
  /** One runner's measurements of the workload, a median per round. */
  const rounds = (...ms: number[]) => mergeMeasurements(ms.map((m) => timed(m)))!;
  const peer = (title: string, ...ms: number[]): PeerColumn => ({
    title,
    status: "ok",
    description: title,
    results: { [workload.id]: rounds(...ms) },
  });

  it("shows the median round and the median of the per-round ratios with their spread", () => {
    const tracegrad: TracegradSuiteResult = {
      backend: "test",
      rows: [
        {
          workload,
          eager: rounds(40, 48, 32),
          jit: rounds(10, 12, 8),
          memory: { ok: false, error: "not measured here" },
        },
      ],
    };
    const markdown = renderReport({
      mode: "full",
      rounds: 3,
      machine: describeMachine(),
      tracegrad,
      peers: [peer("jax-js wasm jit", 30, 24, 40), peer("torch 1T OpenBLAS", 20, 48, 16)],
    });
    // Medians 10 and 30; per round jax-js 30/10, 24/12 and 40/8 (median 3); torch 2, 4 and 2.
    expect(markdown).toContain(`| ${workload.label} | 40.0 | **10.0** | 30.0 | 20.0 |`);
    expect(markdown).toContain(
      `| ${workload.label} | 4.00 (4.00–4.00) | 3.00 (2.00–5.00) | 2.00 (2.00–4.00) |`,
    );
    // tracegrad eager ÷ torch per round: 40/20, 48/48, 32/16.
    expect(markdown).toMatch(/## tracegrad eager relative to PyTorch eager/);
    expect(markdown).toContain(`| ${workload.label} | 2.00 (1.00–2.00) |`);
    expect(markdown).toMatch(/A ratio is the median of the per-round ratios/);
    expect(markdown).not.toMatch(/ONNX Runtime relative to PyTorch/);
  });

  it("pairs each ONNX Runtime column with the OpenBLAS torch columns only", () => {
    const markdown = renderReport({
      mode: "full",
      rounds: 2,
      machine: describeMachine(),
      tracegrad: {
        backend: "test",
        rows: [
          { workload, eager: rounds(9, 9), jit: rounds(3, 3), memory: { ok: false, error: "not measured" } },
        ],
      },
      peers: [
        peer("torch 1T refBLAS", 100, 100),
        peer("torch 1T OpenBLAS", 10, 20),
        peer("onnxruntime 1T", 5, 30),
        peer("onnxruntime 2T", 4, 8),
      ],
    });
    expect(markdown).toMatch(/## tracegrad on ONNX Runtime relative to PyTorch/);
    expect(markdown).toContain(
      "| Workload | onnxruntime 1T ÷ torch 1T OpenBLAS | onnxruntime 2T ÷ torch 1T OpenBLAS |",
    );
    // Per round 5/10 and 30/20 (median 1.00); 4/10 and 8/20 (0.40).
    expect(markdown).toContain(`| ${workload.label} | 1.00 (0.50–1.50) | 0.40 (0.40–0.40) |`);
  });

  it("runs the alternation once per round, tracegrad's eager and jit runners each measuring every round", async () => {
    const lines: string[] = [];
    const only = [workloadsFor("quick")[0]!.id];
    const report = await runBenchmarks({
      mode: "quick",
      peers: [],
      only,
      rounds: 2,
      log: (l) => lines.push(l),
    });
    expect(lines.filter((l) => l.startsWith("== round"))).toEqual(["== round 1 of 2", "== round 2 of 2"]);
    expect(lines.filter((l) => l.startsWith("tracegrad eager "))).toHaveLength(2);
    expect(lines.filter((l) => l.startsWith("tracegrad jit "))).toHaveLength(2);
    const [row] = report.tracegrad.rows;
    expect(row!.jit.ok && row!.jit.timing.roundMediansMs).toHaveLength(2);
    expect(row!.eager.ok && row!.eager.timing.roundMediansMs).toHaveLength(2);
    // Two rows timed (one workload, two rounds), stated in the Method section.
    expect(report.rowSeconds!.max).toBeGreaterThanOrEqual(report.rowSeconds!.median);
    expect(renderReport(report)).toMatch(/a row's turn of every runner took \d+\.\d s in the median/);
    await expect(runBenchmarks({ mode: "quick", peers: [], only, rounds: 0 })).rejects.toThrow(
      /rounds must be >= 1/,
    );
  });
});
