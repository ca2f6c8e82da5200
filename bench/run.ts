/**
 * The benchmark suite: tracegrad (eager and jit) and its peers side by side.
 *
 *   npm run bench                     full run; prints the Markdown report and writes bench/RESULTS.md
 *   npm run bench -- --quick          small workloads, few iterations (report printed, no file written)
 *   npm run bench -- --no-peers       tracegrad only
 *   npm run bench -- --peers torch,tfjs,jaxjs,relaxed,onnxruntime   a subset of the peers ("relaxed": tracegrad jit
 *                                     and jax-js again in a Node started with relaxed SIMD enabled;
 *                                     "onnxruntime": tracegrad jit on its ONNX Runtime backend, 1 thread)
 *   npm run bench -- --backend js|wasm          tracegrad's jit kernels (default: the library's choice)
 *   npm run bench -- --only id,id     only these workload ids (see bench/workloads.ts)
 *   npm run bench -- --out FILE       write the report there (also in quick mode)
 *   npm run bench -- --rounds N       rounds of the whole suite (default 3; 1 in quick mode), see rounds.ts
 *
 * Progress goes to stderr, the report to stdout. Peers that are not installed are reported as such.
 */
import { writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { setBackend } from "../src/index.js";
import { PEER_NAMES, type PeerName, runPeers } from "./peers/run-peers.js";
import { type BenchReport, describeMachine, type PeerColumn, renderReport } from "./report.js";
import { mergePeerColumns, mergeSuites } from "./rounds.js";
import { runTracegradSuite, type TracegradSuiteResult } from "./tracegrad-suite.js";
import { type BenchMode, BUDGETS, isPeerWorkload, ROUNDS, workloadsFor } from "./workloads.js";

export interface BenchOptions {
  readonly mode: BenchMode;
  readonly peers: readonly PeerName[];
  readonly only?: readonly string[];
  /** Rounds of the whole suite (default ROUNDS[mode]). */
  readonly rounds?: number;
  readonly log?: (line: string) => void;
}

/** Runs tracegrad's suite, then each requested peer on the same workloads; all of it `rounds` times. */
export function runBenchmarks(options: BenchOptions): BenchReport {
  const log = options.log ?? (() => {});
  const machine = describeMachine();
  const rounds = options.rounds ?? ROUNDS[options.mode];
  if (!Number.isInteger(rounds) || rounds < 1)
    throw new RangeError(`bench: rounds must be >= 1, got ${rounds}`);
  const workloads = workloadsFor(options.mode).filter((w) => !options.only || options.only.includes(w.id));
  const suites: TracegradSuiteResult[] = [];
  const peerRounds: PeerColumn[][] = [];
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1) log(`== round ${round} of ${rounds}`);
    suites.push(runTracegradSuite({ mode: options.mode, log, only: options.only }));
    const request = {
      mode: options.mode,
      budget: BUDGETS[options.mode],
      workloads: workloads.filter(isPeerWorkload),
    };
    peerRounds.push(options.peers.length === 0 ? [] : runPeers(options.peers, request, log));
  }
  return {
    mode: options.mode,
    rounds,
    machine,
    tracegrad: mergeSuites(suites),
    peers: mergePeerColumns(peerRounds),
    loadAverageAtEnd: loadavg()[0]!,
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
  if (backendIndex >= 0) {
    const kind = argv[backendIndex + 1];
    if (kind !== "js" && kind !== "wasm") throw new Error("--backend expects js or wasm");
    setBackend(kind);
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
    out: outIndex >= 0 ? (argv[outIndex + 1] ?? null) : defaultOut,
    log: (line) => process.stderr.write(`${line}\n`),
  };
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const markdown = renderReport(runBenchmarks(options));
  process.stdout.write(`${markdown}\n`);
  if (options.out) {
    writeFileSync(options.out, `${markdown}\n`);
    process.stderr.write(`wrote ${options.out}\n`);
  }
  process.stderr.write(`bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}

// Run as a script (not when the smoke test imports runBenchmarks).
if (process.argv[1] && /bench[\\/]run\.ts$/.test(process.argv[1])) main();
