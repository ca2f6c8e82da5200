/**
 * The paired benchmark (bench/paired.ts, bench/peers/runner-process.ts): long-lived runners measuring
 * workload by workload in alternation, with fake runners (fake-runner.ts) that record the requests they
 * receive and crash or hang on purpose. Timings are fixed by the fakes, never asserted of real code.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runPaired } from "../../bench/paired.js";
import { RunnerProcess, type RunnerSpec, type RunnerTimeouts } from "../../bench/peers/runner-process.js";
import { renderReport } from "../../bench/report.js";
import { runBenchmarks } from "../../bench/run.js";
import { BUDGETS, isPeerWorkload, workloadsFor } from "../../bench/workloads.js";

const fakeRunner = fileURLToPath(new URL("./fake-runner.ts", import.meta.url));
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
/** Generous: only the runner meant to hang is given a short request timeout. */
const patient: RunnerTimeouts = { startMs: 120_000, requestMs: 120_000 };

let dir: string;
let record: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "tracegrad-paired-"));
  record = join(dir, "requests.txt");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fake(name: string, ...flags: string[]): RunnerSpec {
  return {
    title: name,
    command: process.execPath,
    args: ["--import", "tsx", fakeRunner, name, record, ...flags],
    cwd: repoRoot,
  };
}

/** The requests the fakes received, in order: [runner, workload id, pid]. */
function requests(): [string, string, string][] {
  return readFileSync(record, "utf8")
    .trim()
    .split("\n")
    .map((line) => line.split(" ") as [string, string, string]);
}

const [w1, w2, w3] = workloadsFor("quick").filter(isPeerWorkload) as [
  ReturnType<typeof workloadsFor>[number],
  ReturnType<typeof workloadsFor>[number],
  ReturnType<typeof workloadsFor>[number],
];
const options = { mode: "quick" as const, budget: BUDGETS.quick };

async function paired(
  runners: RunnerProcess[],
  workloads: Parameters<typeof runPaired>[1],
  rounds: number,
  hooks: { log?: (line: string) => void; onRow?: (id: string, round: number, ms: number) => void } = {},
) {
  try {
    return await runPaired(runners, workloads, { ...options, rounds, ...hooks });
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
}

describe("runPaired", () => {
  it("asks every runner for a workload in turn before the next workload, rotating the order each round", async () => {
    const runners = ["a", "b", "c"].map((n) => new RunnerProcess(fake(n), patient, () => {}));
    const lines: string[] = [];
    const rows: string[] = [];
    const columns = await paired(runners, [w1, w2], 3, {
      log: (l) => lines.push(l),
      onRow: (id, round, ms) => rows.push(`${round}:${id}:${ms > 0}`),
    });
    const asked = requests().map(([name, id]) => `${name}:${id}`);
    const turn = (order: string[], id: string) => order.map((n) => `${n}:${id}`);
    expect(asked).toEqual([
      ...turn(["a", "b", "c"], w1.id),
      ...turn(["a", "b", "c"], w2.id),
      ...turn(["b", "c", "a"], w1.id),
      ...turn(["b", "c", "a"], w2.id),
      ...turn(["c", "a", "b"], w1.id),
      ...turn(["c", "a", "b"], w2.id),
    ]);
    // Each runner is one process for the whole run.
    for (const name of ["a", "b", "c"]) {
      const pids = new Set(
        requests()
          .filter(([n]) => n === name)
          .map(([, , pid]) => pid),
      );
      expect(pids.size, name).toBe(1);
    }
    expect(rows).toEqual([1, 2, 3].flatMap((round) => [`${round}:${w1.id}:true`, `${round}:${w2.id}:true`]));
    expect(lines.filter((l) => l.startsWith("== round"))).toEqual([
      "== round 1 of 3",
      "== round 2 of 3",
      "== round 3 of 3",
    ]);
    for (const column of columns) {
      expect(column.status.status).toBe("ok");
      expect(column.results[w1.id]).toMatchObject({ ok: true, timing: { roundMediansMs: [1, 1, 1] } });
    }
  });

  it("leaves out the workloads a runner does not run", async () => {
    const only = { ...fake("picky"), runs: (w: { id: string }) => w.id !== w2.id };
    const runners = [
      new RunnerProcess(fake("all"), patient, () => {}),
      new RunnerProcess(only, patient, () => {}),
    ];
    const [all, picky] = await paired(runners, [w1, w2], 1);
    expect(requests().map(([name, id]) => `${name}:${id}`)).toEqual([
      `all:${w1.id}`,
      `picky:${w1.id}`,
      `all:${w2.id}`,
    ]);
    expect(Object.keys(all!.results)).toEqual([w1.id, w2.id]);
    expect(Object.keys(picky!.results)).toEqual([w1.id]);
  });

  it("turns a runner's crash into a failed cell, restarts it for the next workload, and the others go on", async () => {
    const runners = [
      new RunnerProcess(fake("steady"), patient, () => {}),
      new RunnerProcess(fake("fragile", "--crash-on", w2.id), patient, () => {}),
    ];
    const [steady, fragile] = await paired(runners, [w1, w2, w3], 1);
    expect(fragile!.results[w1.id]).toMatchObject({ ok: true });
    expect(fragile!.results[w2.id]).toEqual({
      ok: false,
      error: `exited with code 3: fragile: crashing on ${w2.id} on purpose`,
    });
    expect(fragile!.results[w3.id]).toMatchObject({ ok: true });
    for (const w of [w1, w2, w3]) expect(steady!.results[w.id], w.id).toMatchObject({ ok: true });
    // The crashed process was replaced by a new one; the steady runner kept its own.
    const pids = (name: string) =>
      new Set(
        requests()
          .filter(([n]) => n === name)
          .map(([, , p]) => p),
      );
    expect(pids("fragile").size).toBe(2);
    expect(pids("steady").size).toBe(1);
  });

  it("kills a runner that hangs past its timeout, fails that cell and restarts it", async () => {
    const hasty: RunnerTimeouts = { startMs: 120_000, requestMs: 1000 };
    const runners = [
      new RunnerProcess(fake("stuck", "--hang-on", w1.id), hasty, () => {}),
      new RunnerProcess(fake("steady"), patient, () => {}),
    ];
    const [stuck, steady] = await paired(runners, [w1, w2], 1);
    expect(stuck!.results[w1.id]).toEqual({ ok: false, error: "timed out after 1 s (runner killed)" });
    expect(stuck!.results[w2.id]).toMatchObject({ ok: true });
    expect(steady!.results[w1.id]).toMatchObject({ ok: true });
    expect(steady!.results[w2.id]).toMatchObject({ ok: true });
  });

  it("keeps a workload's error a runner reports, without restarting it", async () => {
    const runners = [new RunnerProcess(fake("partial", "--throw-on", w1.id), patient, () => {})];
    const [partial] = await paired(runners, [w1, w2], 1);
    expect(partial!.results[w1.id]).toEqual({ ok: false, error: `partial cannot run ${w1.id}` });
    expect(partial!.results[w2.id]).toMatchObject({ ok: true });
    expect(new Set(requests().map(([, , pid]) => pid)).size).toBe(1);
  });

  it("reports a runner that dies before it is ready, or is not installed, and measures with the rest", async () => {
    const runners = [
      new RunnerProcess(fake("broken", "--crash-at-start"), patient, () => {}),
      new RunnerProcess(fake("absent", "--not-installed"), patient, () => {}),
      new RunnerProcess(fake("steady"), patient, () => {}),
    ];
    const [broken, absent, steady] = await paired(runners, [w1], 1);
    expect(broken!.status.status).toBe("failed");
    expect(broken!.status.description).toBe(
      "exited with code 1: Error: broken cannot load its library before it was ready",
    );
    expect(absent!.status).toEqual({ status: "not installed", description: "fake: absent" });
    expect(broken!.results).toEqual({});
    expect(steady!.results[w1.id]).toMatchObject({ ok: true });
    expect(requests().map(([name]) => name)).toEqual(["steady"]);
  });
});

describe("runBenchmarks with fake peers", () => {
  it("reports a crashed peer's cell as a failure with its note, every other cell measured", async () => {
    const workload = workloadsFor("quick").find((w) => w.kind === "mlp-train")!;
    const report = await runBenchmarks({
      mode: "quick",
      peers: [],
      only: [workload.id],
      slots: [
        { runner: fake("fake ok", "--ms", "2") },
        { runner: fake("fake crash", "--crash-on", workload.id) },
        { column: { title: "fake absent", status: "not installed", description: "not here", results: {} } },
      ],
    });
    expect(report.tracegrad.rows[0]!.jit).toMatchObject({ ok: true });
    expect(report.tracegrad.rows[0]!.eager).toMatchObject({ ok: true });
    expect(report.peers.map((p) => [p.title, p.status])).toEqual([
      ["fake ok", "ok"],
      ["fake crash", "ok"],
      ["fake absent", "not installed"],
    ]);
    const markdown = renderReport(report);
    const timeRow = markdown.split("\n").find((l) => l.startsWith(`| ${workload.label} |`))!;
    expect(timeRow).toMatch(/\| 2\.00 \| failed \[1\] \|$/);
    expect(markdown).toContain(
      `1. fake crash: exited with code 3: fake crash: crashing on ${workload.id} on purpose (${workload.label})`,
    );
    expect(markdown).toContain("- **fake absent**: not installed: not here");
  });
});
