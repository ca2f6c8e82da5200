/// <reference types="@webgpu/types" preserve="true" />
/**
 * An array whose values live in a GPU buffer: what a jitted function on the WebGPU backend returns. GPU
 * results cannot be read synchronously in a browser, so its values come back only through
 * `await x.data()` (or `await x.toConcrete()`); the synchronous readers (`toTypedArray`, `item`,
 * `toArray`, a numeric context) and eager ops throw a DeviceArrayReadError that names the async call.
 * Passing it to another jitted function on WebGPU keeps it on the device, with no wait.
 */
import { ConcreteArray, DonationError, fmtAval, NdArray } from "../../core/array.js";
import { type DType, storageFor, type TypedArray } from "../../core/dtype.js";
import type { Shape } from "../../core/shape.js";
import type { WebgpuDevice } from "./device.js";

/** A synchronous read of an array that lives on the GPU. */
export class DeviceArrayReadError extends Error {
  override name = "DeviceArrayReadError";
}

/** The GPU buffer of each live device array (kept off the public type, which knows no GPU types). */
const buffers = new WeakMap<DeviceArray, GPUBuffer>();

export class DeviceArray extends NdArray {
  private donated = false;
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /** Its GPUBuffer (typed `object` so that the public type needs no WebGPU typings). */
    buffer: object,
    private readonly owner: WebgpuDevice,
    /**
     * Settles once the GPU has accepted the work that computes the values: rejects with a WebgpuError
     * when it reported an error (a kernel that did not compile, a limit exceeded), so that reading the
     * values throws instead of returning what the buffer happened to hold.
     */
    readonly ready: Promise<void> = Promise.resolve(),
  ) {
    super();
    buffers.set(this, buffer as GPUBuffer);
  }

  /** Throws: the values are on the GPU (read them with `await x.data()`). */
  concrete(): ConcreteArray {
    this.checkNotDonated();
    throw new DeviceArrayReadError(
      `this ${fmtAval(this)} array lives on the WebGPU device (${this.owner.adapter}): read it with ` +
        "`await x.data()` or `await x.toConcrete()`; synchronous reads (toTypedArray, item, toArray, " +
        "printing its values, eager ops) cannot wait for the GPU. Jitted functions on WebGPU take it as it is.",
    );
  }

  /** The values, copied back from the GPU (row-major; bool as 0/1 bytes, as a ConcreteArray stores them). */
  override async data(): Promise<TypedArray> {
    this.checkNotDonated();
    await this.ready;
    const { device } = this.owner;
    const out = storageFor(this.dtype, this.size);
    if (this.size === 0) return out;
    const bytes = this.size * 4;
    const staging = device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(deviceBuffer(this), 0, staging, 0, bytes);
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const mapped = staging.getMappedRange();
    if (this.dtype === "bool") out.set(new Uint32Array(mapped));
    else out.set(new (out.constructor as new (b: ArrayBuffer) => TypedArray)(mapped));
    staging.unmap();
    staging.destroy();
    return out;
  }

  /** The array as a ConcreteArray (its values copied back from the GPU). */
  async toConcrete(): Promise<ConcreteArray> {
    return new ConcreteArray(this.shape, this.dtype, await this.data());
  }

  /** `DeviceArray<float32[2,3]>` (its values need `await x.data()`). */
  override toString(): string {
    return `DeviceArray<${fmtAval(this)}>`;
  }

  /** Marks the array donated to a jitted function whose outputs took its buffer. */
  donate(): void {
    this.checkNotDonated();
    this.donated = true;
    buffers.delete(this);
  }

  /** Whether the array was donated to a jitted function (its buffer now holds an output). */
  get isDonated(): boolean {
    return this.donated;
  }

  /** The adapter of the device the array lives on (as `backend()` names it). */
  get adapter(): string {
    return this.owner.adapter;
  }

  private checkNotDonated(): void {
    if (this.donated)
      throw new DonationError(
        `this ${fmtAval(this)} device array was donated to a jitted function (donateArgnums) and its buffer reused; use the function's outputs instead`,
      );
  }
}

/** The GPU buffer of a (not donated) device array. */
export function deviceBuffer(x: DeviceArray): GPUBuffer {
  const buffer = buffers.get(x);
  if (!buffer)
    throw new DonationError(
      `this ${fmtAval(x)} device array was donated to a jitted function; use its outputs`,
    );
  return buffer;
}
