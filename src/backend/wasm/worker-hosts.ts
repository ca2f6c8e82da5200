/**
 * Where kernel workers come from: Node's worker_threads, or Web Workers inside a dedicated Worker with
 * cross-origin isolation (a browser's main thread may not block in Atomics.wait, and without isolation
 * there is no SharedArrayBuffer). The shared memory protocol is the same on both (threads.ts); a host
 * only starts a worker on a given script and posts it messages.
 */
import { nodeBuiltin } from "./node-builtins.js";

/** Where the library runs, as far as threads are concerned. */
export type Platform = "node" | "browser-worker" | "browser" | "other";

/** A started worker: posts a message (structured clone: compiled modules and shared memories pass). */
export type WorkerPost = (message: unknown) => void;

/** How a platform starts kernel workers. */
export interface WorkerHost {
  readonly platform: Platform;
  /**
   * Whether a worker starts only once the thread that created it returns to its event loop (Web Workers):
   * a pool then uses its workers only after they have all started (see WorkerPool.started).
   */
  readonly startsAfterYield: boolean;
  /** The cores to use. */
  cores(): number;
  /**
   * Starts a worker running `source` (a script that defines `start(shared, post)` and the message handling
   * of its platform, see threads.ts) with `shared` as its first message; returns how to post it more.
   */
  spawn(source: string, shared: unknown): WorkerPost;
}

/** Node's worker_threads, typed to what we use. */
export interface WorkerThreadsModule {
  Worker: new (
    source: string,
    options: { eval: true; workerData: unknown; transferList: unknown[] },
  ) => { unref(): void };
  MessageChannel: new () => { port1: NodeMessagePort; port2: unknown };
  receiveMessageOnPort(port: NodeMessagePort): { message: unknown } | undefined;
}

interface NodeMessagePort {
  postMessage(message: unknown): void;
  unref(): void;
}

/**
 * Node: workers evaluate `source` as CommonJS and read kernels synchronously from a MessagePort
 * (`receiveMessageOnPort`), so they never need their event loop. `workerData` is { shared, port }.
 */
function nodeHost(threads: WorkerThreadsModule): WorkerHost {
  return {
    platform: "node",
    startsAfterYield: false,
    cores() {
      const os = nodeBuiltin<{ availableParallelism?: () => number }>("node:os");
      return Math.max(1, os?.availableParallelism?.() ?? 1);
    },
    spawn(source, shared) {
      const { port1, port2 } = new threads.MessageChannel();
      const worker = new threads.Worker(
        `const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const { shared, port } = workerData;
${source}
start(shared, () => { const received = receiveMessageOnPort(port); return received && received.message; });`,
        { eval: true, workerData: { shared, port: port2 }, transferList: [port2] },
      );
      worker.unref();
      port1.unref();
      return (message) => port1.postMessage(message);
    },
  };
}

/** The slice of the Web Worker API we use (our compiler settings carry no DOM library). */
interface WebGlobals {
  Worker?: new (url: string, options?: { name?: string }) => { postMessage(message: unknown): void };
  Blob?: new (parts: string[], options: { type: string }) => unknown;
  URL?: { createObjectURL(blob: unknown): string };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
  DedicatedWorkerGlobalScope?: abstract new () => unknown;
  document?: unknown;
}

const web = globalThis as WebGlobals;

function inDedicatedWorker(): boolean {
  const scope = web.DedicatedWorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

/**
 * A browser's dedicated Worker with cross-origin isolation: workers are Web Workers on a blob: script.
 * They get kernels as messages (`onmessage`), so a worker returns to its event loop to take one (threads.ts).
 */
function webHost(): WorkerHost {
  let url: string | null = null;
  let urlSource: string | null = null;
  return {
    platform: "browser-worker",
    startsAfterYield: true,
    cores() {
      return Math.max(1, web.navigator?.hardwareConcurrency ?? 1);
    },
    spawn(source, shared) {
      if (url === null || urlSource !== source) {
        const script = `${source}\nstartWeb();`;
        url = web.URL!.createObjectURL(new web.Blob!([script], { type: "text/javascript" }));
        urlSource = source;
      }
      const worker = new web.Worker!(url, { name: "tracegrad kernels" });
      worker.postMessage(shared);
      return (message) => worker.postMessage(message);
    },
  };
}

let hostCache: WorkerHost | null | undefined;

/** The host of kernel workers here, or null where kernels run on the calling thread alone. */
export function workerHost(): WorkerHost | null {
  if (hostCache !== undefined) return hostCache;
  const shared = typeof SharedArrayBuffer === "function" && typeof Atomics === "object";
  const threads = nodeBuiltin<WorkerThreadsModule>("node:worker_threads");
  if (threads) hostCache = shared ? nodeHost(threads) : null;
  else if (
    shared &&
    inDedicatedWorker() &&
    web.crossOriginIsolated === true &&
    typeof web.Worker === "function" &&
    typeof web.Blob === "function" &&
    typeof web.URL?.createObjectURL === "function"
  )
    hostCache = webHost();
  else hostCache = null;
  return hostCache;
}

/** Where the library runs: Node (or an engine with its worker_threads), a browser's Worker or page, or other. */
export function currentPlatform(): Platform {
  if (nodeBuiltin("node:worker_threads")) return "node";
  if (inDedicatedWorker()) return "browser-worker";
  if (web.document !== undefined) return "browser";
  return "other";
}
