/**
 * The line protocol between run.ts and its runners, each a long-lived child process (tracegrad eager,
 * tracegrad jit and every peer alike):
 *
 * - once loaded (library imported, backend initialized), the runner prints `BENCH_READY <RunnerReady>`;
 *   a runner whose library is absent says "not installed" and exits;
 * - then it reads one RunRequest per stdin line (one workload and its budget) and answers each with one
 *   stdout line `BENCH_RESULT <RunReply>`, one request at a time, until stdin closes.
 *
 * Progress goes to stderr; libraries are free to print their own chatter on stdout around the protocol
 * lines. torch_bench.py speaks the same protocol in Python.
 */
import { createInterface } from "node:readline";
import { errorMessage, type Measurement } from "../timing.js";
import type { JitMemory } from "../tracegrad-suite.js";
import {
  type BenchMode,
  isPeerWorkload,
  type PeerWorkload,
  type TimingBudget,
  type Workload,
  workloadsFor,
} from "../workloads.js";

export const READY_PREFIX = "BENCH_READY ";
export const RESULT_PREFIX = "BENCH_RESULT ";

/** What a runner says once it is loaded. */
export interface RunnerReady {
  readonly status: "ok" | "not installed";
  /** Library name and version, and what it runs on (BLAS, SIMD, threads); why not, if not installed. */
  readonly description: string;
}

/** One workload to measure. */
export interface RunRequest {
  /** Echoed in the reply, so a late reply of a request given up on is never taken for the next one's. */
  readonly seq: number;
  readonly mode: BenchMode;
  readonly budget: TimingBudget;
  readonly workload: Workload;
}

/** The jit plan's memory figures (tracegrad jit only), or why there are none. */
export type MemoryResult =
  | { readonly ok: true; readonly value: JitMemory }
  | { readonly ok: false; readonly error: string };

/** A runner's answer to one RunRequest: a timing, or the reason the workload failed. */
export interface RunReply {
  readonly seq: number;
  readonly id: string;
  readonly measurement: Measurement;
  readonly memory?: MemoryResult;
}

/** The columns of tracegrad's jit and jax-js in a Node with relaxed SIMD enabled (peer "relaxed"). */
export const RELAXED_TITLES = {
  tracegrad: "tracegrad jit, relaxed SIMD",
  jaxjs: "jax-js wasm jit, relaxed SIMD",
} as const;

/**
 * The workload's position in its mode's whole list: runners seed their random inputs with it, so a
 * workload gets the same inputs whichever subset (`--only`) runs.
 */
export function workloadIndex(request: RunRequest): number {
  const index = workloadsFor(request.mode).findIndex((w) => w.id === request.workload.id);
  return index < 0 ? 0 : index;
}

/** The request's workload, for the peers, which run all but tracegrad's own (isPeerWorkload). */
export function peerWorkload(request: RunRequest): PeerWorkload {
  const w = request.workload;
  if (!isPeerWorkload(w)) throw new Error(`${w.id} is a tracegrad-only workload`);
  return w;
}

/**
 * The runner side of the protocol, for the Node runners: `start` loads the library (a throw crashes the
 * runner, which run.ts reports with the error), then every request is measured in turn until stdin
 * closes. A measurement that throws is a failed measurement; the runner carries on.
 */
export async function serveRequests(
  start: () => Promise<RunnerReady>,
  measure: (request: RunRequest) => Promise<Omit<RunReply, "seq" | "id">>,
): Promise<void> {
  const ready = await start();
  process.stdout.write(`\n${READY_PREFIX}${JSON.stringify(ready)}\n`);
  if (ready.status !== "ok") return;
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (line.trim() === "") continue;
    const request = JSON.parse(line) as RunRequest;
    let reply: RunReply;
    try {
      reply = { seq: request.seq, id: request.workload.id, ...(await measure(request)) };
    } catch (e) {
      reply = {
        seq: request.seq,
        id: request.workload.id,
        measurement: { ok: false, error: errorMessage(e) },
      };
    }
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(reply)}\n`);
  }
}

/** Whether an import failed because the package is absent (not because it is broken). */
export function isMissingModule(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
