/**
 * Worker threads for kernels: each worker instantiates a kernel's module over its shared memory once,
 * then on request takes chunks of work from a counter in that memory, alongside the calling thread.
 * Kernels stay synchronous: the calling thread works too, then waits (Atomics.wait) for the workers.
 * The workers are Node's worker_threads or, in a cross-origin isolated dedicated Worker of a browser, Web
 * Workers (worker-hosts.ts); the protocol below is the same for both.
 *
 * Commands go through a small shared control array, one (command, argument) pair per worker. Modules and
 * memories are posted as messages: a Node worker reads them synchronously (receiveMessageOnPort), so it
 * never needs its event loop; a Web Worker returns to its event loop for them and resumes serving once the
 * kernel asked for has arrived. A worker that has not picked up a run by the time the calling thread ran
 * out of chunks is cancelled (compare-and-swap), so a busy core never delays a kernel. A worker whose
 * chunk fails stops the kernel's chunks and leaves its error in shared memory, and the caller throws it.
 */
import type { WasmMemory } from "../../core/primitive.js";
import type { WasmCompiledModule } from "./runtime.js";
import { type WorkerHost, type WorkerPost, workerHost } from "./worker-hosts.js";

const IDLE = 0;
const RUN = 1;
const RUNNING = 2;
const REGISTER = 3;

/**
 * Waking a thread from Atomics.wait costs tens of microseconds, about the time of a small kernel, and a
 * plan's kernels follow each other closely: a worker polls this long for the next run before it sleeps,
 * and the calling thread polls this long for a worker's last chunk before it sleeps.
 */
const WORKER_POLL_MS = 2;
const JOIN_POLL_MS = 1;

/**
 * A kernel's chunk counter is set to this when a worker fails (a trap): no thread takes another chunk,
 * and kernels whose chunks wait for other chunks (GEMM's packing) stop waiting. The caller then throws.
 */
export const CHUNKS_FAILED = 0x40000000;

/** Per worker slot in the control array: the command, its argument, whether its last run failed, and whether it has started. */
const SLOT_WORDS = 4;

/** Per worker slot in the error array: the length of the last failure's message, then its UTF-16 code units. */
const ERROR_WORDS = 512;

/**
 * Runs in each worker, after its host's prelude (worker-hosts.ts), which calls `start(shared, receive)`
 * (Node: `receive()` returns the next posted message or undefined) or `startWeb()` (messages arrive as
 * events). `shared`: { control, errors, slot }.
 */
const WORKER_SOURCE = `
const kernels = new Map();
let control, errors, slot, COMMAND, ARGUMENT, FAILED;
function setShared(shared) {
  ({ control, errors, slot } = shared);
  COMMAND = ${SLOT_WORDS} * slot; ARGUMENT = COMMAND + 1; FAILED = COMMAND + 2;
  Atomics.store(control, COMMAND + 3, 1);
  Atomics.notify(control, COMMAND + 3);
}
function register(message) {
  const { id, module, memory, counterIndex, chunks } = message;
  try {
    const rows = new WebAssembly.Instance(module, { env: { memory } }).exports.rows;
    kernels.set(id, { rows, counter: new Int32Array(memory.buffer), counterIndex, chunks });
  } catch {
    kernels.set(id, null); // received but unusable: runs of it leave the chunks to the other threads
  }
}
function fail(kernel, e) {
  if (kernel) Atomics.store(kernel.counter, kernel.counterIndex, ${CHUNKS_FAILED});
  const text = String((e && e.message) || e), base = ${ERROR_WORDS} * slot;
  const length = Math.min(text.length, ${ERROR_WORDS - 1});
  for (let i = 0; i < length; i++) errors[base + 1 + i] = text.charCodeAt(i);
  errors[base] = length;
  Atomics.store(control, FAILED, 1);
}
// Serves commands; returns (to the event loop) when a registration asks for a kernel not yet received.
function serve(takeRegistrations) {
  for (;;) {
    const pollUntil = performance.now() + ${WORKER_POLL_MS};
    while (Atomics.load(control, COMMAND) === ${IDLE} && performance.now() < pollUntil);
    Atomics.wait(control, COMMAND, ${IDLE});
    const command = Atomics.load(control, COMMAND);
    if (command === ${REGISTER}) {
      if (!takeRegistrations()) return;
    } else if (command === ${RUN}) {
      if (Atomics.compareExchange(control, COMMAND, ${RUN}, ${RUNNING}) !== ${RUN}) continue;
      const kernel = kernels.get(Atomics.load(control, ARGUMENT));
      try {
        if (kernel) {
          for (let c; (c = Atomics.add(kernel.counter, kernel.counterIndex, 1)) < kernel.chunks; ) kernel.rows(c, slot + 1);
        }
      } catch (e) {
        fail(kernel, e);
      }
    } else continue;
    Atomics.store(control, COMMAND, ${IDLE});
    Atomics.notify(control, COMMAND);
  }
}
function start(shared, receive) {
  setShared(shared);
  serve(() => {
    // Every kernel posted so far (a registration the calling thread gave up on included).
    let received = receive();
    for (let tries = 0; !received && tries < 1000; tries++) {
      Atomics.wait(control, COMMAND, ${REGISTER}, 1);
      received = receive();
    }
    for (; received; received = receive()) register(received);
    return true;
  });
}
function startWeb() {
  const asked = () => kernels.has(Atomics.load(control, ARGUMENT));
  self.onmessage = (event) => {
    if (control === undefined) setShared(event.data);
    else register(event.data);
    if (Atomics.load(control, COMMAND) === ${REGISTER}) {
      if (!asked()) return; // the kernel asked for is still on its way
      Atomics.store(control, COMMAND, ${IDLE});
      Atomics.notify(control, COMMAND);
    }
    serve(asked);
  };
}
`;

export interface WorkerPool {
  /** Worker threads (the calling thread works too). */
  readonly workers: number;
  /**
   * Whether every worker has started. Web Workers start only after the creating thread returns to its
   * event loop; until then kernels registered run on the calling thread alone (see `whenStarted`).
   */
  started(): boolean;
  /** Resolves once every worker has started (false when they did not within `timeoutMs`). */
  whenStarted(timeoutMs?: number): Promise<boolean>;
  /**
   * Instantiates `module` (exporting `rows(chunk, thread)`) over the shared `memory` in every worker;
   * chunks are taken from the i32 at `counterIndex` until `chunks`. The calling thread is thread 0, worker
   * slot i is thread i + 1. Returns the kernel's id, or null when a worker did not answer in time (or has
   * not started, where workers start after the creating thread yields).
   */
  register(
    module: WasmCompiledModule,
    memory: WasmMemory,
    counterIndex: number,
    chunks: number,
  ): number | null;
  /** Sets every worker on kernel `id`; the returned function waits until none is still working on it. */
  start(id: number): () => void;
}

const REGISTER_TIMEOUT_MS = 10_000;
const START_TIMEOUT_MS = 10_000;

/** Whether this engine can run kernels on worker threads (Node, or a browser's isolated dedicated Worker). */
export function threadsSupported(): boolean {
  return workerHost() !== null;
}

/** The number of cores, as the platform reports them (1 where kernels cannot use workers). */
export function availableCores(): number {
  return workerHost()?.cores() ?? 1;
}

/** Starts `workers` worker threads (Node: unref'd, they never keep the process alive). */
export function createWorkerPool(workers: number, host: WorkerHost | null = workerHost()): WorkerPool | null {
  if (!host || workers < 1) return null;
  const control = new Int32Array(new SharedArrayBuffer(4 * SLOT_WORDS * workers));
  const errors = new Int32Array(new SharedArrayBuffer(4 * ERROR_WORDS * workers));
  const commandAt = (slot: number): number => SLOT_WORDS * slot;
  const posts: WorkerPost[] = [];
  for (let slot = 0; slot < workers; slot++) posts.push(host.spawn(WORKER_SOURCE, { control, errors, slot }));
  let allStarted = false;
  const started = (): boolean => {
    if (!allStarted) {
      allStarted = true;
      for (let slot = 0; slot < workers; slot++)
        if (Atomics.load(control, commandAt(slot) + 3) !== 1) allStarted = false;
    }
    return allStarted;
  };
  let nextId = 0;
  const waitIdle = (slot: number, timeoutMs: number, pollMs = 0): boolean => {
    const pollUntil = performance.now() + pollMs;
    while (Atomics.load(control, commandAt(slot)) !== IDLE && performance.now() < pollUntil);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const command = Atomics.load(control, commandAt(slot));
      if (command === IDLE) return true;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      Atomics.wait(control, commandAt(slot), command, left);
    }
  };
  /** The error of a worker whose last run failed (once), or null. */
  const failureOf = (slot: number): string | null => {
    if (Atomics.exchange(control, commandAt(slot) + 2, 0) !== 1) return null;
    const base = ERROR_WORDS * slot;
    const length = errors[base]!;
    return length > 0
      ? String.fromCharCode(...errors.subarray(base + 1, base + 1 + length))
      : "unknown error";
  };
  return {
    workers,
    started,
    async whenStarted(timeoutMs = START_TIMEOUT_MS) {
      const deadline = performance.now() + timeoutMs;
      while (!started() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      return started();
    },
    register(module, memory, counterIndex, chunks) {
      if (host.startsAfterYield && !started()) return null;
      const id = nextId++;
      for (let slot = 0; slot < workers; slot++) {
        posts[slot]!({ id, module, memory, counterIndex, chunks });
        Atomics.store(control, commandAt(slot) + 1, id);
        Atomics.store(control, commandAt(slot), REGISTER);
        Atomics.notify(control, commandAt(slot));
      }
      // A worker still starting up answers once it runs; give up (and let the kernel run alone) if none does.
      for (let slot = 0; slot < workers; slot++) if (!waitIdle(slot, REGISTER_TIMEOUT_MS)) return null;
      return id;
    },
    start(id) {
      for (let slot = 0; slot < workers; slot++) {
        Atomics.store(control, commandAt(slot) + 1, id);
        Atomics.store(control, commandAt(slot), RUN);
        Atomics.notify(control, commandAt(slot));
      }
      return () => {
        const failures: string[] = [];
        for (let slot = 0; slot < workers; slot++) {
          // Not picked up yet: cancel. Picked up: wait for it to finish its chunk.
          if (Atomics.compareExchange(control, commandAt(slot), RUN, IDLE) !== RUN)
            waitIdle(slot, Number.POSITIVE_INFINITY, JOIN_POLL_MS);
          const failure = failureOf(slot);
          if (failure !== null) failures.push(`worker thread ${slot + 1}: ${failure}`);
        }
        if (failures.length > 0) throw new Error(`a kernel failed on ${failures.join("; ")}`);
      };
    },
  };
}

/**
 * Runs chunks [0, chunks) of the kernel registered as `id`: the calling thread (thread 0) and the pool's
 * workers take them from the i32 at `counterIndex` of `counter` in turn. An error on any thread stops
 * the chunks, waits for the workers, and is thrown.
 */
export function runChunks(
  pool: WorkerPool,
  id: number,
  counter: Int32Array,
  counterIndex: number,
  chunks: number,
  rows: (chunk: number, thread: number) => void,
): void {
  Atomics.store(counter, counterIndex, 0);
  const join = pool.start(id);
  try {
    for (let chunk: number; (chunk = Atomics.add(counter, counterIndex, 1)) < chunks; ) rows(chunk, 0);
  } catch (e) {
    Atomics.store(counter, counterIndex, CHUNKS_FAILED);
    try {
      join();
    } catch {
      // The calling thread's own error is the one to report.
    }
    throw e;
  }
  join();
}
