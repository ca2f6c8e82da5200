/**
 * How run.ts talks to a peer process: it writes a PeerRequest as JSON to the peer's stdin; the peer
 * prints progress to stderr and, last, one line `BENCH_RESULT <PeerReply JSON>` to stdout (libraries
 * are free to print their own chatter around it).
 */
import type { Measurement } from "../timing.js";
import type { BenchMode, PeerWorkload, TimingBudget } from "../workloads.js";

export interface PeerRequest {
  readonly mode: BenchMode;
  readonly budget: TimingBudget;
  readonly workloads: readonly PeerWorkload[];
  /** Intra-op threads, for peers that can set them (torch). */
  readonly threads?: number;
}

export type PeerReply =
  | {
      readonly status: "ok";
      /** Library name and version, and what it ran on (BLAS, SIMD, threads). */
      readonly description: string;
      /** By workload id; a workload the peer cannot run is a failed measurement with the reason. */
      readonly results: Readonly<Record<string, Measurement>>;
    }
  | { readonly status: "not installed"; readonly description: string };

export const RESULT_PREFIX = "BENCH_RESULT ";

/** The columns of tracegrad's jit and jax-js in a Node with relaxed SIMD enabled (peer "relaxed"). */
export const RELAXED_TITLES = {
  tracegrad: "tracegrad jit, relaxed SIMD",
  jaxjs: "jax-js wasm jit, relaxed SIMD",
} as const;

/** For the JS peers: read the request from stdin. */
export async function readRequest(): Promise<PeerRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as PeerRequest;
}

export function writeReply(reply: PeerReply): void {
  process.stdout.write(`\n${RESULT_PREFIX}${JSON.stringify(reply)}\n`);
}

/** Whether an import failed because the package is absent (not because it is broken). */
export function isMissingModule(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND";
}
