/**
 * The Markdown report: machine and build, one table of times (GFLOP/s for matmul), one of ratios
 * against tracegrad's jit, one of jit memory figures, then the peers' status and failure notes.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg, release } from "node:os";
import { RELAXED_TITLES } from "./peers/protocol.js";
import { pairedRatio } from "./rounds.js";
import type { Measurement } from "./timing.js";
import type { TracegradSuiteResult } from "./tracegrad-suite.js";
import { type BenchMode, BUDGETS, matmulFlops, tokensPerCall, type Workload } from "./workloads.js";

export interface MachineInfo {
  readonly date: string;
  readonly cpuModel: string;
  readonly cores: number;
  readonly node: string;
  readonly os: string;
  readonly commit: string;
  /** 1-minute load average when the run started: other processes on the machine skew every column. */
  readonly loadAverage: number;
}

/** A peer column: measured, or the reason it has no column. */
export interface PeerColumn {
  readonly title: string;
  readonly status: "ok" | "not installed" | "failed" | "skipped";
  /** Version and configuration when it ran; the reason otherwise. */
  readonly description: string;
  readonly results: Readonly<Record<string, Measurement>>;
}

export interface BenchReport {
  readonly mode: BenchMode;
  /** Rounds of the whole suite merged into the report (rounds.ts); 1 when absent. */
  readonly rounds?: number;
  readonly machine: MachineInfo;
  readonly tracegrad: TracegradSuiteResult;
  readonly peers: readonly PeerColumn[];
  readonly loadAverageAtEnd?: number;
  /** Seconds one row took in one round (all its runners in turn): the median and the longest. */
  readonly rowSeconds?: { readonly median: number; readonly max: number };
}

function cpuModelName(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) return line.split(":")[1]!.trim();
  } catch {
    // not Linux: fall through to what Node knows
  }
  return cpus()[0]?.model ?? "unknown";
}

function gitCommit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8", stdio: "pipe" }).trim();
  } catch {
    return "unknown";
  }
}

export function describeMachine(): MachineInfo {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    cpuModel: cpuModelName(),
    cores: cpus().length,
    node: process.version,
    os: `${process.platform} ${release()}`,
    commit: gitCommit(),
    loadAverage: loadavg()[0]!,
  };
}

function formatMs(ms: number): string {
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

function formatGflops(w: Workload, ms: number): string {
  const gflops = matmulFlops(w as Extract<Workload, { kind: "matmul" }>) / (ms * 1e6);
  return gflops >= 10 ? gflops.toFixed(1) : gflops.toFixed(2);
}

function formatTokensPerSecond(w: Workload, ms: number): string {
  const perSecond = tokensPerCall(w as Extract<Workload, { kind: "lstm-train" | "gpt-train" }>) / (ms / 1000);
  return Math.round(perSecond).toLocaleString("en-US");
}

/** A timing cell: GFLOP/s for matmul, tokens/s for sequence models, else milliseconds. */
function formatRate(w: Workload, ms: number): string {
  if (w.kind === "matmul") return formatGflops(w, ms);
  if (w.kind === "lstm-train" || w.kind === "gpt-train") return formatTokensPerSecond(w, ms);
  return formatMs(ms);
}

/** The row title, naming the unit of rate rows. */
function rowTitle(w: Workload): string {
  if (w.kind === "matmul") return `${w.label} (GFLOP/s)`;
  if (w.kind === "lstm-train" || w.kind === "gpt-train") return `${w.label} (tokens/s)`;
  return w.label;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(2)} MiB`;
  if (bytes >= 1 << 10) return `${(bytes / (1 << 10)).toFixed(1)} KiB`;
  return `${Math.round(bytes)} B`;
}

/**
 * Failure messages as numbered notes, so table cells stay short: one note per runner and message,
 * listing the workloads that failed with it.
 */
class Notes {
  private readonly notes: { who: string; error: string; workloads: string[] }[] = [];

  ref(who: string, error: string, workload: string): string {
    let index = this.notes.findIndex((n) => n.who === who && n.error === error);
    if (index < 0) index = this.notes.push({ who, error, workloads: [] }) - 1;
    const note = this.notes[index]!;
    if (!note.workloads.includes(workload)) note.workloads.push(workload);
    return `failed [${index + 1}]`;
  }

  lines(): string[] {
    return this.notes.map((n, i) => `${i + 1}. ${n.who}: ${n.error} (${n.workloads.join("; ")})`);
  }
}

function row(cells: readonly string[]): string {
  return `| ${cells.join(" | ")} |`;
}

function alignedHeader(titles: readonly string[]): string[] {
  // First column left-aligned (workload), the rest right-aligned (numbers).
  return [row(titles), `| --- |${" ---: |".repeat(titles.length - 1)}`];
}

function formatRatio(x: number): string {
  return x >= 10 ? x.toFixed(0) : x.toFixed(2);
}

/**
 * a's time ÷ b's time, the median of the per-round ratios (rounds.ts), or a dash when either is missing;
 * with several rounds, followed by the lowest and highest of the per-round ratios.
 */
function ratio(a: Measurement | undefined, b: Measurement | undefined): string {
  const r = pairedRatio(a, b);
  if (!r) return "–";
  const text = formatRatio(r.median);
  if (r.rounds < 2) return text;
  return `${text} (${formatRatio(r.min)}–${formatRatio(r.max)})`;
}

function methodNotes(mode: BenchMode, rounds: number, rowSeconds?: BenchReport["rowSeconds"]): string[] {
  const b = BUDGETS[mode];
  const perRound = rounds > 1 ? " in each round" : "";
  return [
    "## Method",
    "",
    "- The same workloads everywhere (bench/workloads.ts), float32, random inputs. A train step is forward, " +
      "loss, backward and SGD (lr 0.01; the GPT step: clipping and AdamW), with the loss read back; tracegrad's jitted steps donate the " +
      "parameters and the optimizer state.",
    `- Per runner and workload${perRound}: untimed warm-up calls (compilation, the JS engine's optimizing ` +
      `tiers, tracegrad's eager compilation on a gradient's third call), at least ${b.warmup} and for at ` +
      `least ${b.warmupMs} ms while within ${b.budgetMs} ms, then timed ` +
      `calls until ${b.budgetMs} ms are spent and at least ${b.minIterations} calls are made (at most ` +
      `${b.maxIterations}; calls slower than ${b.hardCapMs / 1000} s get fewer); the median of those calls.`,
    "- Paired measurement: every runner (tracegrad eager, tracegrad jit and each peer column) is its own " +
      "long-lived process, started once before anything is measured. Workload by workload, each runner " +
      "measures the workload in turn, one at a time, so all columns of a row are measured within seconds " +
      "of each other" +
      (rowSeconds
        ? ` (a row's turn of every runner took ${rowSeconds.median.toFixed(1)} s in the median, ` +
          `${rowSeconds.max.toFixed(1)} s at the longest)`
        : "") +
      " and a slow period of the machine falls on both sides of a ratio alike. A runner that " +
      "crashes or hangs on a workload has that cell failed and is started again for the next one.",
    ...(rounds > 1
      ? [
          `- ${rounds} rounds: each repeats that alternation over every workload, the runners' order rotated ` +
            `by one place per round. A time shown is the median of a runner's ${rounds} round medians. A ratio ` +
            "is the median of the per-round ratios of the two runners (each from one round's paired " +
            "measurements), with in parentheses the lowest and highest per-round ratio.",
        ]
      : ["- A ratio is the ratio of the two runners' medians, measured seconds apart."]),
    "- torch: eager, intra-op threads set with " +
      "torch.set_num_threads (and the BLAS thread variables), the BLAS picked by LD_LIBRARY_PATH. " +
      "TF.js: eager, NHWC layout, tf.variableGrads + tf.train.sgd. jax-js: every workload under its jit; " +
      "2x2 max-pooling written as reshape + max (it has no pooling op).",
    "",
  ];
}

export function renderReport(report: BenchReport): string {
  const { machine, tracegrad } = report;
  const notes = new Notes();
  const shown = report.peers.filter((p) => p.status === "ok");
  const cell = (w: Workload, m: Measurement | undefined, who: string): string => {
    if (!m) return "n/a";
    if (!m.ok) return notes.ref(who, m.error, w.label);
    return formatRate(w, m.timing.medianMs);
  };

  const out: string[] = [];
  out.push("# tracegrad benchmark results", "");
  out.push(
    `Generated by \`npm run bench${report.mode === "quick" ? " -- --quick" : ""}\` (bench/run.ts)` +
      (report.mode === "quick"
        ? " in QUICK mode: small workloads, few iterations; not for comparison."
        : "."),
    "",
  );
  out.push(`- Date: ${machine.date}`);
  out.push(
    `- Machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.os}; ` +
      `load average ${machine.loadAverage.toFixed(2)} at the start` +
      (report.loadAverageAtEnd === undefined ? "" : `, ${report.loadAverageAtEnd.toFixed(2)} at the end`),
  );
  out.push(`- Node ${machine.node}; tracegrad commit ${machine.commit}`);
  out.push(`- tracegrad backend: ${tracegrad.backend}`);
  if (machine.loadAverage > machine.cores) {
    out.push(
      `- **Warning**: the load average (${machine.loadAverage.toFixed(1)}) exceeded the ${machine.cores} cores: ` +
        "other processes competed for the CPU, so timings are noisy, multi-threaded columns most of all.",
    );
  }
  out.push("");
  out.push(...methodNotes(report.mode, report.rounds ?? 1, report.rowSeconds));

  out.push("## Time per call");
  out.push("");
  out.push(
    "Median milliseconds per call (lower is better); matmul rows are GFLOP/s and the LSTM and GPT rows " +
      "tokens (batch × sequence length) per second (higher is better). " +
      "Train steps include reading the loss back; jax-js calls include waiting for every output.",
  );
  out.push("");
  out.push(...alignedHeader(["Workload", "tracegrad eager", "tracegrad jit", ...shown.map((p) => p.title)]));
  for (const r of tracegrad.rows) {
    const w = r.workload;
    out.push(
      row([
        rowTitle(w),
        cell(w, r.eager, "tracegrad eager"),
        `**${cell(w, r.jit, "tracegrad jit")}**`,
        ...shown.map((p) => cell(w, p.results[w.id], p.title)),
      ]),
    );
  }
  out.push("");

  const relaxedTitles: readonly string[] = Object.values(RELAXED_TITLES);
  const compared = shown.filter((p) => !relaxedTitles.includes(p.title));
  if (compared.length > 0) {
    out.push("## Peers relative to tracegrad jit");
    out.push("");
    out.push(
      "Peer time ÷ tracegrad-jit time, on every row including matmul and the sequence models: above 1 the peer is slower than " +
        "tracegrad's jit, below 1 it is faster. The eager column is tracegrad's own eager mode.",
    );
    out.push("");
    out.push(...alignedHeader(["Workload", "tracegrad eager", ...compared.map((p) => p.title)]));
    for (const r of tracegrad.rows) {
      const w = r.workload;
      out.push(row([w.label, ratio(r.eager, r.jit), ...compared.map((p) => ratio(p.results[w.id], r.jit))]));
    }
    out.push("");
  }

  const torchColumns = shown.filter((p) => p.title.startsWith("torch "));
  if (torchColumns.length > 0) {
    out.push("## tracegrad eager relative to PyTorch eager");
    out.push("");
    out.push(
      "tracegrad eager time ÷ torch time (torch runs eagerly): above 1 tracegrad's eager mode is slower " +
        "than PyTorch's, below 1 it is faster. Paired per round as above.",
    );
    out.push("");
    out.push(...alignedHeader(["Workload", ...torchColumns.map((p) => `eager ÷ ${p.title}`)]));
    for (const r of tracegrad.rows) {
      const w = r.workload;
      // Rows torch has no measurement of (tracegrad's own workloads) would be dashes only.
      if (torchColumns.every((p) => p.results[w.id] === undefined)) continue;
      out.push(row([w.label, ...torchColumns.map((p) => ratio(r.eager, p.results[w.id]))]));
    }
    out.push("");
  }

  // The native backend against the native peer, paired like the rest: the GEMM-bound rows' comparison.
  const onnxColumns = shown.filter((p) => p.title.startsWith("onnxruntime "));
  const openBlasColumns = torchColumns.filter((p) => p.title.includes("OpenBLAS"));
  const nativeTorch = openBlasColumns.length > 0 ? openBlasColumns : torchColumns;
  if (onnxColumns.length > 0 && nativeTorch.length > 0) {
    out.push("## tracegrad on ONNX Runtime relative to PyTorch");
    out.push("");
    out.push(
      "tracegrad jit on its ONNX Runtime backend, time ÷ torch time: below 1 tracegrad is faster. " +
        "Paired per round as above.",
    );
    out.push("");
    const pairs = onnxColumns.flatMap((o) => nativeTorch.map((t) => [o, t] as const));
    out.push(...alignedHeader(["Workload", ...pairs.map(([o, t]) => `${o.title} ÷ ${t.title}`)]));
    for (const r of tracegrad.rows) {
      const w = r.workload;
      if (onnxColumns.every((p) => p.results[w.id] === undefined)) continue;
      out.push(row([w.label, ...pairs.map(([o, t]) => ratio(o.results[w.id], t.results[w.id]))]));
    }
    out.push("");
  }

  const relaxedTracegrad = shown.find((p) => p.title === RELAXED_TITLES.tracegrad);
  const relaxedJaxjs = shown.find((p) => p.title === RELAXED_TITLES.jaxjs);
  if (relaxedTracegrad && relaxedJaxjs) {
    out.push("## With relaxed SIMD");
    out.push("");
    out.push(
      "Both relaxed-SIMD columns ran in a Node started with --experimental-wasm-relaxed-simd (Node 20 " +
        "keeps f32x4.relaxed_madd behind it; later versions enable it by default), where tracegrad and " +
        "jax-js both use it. First column: tracegrad's jit, plain time ÷ relaxed time (its speed-up from " +
        "FMA). Second: jax-js time ÷ tracegrad time, both with relaxed SIMD.",
    );
    out.push("");
    out.push(...alignedHeader(["Workload", "tracegrad jit: plain ÷ relaxed", "jax-js ÷ tracegrad, relaxed"]));
    for (const r of tracegrad.rows) {
      const w = r.workload;
      const fast = relaxedTracegrad.results[w.id];
      out.push(row([w.label, ratio(r.jit, fast), ratio(relaxedJaxjs.results[w.id], fast)]));
    }
    out.push("");
  }

  out.push("## tracegrad jit memory");
  out.push("");
  out.push(
    "Arena: the buffer the memory planner allocates once per compiled plan, against the intermediates' " +
      "total size had each its own buffer. Allocated per call: ArrayBuffer bytes a warmed-up jitted call " +
      "allocates (countAllocatedBytes over a few calls); with donation a train step allocates only its loss, " +
      "other workloads their outputs. Compile: milliseconds of `jit(f).lower(...)` (trace, optimize, plan, " +
      "lower the kernels), the median of 3 fresh jitted functions after a first compilation, from the first " +
      "round. Calls: timed iterations behind each median (eager / jit).",
  );
  out.push("");
  out.push(
    ...alignedHeader([
      "Workload",
      "arena",
      "intermediates",
      "slots",
      "allocated per call",
      "compile",
      "calls (eager / jit)",
    ]),
  );
  for (const r of tracegrad.rows) {
    const iterations = (m: Measurement) => (m.ok ? String(m.timing.iterations) : "–");
    const calls = `${iterations(r.eager)} / ${iterations(r.jit)}`;
    if (r.memory.ok) {
      const m = r.memory.value;
      out.push(
        row([
          r.workload.label,
          formatBytes(m.arenaBytes),
          formatBytes(m.intermediateBytes),
          String(m.slots),
          formatBytes(m.allocatedBytesPerCall),
          formatMs(m.compileMs),
          calls,
        ]),
      );
    } else {
      const failed = notes.ref("tracegrad jit memory", r.memory.error, r.workload.label);
      out.push(row([r.workload.label, failed, "", "", "", "", calls]));
    }
  }
  out.push("");

  out.push("## Peers");
  out.push("");
  if (report.peers.length === 0) out.push("- none requested (`--no-peers`)");
  for (const p of report.peers)
    out.push(`- **${p.title}**: ${p.status === "ok" ? "" : `${p.status}: `}${p.description}`);
  out.push("");

  const failures = notes.lines();
  if (failures.length > 0) out.push("## Failures", "", ...failures, "");
  return out.join("\n");
}
