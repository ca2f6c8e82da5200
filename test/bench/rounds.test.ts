/** Rounds of the benchmark merged into one report (bench/rounds.ts). */
import { describe, expect, it } from "vitest";
import { describeMachine, type PeerColumn, renderReport } from "../../bench/report.js";
import { mergeMeasurements, mergePeerColumns, mergeSuites, roundRatios } from "../../bench/rounds.js";
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

describe("mergePeerColumns", () => {
  const column = (status: PeerColumn["status"], ms: number): PeerColumn => ({
    title: "jax-js wasm jit",
    status,
    description: status === "ok" ? "jax-js 0.1" : "crashed",
    results: status === "ok" ? { w: timed(ms) } : {},
  });

  it("merges each column's results over the rounds", () => {
    const [merged] = mergePeerColumns([[column("ok", 3)], [column("ok", 1)], [column("ok", 2)]]);
    expect(merged!.results["w"]).toMatchObject({ ok: true, timing: { medianMs: 2 } });
  });

  it("keeps the status of a round the column was not measured in", () => {
    const [merged] = mergePeerColumns([[column("ok", 3)], [column("failed", 0)]]);
    expect(merged).toMatchObject({ status: "failed", description: "crashed" });
  });
});

describe("a report of several rounds", () => {
  it("shows the median round and the spread of the ratios within rounds", () => {
    const workload = workloadsFor("quick").find((w) => w.kind === "mlp-train")!;
    const round = (jitMs: number): TracegradSuiteResult => ({
      backend: "test",
      rows: [
        {
          workload,
          eager: timed(jitMs * 4),
          jit: timed(jitMs),
          memory: { ok: false, error: "not measured here" },
        },
      ],
    });
    const peer = (ms: number): PeerColumn[] => [
      {
        title: "jax-js wasm jit",
        status: "ok",
        description: "jax-js",
        results: { [workload.id]: timed(ms) },
      },
    ];
    const markdown = renderReport({
      mode: "full",
      rounds: 3,
      machine: describeMachine(),
      tracegrad: mergeSuites([round(10), round(12), round(8)]),
      peers: mergePeerColumns([peer(30), peer(24), peer(40)]),
    });
    // Medians 10 and 30; within rounds 30/10, 24/12 and 40/8.
    expect(markdown).toContain(`| ${workload.label} | 40.0 | **10.0** | 30.0 |`);
    expect(markdown).toContain(`| ${workload.label} | 4.00 (4.00–4.00) | 3.00 (2.00–5.00) |`);
    expect(markdown).toMatch(/3 rounds: in each, tracegrad and then every peer/);
  });

  it("runs the whole suite once per round", () => {
    const lines: string[] = [];
    const only = [workloadsFor("quick")[0]!.id];
    const report = runBenchmarks({ mode: "quick", peers: [], only, rounds: 2, log: (l) => lines.push(l) });
    expect(lines.filter((l) => l.startsWith("== round"))).toEqual(["== round 1 of 2", "== round 2 of 2"]);
    expect(lines.filter((l) => l.startsWith("tracegrad"))).toHaveLength(2);
    const [row] = report.tracegrad.rows;
    expect(row!.jit.ok && row!.jit.timing.roundMediansMs).toHaveLength(2);
    expect(() => runBenchmarks({ mode: "quick", peers: [], only, rounds: 0 })).toThrow(/rounds must be >= 1/);
  });
});
