/**
 * run.ts's side of one runner: a long-lived child process speaking protocol.ts's line protocol. It is
 * started once and measures one workload per request; a runner that crashes or hangs on a workload gets
 * a failed measurement for it and is started again for the next one, so one bad workload never costs a
 * column.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import type { Measurement } from "../timing.js";
import type { BenchMode, TimingBudget, Workload } from "../workloads.js";
import { READY_PREFIX, RESULT_PREFIX, type RunnerReady, type RunReply } from "./protocol.js";

/** How to start one runner, and which column it fills. */
export interface RunnerSpec {
  readonly title: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Appended to the description the runner gives (how run.ts configured it). */
  readonly note?: string;
  /** The workloads it measures (the others are n/a in its column); all when absent. */
  readonly runs?: (w: Workload) => boolean;
}

export interface RunnerTimeouts {
  /** From spawn to the ready line (imports, backend initialization). */
  readonly startMs: number;
  /** From a request to its reply. */
  readonly requestMs: number;
}

/** Where a runner stands once started: ready to measure, absent, or broken. */
export type RunnerStatus =
  | { readonly status: "ok" | "not installed"; readonly description: string }
  | { readonly status: "failed"; readonly description: string };

/** Starts after a crash or a timeout, per runner, before its column is given up on. */
const MAX_RESTARTS = 5;

/** Lines of a runner's stderr kept to explain a crash (enough to hold an error above its stack). */
const STDERR_TAIL = 40;

/**
 * The line of a dead runner's stderr that says why: the last error line (Node's `Error: ...` above its
 * stack, Python's last traceback line), else the last line Node or Python did not add themselves.
 */
export function lastWords(tail: readonly string[]): string | undefined {
  const lines = tail.map((l) => l.trim()).filter((l) => l !== "" && !/^Node\.js v\d/.test(l));
  return [...lines].reverse().find((l) => /^[\w.]*(Error|Exception)\b/.test(l)) ?? lines.at(-1);
}

interface Failure {
  readonly failed: string;
}

/** One spawned process and what waits on it. */
interface Attempt {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stderrTail: string[];
  onReady: ((status: RunnerStatus) => void) | null;
  pending: { readonly seq: number; resolve(reply: RunReply | Failure): void } | null;
  /** Set once it exited: how. */
  exit: string | null;
}

export class RunnerProcess {
  /** The live process, if any (null before start, after a crash or a kill). */
  private attempt: Attempt | null = null;
  private nextSeq = 1;
  private restarts = 0;
  /** What the first start said; later starts only replace a crashed process. */
  private status: RunnerStatus | null = null;

  constructor(
    readonly spec: RunnerSpec,
    private readonly timeouts: RunnerTimeouts,
    private readonly log: (line: string) => void,
  ) {}

  /** Starts the process and waits for its ready line; the status is the column's. */
  async start(): Promise<RunnerStatus> {
    const status = await this.spawnAndWait();
    this.status = status;
    return status;
  }

  /** Whether it measures (it started fine). */
  get usable(): boolean {
    return this.status?.status === "ok";
  }

  /** The ready line's description, with run.ts's note. */
  get description(): string {
    const text = this.status?.description ?? "not started";
    return this.spec.note ? `${text}; ${this.spec.note}` : text;
  }

  /**
   * One workload, measured by the runner; a crash or a timeout is a failed measurement (and the next
   * request starts the runner again, up to MAX_RESTARTS times).
   */
  async measure(
    workload: Workload,
    mode: BenchMode,
    budget: TimingBudget,
  ): Promise<{ measurement: Measurement; reply?: RunReply }> {
    const failed = (error: string) => ({ measurement: { ok: false, error } as const });
    if (!this.usable) return failed(`runner not started: ${this.description}`);
    if (!this.attempt) {
      if (this.restarts >= MAX_RESTARTS) return failed(`runner given up after ${MAX_RESTARTS} restarts`);
      this.restarts++;
      this.log(`-- restarting ${this.spec.title}`);
      const restarted = await this.spawnAndWait();
      if (restarted.status !== "ok") return failed(`restart failed: ${restarted.description}`);
    }
    const attempt = this.attempt!;
    const seq = this.nextSeq++;
    const answer = await new Promise<RunReply | Failure>((resolve) => {
      const timer = setTimeout(() => {
        attempt.pending = null;
        this.kill(attempt);
        resolve({
          failed: `timed out after ${Math.round(this.timeouts.requestMs / 1000)} s (runner killed)`,
        });
      }, this.timeouts.requestMs);
      attempt.pending = {
        seq,
        resolve: (value) => {
          clearTimeout(timer);
          attempt.pending = null;
          resolve(value);
        },
      };
      attempt.child.stdin.write(`${JSON.stringify({ seq, mode, budget, workload })}\n`);
    });
    if ("failed" in answer) return failed(answer.failed);
    return { measurement: answer.measurement, reply: answer };
  }

  /** Closes stdin (the runner exits on its own), killing it if it does not within a few seconds. */
  async stop(): Promise<void> {
    const attempt = this.attempt;
    if (!attempt) return;
    this.attempt = null;
    if (attempt.exit !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.kill(attempt), 5000);
      attempt.child.once("close", () => {
        clearTimeout(timer);
        resolve();
      });
      attempt.child.stdin.end();
    });
  }

  private kill(attempt: Attempt): void {
    if (attempt.exit === null) attempt.child.kill("SIGKILL");
    if (this.attempt === attempt) this.attempt = null;
  }

  private spawnAndWait(): Promise<RunnerStatus> {
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn(this.spec.command, [...this.spec.args], {
        cwd: this.spec.cwd,
        env: { ...process.env, ...this.spec.env },
        stdio: ["pipe", "pipe", "pipe"],
      });
    } catch (e) {
      return Promise.resolve({ status: "failed", description: String(e) });
    }
    const attempt: Attempt = { child, stderrTail: [], onReady: null, pending: null, exit: null };
    this.attempt = attempt;
    return new Promise<RunnerStatus>((resolve) => {
      const timer = setTimeout(() => {
        this.kill(attempt);
        settle({ status: "failed", description: `not ready after ${this.timeouts.startMs / 1000} s` });
      }, this.timeouts.startMs);
      const settle = (status: RunnerStatus) => {
        clearTimeout(timer);
        attempt.onReady = null;
        if (status.status !== "ok" && this.attempt === attempt) this.attempt = null;
        resolve(status);
      };
      attempt.onReady = settle;
      const exited = (how: string) => {
        if (attempt.exit !== null) return;
        const last = lastWords(attempt.stderrTail);
        attempt.exit = last ? `${how}: ${last.slice(0, 300)}` : how;
        if (this.attempt === attempt) this.attempt = null;
        // Readiness and a pending reply can only come from this process: both fail, saying why.
        attempt.onReady?.({ status: "failed", description: `${attempt.exit} before it was ready` });
        attempt.pending?.resolve({ failed: attempt.exit });
      };
      child.on("error", (e) => exited(e.message));
      // "close", not "exit": by then stderr is read to its end, so the tail holds the last words.
      child.on("close", (code, signal) =>
        exited(signal !== null ? `killed by ${signal}` : `exited with code ${code}`),
      );
      // A runner killed mid-write must not take run.ts down with EPIPE.
      child.stdin.on("error", () => {});
      createInterface({ input: child.stdout }).on("line", (line) => {
        if (line.startsWith(READY_PREFIX)) {
          const ready = JSON.parse(line.slice(READY_PREFIX.length)) as RunnerReady;
          attempt.onReady?.({ status: ready.status, description: ready.description });
        } else if (line.startsWith(RESULT_PREFIX)) {
          const reply = JSON.parse(line.slice(RESULT_PREFIX.length)) as RunReply;
          // A reply to a request already given up on is dropped.
          if (attempt.pending && reply.seq === attempt.pending.seq) attempt.pending.resolve(reply);
        }
        // Anything else on stdout is the library's own chatter.
      });
      createInterface({ input: child.stderr }).on("line", (line) => {
        attempt.stderrTail.push(line);
        if (attempt.stderrTail.length > STDERR_TAIL) attempt.stderrTail.shift();
        this.log(line);
      });
    });
  }
}
