/**
 * The benchmark suite: tracegrad (eager and jit) and its peers side by side.
 *
 *   npm run bench                     full run; prints the Markdown report and writes bench/RESULTS.md
 *   npm run bench -- --quick          small workloads, few iterations (report printed, no file written)
 *   npm run bench -- --no-peers       tracegrad only
 *   npm run bench -- --peers torch,tfjs,jaxjs,relaxed,onnxruntime   a subset of the peers ("relaxed": tracegrad jit
 *                                     and jax-js again in a Node started with relaxed SIMD enabled;
 *                                     "onnxruntime": tracegrad jit on its ONNX Runtime backend, 1 and 2 threads)
 *   npm run bench -- --backend js|wasm          tracegrad's jit kernels (default: the library's choice)
 *   npm run bench -- --only id,id     only these workload ids (see bench/workloads.ts)
 *   npm run bench -- --out FILE       write the report there (also in quick mode)
 *   npm run bench -- --rounds N       rounds of the paired alternation (default 3; 1 in quick mode), see rounds.ts
 *
 * Every runner (tracegrad eager, tracegrad jit, each peer column) is a long-lived child process; they
 * measure workload by workload in alternation (paired.ts). Progress goes to stderr, the report to
 * stdout. Peers that are not installed are reported as such.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type PairedColumn, runPaired } from "./paired.js";
import { PEER_NAMES, type PeerName, type PeerSlot, peerSlots, tracegradRunners } from "./peers/run-peers.js";
import { RunnerProcess, type RunnerTimeouts } from "./peers/runner-process.js";
import { type BenchReport, describeMachine, type PeerColumn, renderReport } from "./report.js";
import { median } from "./timing.js";
import type { TracegradRow } from "./tracegrad-suite.js";
import { type BenchMode, BUDGETS, ROUNDS, workloadsFor } from "./workloads.js";

export interface BenchOptions {
  readonly mode: BenchMode;
  readonly peers: readonly PeerName[];
  readonly only?: readonly string[];
  /** Rounds of the paired alternation (default ROUNDS[mode]). */
  readonly rounds?: number;
  /** The peer columns to fill, instead of `peers`' own (the tests' fake runners). */
  readonly slots?: readonly PeerSlot[];
  /** tracegrad's jit kernels (`--backend`); the library's choice when absent. */
  readonly backend?: "js" | "wasm";
  /** Per runner (default TIMEOUTS[mode]). */
  readonly timeouts?: RunnerTimeouts;
  readonly log?: (line: string) => void;
}

/** Generous: a runner is only given up on when it is clearly stuck (a slow eager peer needs ~20 s). */
const TIMEOUTS: Record<BenchMode, RunnerTimeouts> = {
  full: { startMs: 300_000, requestMs: 300_000 },
  quick: { startMs: 300_000, requestMs: 120_000 },
};

/** A cell of tracegrad's runners that has no result: why (the runner did not start, or said nothing). */
function notMeasured(column: PairedColumn, what: string): { readonly ok: false; readonly error: string } {
  if (column.status.status !== "ok") {
    return {
      ok: false,
      error: `${column.runner.spec.title} ${column.status.status}: ${column.status.description}`,
    };
  }
  return { ok: false, error: `${column.runner.spec.title} reported no ${what}` };
}

/**
 * Starts tracegrad's eager and jit runners and every requested peer's, measures the workloads in
 * paired alternation (paired.ts), `rounds` times, and stops them all.
 */
export async function runBenchmarks(options: BenchOptions): Promise<BenchReport> {
  const log = options.log ?? (() => {});
  const machine = describeMachine();
  const rounds = options.rounds ?? ROUNDS[options.mode];
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new RangeError(`bench: rounds must be >= 1, got ${rounds}`);
  const workloads = workloadsFor(options.mode).filter((w) => !options.only || options.only.includes(w.id));
  const tracegrad = tracegradRunners(options.backend);
  const slots = options.slots ?? (options.peers.length === 0 ? [] : peerSlots(options.peers));
  const specs = [tracegrad.eager, tracegrad.jit, ...slots.flatMap((s) => ("runner" in s ? [s.runner] : []))];
  const runners = specs.map(
    (spec) => new RunnerProcess(spec, options.timeouts ?? TIMEOUTS[options.mode], log),
  );
  let columns: PairedColumn[];
  const rowMs: number[] = [];
  try {
    columns = await runPaired(runners, workloads, {
      mode: options.mode,
      budget: BUDGETS[options.mode],
      rounds,
      log,
      onRow: (_id, _round, ms) => rowMs.push(ms),
    });
  } finally {
    await Promise.all(runners.map((r) => r.stop()));
  }
  const [eager, jit, ...peerColumns] = columns as [PairedColumn, PairedColumn, ...PairedColumn[]];
  const rows = workloads.map(
    (workload): TracegradRow => ({
      workload,
      eager: eager.results[workload.id] ?? notMeasured(eager, "timing"),
      jit: jit.results[workload.id] ?? notMeasured(jit, "timing"),
      memory: jit.memory[workload.id] ?? notMeasured(jit, "memory figures"),
    }),
  );
  const peers = slots.map((slot): PeerColumn => {
    if ("column" in slot) return slot.column;
    const column = peerColumns.shift()!;
    const status = column.status.status;
    return {
      title: slot.runner.title,
      status,
      description: column.runner.description,
      results: column.results,
    };
  });
  return {
    mode: options.mode,
    rounds,
    machine,
    tracegrad: {
      backend: jit.status.status === "ok" ? jit.status.description : `unknown (${jit.status.description})`,
      rows,
    },
    peers,
    loadAverageAtEnd: loadavg()[0]!,
    ...(rowMs.length > 0
      ? {
          rowSeconds: {
            median: median([...rowMs].sort((a, b) => a - b)) / 1000,
            max: Math.max(...rowMs) / 1000,
          },
        }
      : {}),
  };
}

interface CliOptions extends BenchOptions {
  readonly out: string | null;
}

function listArgument(argv: readonly string[], name: string): string[] | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return undefined;
  const value = argv[i + 1];
  if (value === undefined || value.startsWith("--"))
    throw new Error(`--${name} expects a comma-separated list`);
  return value.split(",").filter((s) => s.length > 0);
}

function parseArgs(argv: readonly string[]): CliOptions {
  const mode: BenchMode = argv.includes("--quick") ? "quick" : "full";
  const requested = listArgument(argv, "peers") ?? [...PEER_NAMES];
  const unknown = requested.filter((p) => !(PEER_NAMES as readonly string[]).includes(p));
  if (unknown.length > 0)
    throw new Error(`unknown peer(s) ${unknown.join(", ")}; known: ${PEER_NAMES.join(", ")}`);
  const peers = argv.includes("--no-peers") ? [] : (requested as PeerName[]);
  const backendIndex = argv.indexOf("--backend");
  let backend: "js" | "wasm" | undefined;
  if (backendIndex >= 0) {
    const kind = argv[backendIndex + 1];
    if (kind !== "js" && kind !== "wasm") throw new Error("--backend expects js or wasm");
    backend = kind;
  }
  const roundsIndex = argv.indexOf("--rounds");
  const rounds = roundsIndex >= 0 ? Number(argv[roundsIndex + 1]) : undefined;
  const outIndex = argv.indexOf("--out");
  const defaultOut = mode === "full" ? join(dirname(fileURLToPath(import.meta.url)), "RESULTS.md") : null;
  return {
    mode,
    peers,
    only: listArgument(argv, "only"),
    rounds,
    ...(backend ? { backend } : {}),
    out: outIndex >= 0 ? (argv[outIndex + 1] ?? null) : defaultOut,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const markdown = renderReport(await runBenchmarks(options));
  process.stdout.write(`${markdown}\n`);
  if (options.out) {
    writeFileSync(options.out, `${markdown}\n`);
    process.stderr.write(`wrote ${options.out}\n`);
  }
  process.stderr.write(`bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

// Run as a script (not when the smoke test imports runBenchmarks).
if (process.argv[1] && /bench[\\/]run\.ts$/.test(process.argv[1])) await main();
