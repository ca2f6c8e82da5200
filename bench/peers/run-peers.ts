/**
 * Which runner processes fill which report columns: tracegrad's eager and jit, and every requested peer,
 * each a child process (runner-process.ts) started with its library's configuration (threads, BLAS,
 * Node flags). A column that needs no process — a peer that is not installed, a relaxed-SIMD column
 * this Node makes redundant — comes as a ready-made column instead.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { relaxedSimdSupported } from "../../src/backend/wasm/runtime.js";
import type { PeerColumn } from "../report.js";
import { isPeerWorkload } from "../workloads.js";
import { RELAXED_TITLES } from "./protocol.js";
import type { RunnerSpec } from "./runner-process.js";

/** "relaxed": tracegrad's jit and jax-js again, in a Node with relaxed SIMD (FMA) enabled by its flag. */
/** "onnxruntime": tracegrad's jit on its ONNX Runtime backend, on 1 and on 2 intra-op threads. */
export const PEER_NAMES = ["torch", "tfjs", "jaxjs", "relaxed", "onnxruntime"] as const;
export type PeerName = (typeof PEER_NAMES)[number];

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, "..", "..");

/** A column to fill: a runner to start, or a column without a process (not installed, skipped). */
export type PeerSlot = { readonly runner: RunnerSpec } | { readonly column: PeerColumn };

const unmeasured = (title: string, status: PeerColumn["status"], description: string): PeerSlot => ({
  column: { title, status, description, results: {} },
});

/** A runner in Node: the runners are TypeScript, run through tsx's loader in a fresh Node. */
function nodeRunner(
  title: string,
  script: string,
  args: readonly string[],
  options: { nodeFlags?: readonly string[]; note?: string; peer?: boolean } = {},
): RunnerSpec {
  return {
    title,
    command: process.execPath,
    args: [...(options.nodeFlags ?? []), "--import", "tsx", join(here, script), ...args],
    cwd: repoRoot,
    ...(options.note ? { note: options.note } : {}),
    ...(options.peer === false ? {} : { runs: isPeerWorkload }),
  };
}

/** tracegrad's own two columns, eager and jit, each in its own process; `kernels` as --backend. */
export function tracegradRunners(kernels?: "js" | "wasm"): { eager: RunnerSpec; jit: RunnerSpec } {
  const backendArgs = kernels ? ["--backend", kernels] : [];
  return {
    eager: nodeRunner("tracegrad eager", "tracegrad-peer.ts", ["eager", ...backendArgs], { peer: false }),
    jit: nodeRunner("tracegrad jit", "tracegrad-peer.ts", ["jit", ...backendArgs], { peer: false }),
  };
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

function torchSlots(): PeerSlot[] {
  const threadCounts = [1, 2];
  const choices = blasChoices();
  const titles = choices.flatMap((b) => threadCounts.map((t) => `torch ${t}T ${b.label}`));
  const python = pythonWithTorch();
  if (!python) {
    const description = "no python3 that can import torch (apt-get install python3-torch)";
    return titles.map((title) => unmeasured(title, "not installed", description));
  }
  const script = join(here, "torch_bench.py");
  return choices.flatMap((blas) =>
    threadCounts.map((threads): PeerSlot => {
      const title = `torch ${threads}T ${blas.label}`;
      if (blas.missing) return unmeasured(title, "not installed", blas.missing);
      const threadEnv = {
        OMP_NUM_THREADS: String(threads),
        OPENBLAS_NUM_THREADS: String(threads),
        MKL_NUM_THREADS: String(threads),
      };
      return {
        runner: {
          title,
          command: python,
          args: [script, "--threads", String(threads)],
          cwd: repoRoot,
          env: { ...blas.env, ...threadEnv },
          note: blas.note,
          runs: isPeerWorkload,
        },
      };
    }),
  );
}

/** Node 20 keeps relaxed SIMD behind this V8 flag; later Nodes enable it by default. */
const RELAXED_SIMD_FLAG = "--experimental-wasm-relaxed-simd";

/** tracegrad's jit and jax-js in a Node started with relaxed SIMD, when the main run's Node lacks it. */
function relaxedSlots(): PeerSlot[] {
  if (relaxedSimdSupported()) {
    const description = `this Node (${process.version}) has relaxed SIMD on: the main columns use it already`;
    return Object.values(RELAXED_TITLES).map((title) => unmeasured(title, "skipped", description));
  }
  const options = { nodeFlags: [RELAXED_SIMD_FLAG], note: `Node started with ${RELAXED_SIMD_FLAG}` };
  return [
    {
      runner: nodeRunner(
        RELAXED_TITLES.tracegrad,
        "tracegrad-peer.ts",
        ["jit", "--expect-relaxed-simd"],
        options,
      ),
    },
    { runner: nodeRunner(RELAXED_TITLES.jaxjs, "jaxjs-peer.ts", [], options) },
  ];
}

/** The requested peers' columns, in report order. */
export function peerSlots(names: readonly PeerName[]): PeerSlot[] {
  const slots: PeerSlot[] = [];
  if (names.includes("torch")) slots.push(...torchSlots());
  if (names.includes("tfjs")) {
    for (const backend of ["cpu", "wasm"]) {
      slots.push({ runner: nodeRunner(`TF.js ${backend}`, "tfjs-peer.ts", [backend]) });
    }
  }
  if (names.includes("jaxjs")) slots.push({ runner: nodeRunner("jax-js wasm jit", "jaxjs-peer.ts", []) });
  if (names.includes("relaxed")) slots.push(...relaxedSlots());
  if (names.includes("onnxruntime")) {
    // 1 thread beside torch 1T; 2 threads beside tracegrad's wasm jit, which runs on both cores.
    for (const threads of [1, 2]) {
      slots.push({
        runner: nodeRunner(`onnxruntime ${threads}T`, "onnxruntime-peer.ts", ["--threads", String(threads)]),
      });
    }
  }
  return slots;
}
