/**
 * Runs each peer in a child process, one after another (so they never compete for the cores), and turns
 * whatever happens — a reply, a missing package, a crash, a timeout — into a report column. One peer
 * failing never stops the others.
 */
import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { relaxedSimdSupported } from "../../src/backend/wasm/runtime.js";
import type { PeerColumn } from "../report.js";
import { type PeerReply, type PeerRequest, RELAXED_TITLES, RESULT_PREFIX } from "./protocol.js";

/** "relaxed": tracegrad's jit and jax-js again, in a Node with relaxed SIMD (FMA) enabled by its flag. */
/** "onnxruntime": tracegrad's jit on its ONNX Runtime backend (matmul-1024 and the MLP train step). */
export const PEER_NAMES = ["torch", "tfjs", "jaxjs", "relaxed", "onnxruntime"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..");

interface ChildCommand {
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

function columnFrom(title: string, child: SpawnSyncReturns<string>): PeerColumn {
  const line = child.stdout
    ?.split("\n")
    .reverse()
    .find((l) => l.startsWith(RESULT_PREFIX));
  if (line) {
    const reply = JSON.parse(line.slice(RESULT_PREFIX.length)) as PeerReply;
    if (reply.status === "ok") {
      return { title, status: "ok", description: reply.description, results: reply.results };
    }
    return { title, status: "not installed", description: reply.description, results: {} };
  }
  let why: string;
  if (child.error) why = child.error.message;
  else if (child.signal) why = `killed by ${child.signal}`;
  else why = `exited with code ${child.status} without a result`;
  return { title, status: "failed", description: why, results: {} };
}

function runChild(title: string, child: ChildCommand, request: PeerRequest, timeoutMs: number): PeerColumn {
  const result = spawnSync(child.command, child.args, {
    cwd: repoRoot,
    input: JSON.stringify(request),
    encoding: "utf8",
    // Progress goes straight to our stderr; stdout carries the result line.
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, ...child.env },
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  return columnFrom(title, result);
}

/** Debian's multiarch directory for this architecture. */
function multiarchLibDir(): string {
  const triplet = process.arch === "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
  return `/usr/lib/${triplet}`;
}

function cpuHasAvx512(): boolean {
  try {
    return /\bavx512f\b/.test(readFileSync("/proc/cpuinfo", "utf8"));
  } catch {
    return false;
  }
}

/** The first Python that can import torch: Debian's own first (a pyenv python3 cannot see its torch). */
function pythonWithTorch(): string | null {
  for (const candidate of ["/usr/bin/python3", "python3"]) {
    const probe = spawnSync(candidate, ["-c", "import torch"], { stdio: "ignore", timeout: 120_000 });
    if (probe.status === 0) return candidate;
  }
  return null;
}

interface BlasChoice {
  readonly label: string;
  /** Why this BLAS cannot be used here, if it cannot. */
  readonly missing: string | null;
  readonly env: NodeJS.ProcessEnv;
  readonly note: string;
}

/**
 * The two BLAS set-ups torch is measured with. Debian's torch links libblas.so.3, which
 * update-alternatives points at OpenBLAS once libopenblas0-pthread is installed; so each set-up puts its
 * library first on LD_LIBRARY_PATH rather than trusting the system default, and torch_bench.py reports
 * what was actually loaded.
 */
function blasChoices(): BlasChoice[] {
  const lib = multiarchLibDir();
  const reference = join(lib, "blas");
  const openblas = join(lib, "openblas-pthread");
  // Forcing the SkylakeX kernels on a CPU without AVX-512 dies with SIGILL; OpenBLAS's own detection is then right.
  const coretype = cpuHasAvx512() ? { OPENBLAS_CORETYPE: "SkylakeX" } : {};
  return [
    {
      label: "refBLAS",
      missing: existsSync(join(reference, "libblas.so.3")) ? null : `no ${join(reference, "libblas.so.3")}`,
      env: { LD_LIBRARY_PATH: [reference, join(lib, "lapack")].join(":") },
      note: "Debian's default libblas3 (reference BLAS)",
    },
    {
      label: "OpenBLAS",
      missing: existsSync(join(openblas, "libopenblas.so.0"))
        ? null
        : `no ${openblas} (apt-get install libopenblas0-pthread)`,
      env: { LD_LIBRARY_PATH: openblas, ...coretype },
      note: `OpenBLAS pthread from ${openblas}, OPENBLAS_CORETYPE=${coretype.OPENBLAS_CORETYPE ?? "(auto: no AVX-512 here)"}`,
    },
  ];
}

function torchColumns(request: PeerRequest, timeoutMs: number, log: (line: string) => void): PeerColumn[] {
  const threadCounts = [1, 2];
  const choices = blasChoices();
  const titles = choices.flatMap((b) => threadCounts.map((t) => `torch ${t}T ${b.label}`));
  const python = pythonWithTorch();
  if (!python) {
    const description = "no python3 that can import torch (apt-get install python3-torch)";
    return titles.map((title) => ({ title, status: "not installed", description, results: {} }));
  }
  const script = join(here, "torch_bench.py");
  return choices.flatMap((blas) =>
    threadCounts.map((threads): PeerColumn => {
      const title = `torch ${threads}T ${blas.label}`;
      if (blas.missing) return { title, status: "not installed", description: blas.missing, results: {} };
      log(`-- ${title}`);
      const threadEnv = {
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
        MKL_NUM_THREADS: String(threads),
      };
      const column = runChild(
        title,
        { command: python, args: [script], env: { ...blas.env, ...threadEnv } },
        { ...request, threads },
        timeoutMs,
      );
      return { ...column, description: `${column.description}; ${blas.note}` };
    }),
  );
}

function nodeColumn(
  title: string,
  script: string,
  args: readonly string[],
  request: PeerRequest,
  timeoutMs: number,
  log: (line: string) => void,
  nodeFlags: readonly string[] = [],
): PeerColumn {
  log(`-- ${title}`);
  // The peers are TypeScript: run them through tsx's loader in a fresh Node.
  return runChild(
    title,
    { command: process.execPath, args: [...nodeFlags, "--import", "tsx", join(here, script), ...args] },
    request,
    timeoutMs,
  );
}

/** Node 20 keeps relaxed SIMD behind this V8 flag; later Nodes enable it by default. */
const RELAXED_SIMD_FLAG = "--experimental-wasm-relaxed-simd";

/** tracegrad's jit and jax-js in a Node started with relaxed SIMD, when the main run's Node lacks it. */
function relaxedColumns(request: PeerRequest, timeoutMs: number, log: (line: string) => void): PeerColumn[] {
  if (relaxedSimdSupported()) {
    const description = `this Node (${process.version}) has relaxed SIMD on: the main columns use it already`;
    return Object.values(RELAXED_TITLES).map((title) => ({
      title,
      status: "skipped",
      description,
      results: {},
    }));
  }
  const flags = [RELAXED_SIMD_FLAG];
  const note = `; Node started with ${RELAXED_SIMD_FLAG}`;
  return [
    nodeColumn(
      RELAXED_TITLES.tracegrad,
      "tracegrad-peer.ts",
      ["--expect-relaxed-simd"],
      request,
      timeoutMs,
      log,
      flags,
    ),
    nodeColumn(RELAXED_TITLES.jaxjs, "jaxjs-peer.ts", [], request, timeoutMs, log, flags),
  ].map((c) => ({ ...c, description: `${c.description}${note}` }));
}

export function runPeers(
  names: readonly PeerName[],
  request: PeerRequest,
  log: (line: string) => void,
): PeerColumn[] {
  const timeoutMs = request.mode === "quick" ? 3 * 60_000 : 15 * 60_000;
  const columns: PeerColumn[] = [];
  if (names.includes("torch")) columns.push(...torchColumns(request, timeoutMs, log));
  if (names.includes("tfjs")) {
    for (const backend of ["cpu", "wasm"]) {
      columns.push(nodeColumn(`TF.js ${backend}`, "tfjs-peer.ts", [backend], request, timeoutMs, log));
    }
  }
  if (names.includes("jaxjs")) {
    columns.push(nodeColumn("jax-js wasm jit", "jaxjs-peer.ts", [], request, timeoutMs, log));
  }
  if (names.includes("relaxed")) columns.push(...relaxedColumns(request, timeoutMs, log));
  if (names.includes("onnxruntime")) {
    columns.push(
      nodeColumn("onnxruntime 1T", "onnxruntime-peer.ts", [], { ...request, threads: 1 }, timeoutMs, log),
    );
  }
  return columns;
}
