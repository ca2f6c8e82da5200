/**
 * Worker threads for kernels (Node only): each worker instantiates a kernel's module over its shared
 * memory once, then on request takes chunks of work from a counter in that memory, alongside the main
 * thread. Kernels stay synchronous: the main thread works too, then waits (Atomics.wait) for the workers.
 *
 * Commands go through a small shared control array, one (command, argument) pair per worker; modules and
 * memories are posted on a MessagePort the worker reads synchronously (receiveMessageOnPort), so the
 * worker never needs its event loop. A worker that has not picked up a run by the time the main thread
 * ran out of chunks is cancelled (compare-and-swap), so a busy core never delays a kernel. A worker
 * whose chunk fails stops the kernel's chunks and posts the error back, and the caller throws it.
 */
import type { WasmCompiledModule, WasmMemory } from "./runtime.js";

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

/** Per worker slot in the control array: the command, its argument, and whether its last run failed. */
const SLOT_WORDS = 3;

/** Runs in each worker (CommonJS, eval). `workerData`: { control, slot, port }. */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { control, slot, port } = workerData;
const COMMAND = ${SLOT_WORDS} * slot, ARGUMENT = COMMAND + 1, FAILED = COMMAND + 2;
const kernels = new Map();
for (;;) {
  const pollUntil = performance.now() + ${WORKER_POLL_MS};
  while (Atomics.load(control, COMMAND) === ${IDLE} && performance.now() < pollUntil);
  Atomics.wait(control, COMMAND, ${IDLE});
  const command = Atomics.load(control, COMMAND);
  if (command === ${REGISTER}) {
    // Every kernel posted so far (a registration the main thread gave up on included).
    let received = receiveMessageOnPort(port);
    for (let tries = 0; !received && tries < 1000; tries++) {
      Atomics.wait(control, COMMAND, ${REGISTER}, 1);
      received = receiveMessageOnPort(port);
    }
    for (; received; received = receiveMessageOnPort(port)) {
      const { id, module, memory, counterIndex, chunks } = received.message;
      try {
        const rows = new WebAssembly.Instance(module, { env: { memory } }).exports.rows;
        kernels.set(id, { rows, counter: new Int32Array(memory.buffer), counterIndex, chunks });
      } catch {}
    }
  } else if (command === ${RUN}) {
    if (Atomics.compareExchange(control, COMMAND, ${RUN}, ${RUNNING}) !== ${RUN}) continue;
    const kernel = kernels.get(Atomics.load(control, ARGUMENT));
    try {
      if (kernel) {
        for (let c; (c = Atomics.add(kernel.counter, kernel.counterIndex, 1)) < kernel.chunks; ) kernel.rows(c, slot + 1);
      }
    } catch (e) {
      if (kernel) Atomics.store(kernel.counter, kernel.counterIndex, ${CHUNKS_FAILED});
      port.postMessage(String((e && e.message) || e));
      Atomics.store(control, FAILED, 1);
    }
  } else continue;
  Atomics.store(control, COMMAND, ${IDLE});
  Atomics.notify(control, COMMAND);
}
`;

/** Node's worker_threads, typed to what we use. */
interface WorkerThreadsModule {
  Worker: new (
    source: string,
    options: { eval: true; workerData: unknown; transferList: unknown[] },
  ) => { unref(): void };
  MessageChannel: new () => { port1: MessagePortLike; port2: unknown };
  receiveMessageOnPort(port: MessagePortLike): { message: unknown } | undefined;
}

interface MessagePortLike {
  postMessage(message: unknown): void;
  unref(): void;
}

export interface WorkerPool {
  /** Worker threads (the main thread works too). */
  readonly workers: number;
  /**
   * Instantiates `module` (exporting `rows(chunk, thread)`) over the shared `memory` in every worker;
   * chunks are taken from the i32 at `counterIndex` until `chunks`. The calling thread is thread 0, worker
   * slot i is thread i + 1. Returns the kernel's id, or null when a worker did not answer in time.
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

function nodeWorkerThreads(): WorkerThreadsModule | null {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const module = proc?.getBuiltinModule?.("node:worker_threads") as WorkerThreadsModule | undefined;
  return module ?? null;
}

/** Whether this engine can run kernels on worker threads (Node with shared memory). */
export function threadsSupported(): boolean {
  return (
    nodeWorkerThreads() !== null && typeof SharedArrayBuffer === "function" && typeof Atomics === "object"
  );
}

/** The number of cores, as Node reports them (1 elsewhere). */
export function availableCores(): number {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const os = proc?.getBuiltinModule?.("node:os") as { availableParallelism?: () => number } | undefined;
  return Math.max(1, os?.availableParallelism?.() ?? 1);
}

/** Starts `workers` worker threads (unref'd: they never keep the process alive). */
export function createWorkerPool(workers: number): WorkerPool | null {
  const threads = nodeWorkerThreads();
  if (!threads || workers < 1 || !threadsSupported()) return null;
  const control = new Int32Array(new SharedArrayBuffer(4 * SLOT_WORDS * workers));
  const commandAt = (slot: number): number => SLOT_WORDS * slot;
  const ports: MessagePortLike[] = [];
  for (let slot = 0; slot < workers; slot++) {
    const { port1, port2 } = new threads.MessageChannel();
    const worker = new threads.Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { control, slot, port: port2 },
      transferList: [port2],
    });
    worker.unref();
    port1.unref();
    ports.push(port1);
  }
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
    const message = threads.receiveMessageOnPort(ports[slot]!)?.message;
    return typeof message === "string" ? message : "unknown error";
  };
  return {
    workers,
    register(module, memory, counterIndex, chunks) {
      const id = nextId++;
      for (let slot = 0; slot < workers; slot++) {
        ports[slot]!.postMessage({ id, module, memory, counterIndex, chunks });
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
