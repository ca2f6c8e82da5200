/// <reference types="@webgpu/types" preserve="true" />
/**
 * The WebGPU device jit plans run on (issue 23): requested once by `setBackend("webgpu")`, which resolves
 * when it is ready. Where there is no WebGPU (Node, a browser without it, a page that is not a secure
 * context) the request fails with a WebgpuUnavailableError that says so; a lost device is forgotten, so
 * the next setBackend("webgpu") asks again.
 */

/** WebGPU is missing, has no adapter, or the device was lost. */
export class WebgpuUnavailableError extends Error {
  override name = "WebgpuUnavailableError";
}

/**
 * The GPU reported an error for a plan's work: a kernel that did not compile, a buffer or binding beyond
 * a device limit, memory exhausted. WebGPU reports these asynchronously, so it surfaces where the values
 * are read (`await x.data()`), never as silently wrong values.
 */
export class WebgpuError extends Error {
  override name = "WebgpuError";
}

/**
 * Catches the GPU errors raised by the device calls made until the returned function is called (WebGPU's
 * error scopes: without them a shader that fails to compile only logs to the console, and its dispatches
 * do nothing). The function closes the scopes and gives a promise of the errors' messages, or null.
 */
export function catchGpuErrors(device: GPUDevice): () => Promise<string | null> {
  const filters: GPUErrorFilter[] = ["validation", "out-of-memory", "internal"];
  for (const filter of filters) device.pushErrorScope(filter);
  return () =>
    Promise.all(filters.map(() => device.popErrorScope())).then((errors) => {
      const messages = errors.filter((e): e is GPUError => e !== null).map((e) => e.message);
      return messages.length > 0 ? messages.join("; ") : null;
    });
}

export interface WebgpuDevice {
  readonly device: GPUDevice;
  /** The adapter as `backend()` reports it, e.g. "google swiftshader". */
  readonly adapter: string;
}

let current: WebgpuDevice | null = null;
let pending: Promise<WebgpuDevice> | null = null;

/** The device, requesting it on the first call (later calls share the request). */
export function requestWebgpuDevice(): Promise<WebgpuDevice> {
  if (current) return Promise.resolve(current);
  pending ??= request().finally(() => {
    pending = null;
  });
  return pending;
}

async function request(): Promise<WebgpuDevice> {
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu)
    throw new WebgpuUnavailableError(
      'setBackend("webgpu"): this engine has no WebGPU (navigator.gpu): it needs a browser with WebGPU, ' +
        "on a secure page (https, or http on localhost/127.0.0.1); Node has none",
    );
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new WebgpuUnavailableError('setBackend("webgpu"): navigator.gpu gave no adapter');
  // Plans bind large operands whole: ask for the adapter's own limits, not WebGPU's defaults.
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: adapter.limits.maxStorageBuffersPerShaderStage,
    },
  });
  // `info` is newer than @webgpu/types 0.1.38 (Chromium 114 and later have it).
  const info = (adapter as GPUAdapter & { info?: { vendor?: string; architecture?: string } }).info;
  const ready: WebgpuDevice = {
    device,
    adapter: `${info?.vendor ?? ""} ${info?.architecture ?? ""}`.trim() || "unnamed adapter",
  };
  void device.lost.then(() => {
    if (current === ready) current = null;
  });
  current = ready;
  return ready;
}

/** The device if `setBackend("webgpu")` has made one ready, else null. */
export function webgpuDevice(): WebgpuDevice | null {
  return current;
}
