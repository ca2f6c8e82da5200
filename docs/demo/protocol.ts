/** The messages between the demo page and its training Worker. */
import type { BackendInfo } from "tracegrad";

/** Page to Worker. Requests with an `id` get a reply with that `id`. */
export type Request =
  /** Train `epochs` epochs of float32 LeNet, posting progress. */
  | { readonly type: "train"; readonly epochs: number }
  /** Class probabilities of a 28x28 image, one byte per pixel (row-major), prepared as in training. */
  | { readonly type: "predict"; readonly id: number; readonly pixels: Uint8Array }
  /** The losses of the first `steps` float64 training steps (for the browser test). */
  | { readonly type: "losses"; readonly id: number; readonly steps: number };

/** Worker to page. */
export type Reply =
  | {
      readonly type: "ready";
      readonly backend: BackendInfo;
      readonly trainImages: number;
      readonly testImages: number;
    }
  | { readonly type: "loss"; readonly epoch: number; readonly step: number; readonly loss: number }
  | {
      readonly type: "epoch";
      readonly epoch: number;
      readonly accuracy: number;
      /** Training images per second over the epoch's steps (batching and progress included, evaluation not). */
      readonly imagesPerSecond: number;
      readonly stepsPerEpoch: number;
    }
  | { readonly type: "done" }
  | { readonly type: "prediction"; readonly id: number; readonly probabilities: number[] }
  | { readonly type: "losses"; readonly id: number; readonly losses: number[]; readonly backend: BackendInfo }
  | { readonly type: "error"; readonly message: string };

/** Query options of the page: `?epochs=3&train=1&relaxed=1&backend=wasm`. */
export interface PageOptions {
  /** Epochs to train (default 3). */
  readonly epochs: number;
  /** Whether to start training on load (default true). */
  readonly train: boolean;
  /** Whether kernels may use relaxed SIMD (default true; 0 for results bit-identical to Node 20's). */
  readonly relaxedSimd: boolean;
  /** Where the jitted training step runs: the wasm kernels (default) or the GPU, through WebGPU. */
  readonly backend: "wasm" | "webgpu";
}

export function pageOptions(search: string): PageOptions {
  const query = new URLSearchParams(search);
  const epochs = Number(query.get("epochs") ?? 3);
  return {
    epochs: Number.isInteger(epochs) && epochs > 0 ? epochs : 3,
    train: query.get("train") !== "0",
    relaxedSimd: query.get("relaxed") !== "0",
    backend: query.get("backend") === "webgpu" ? "webgpu" : "wasm",
  };
}
