/// <reference lib="dom" />
/**
 * GPU errors are never silent: a plan whose kernel does not compile (a primitive declared here, for the
 * test only, whose WGSL is invalid) still returns device arrays at once, but reading them rejects with a
 * WebgpuError naming the kernel, as does reading anything computed from them on the device; a valid plan
 * on the same device still runs. Sets `window.pageResult` for test/webgpu/jit-webgpu.test.ts.
 */
import type { ConcreteArray } from "../../../src/core/array.js";
import { primitive } from "../../../src/core/primitive.js";
import { DeviceArray, jit, type NdArray, np, setBackend, WebgpuError } from "../../../src/index.js";

export interface ErrorsResult {
  readonly returnedDeviceArray: boolean;
  /** `name: message` of reading the broken kernel's output. */
  readonly brokenRead: string;
  /** The same, for a value a valid plan computed on the device from that output. */
  readonly downstreamRead: string;
  readonly validValues: number[];
  readonly error: string | null;
}

const brokenPrim = primitive<Record<string, never>, [x: unknown], [out: unknown]>({
  name: "test_invalid_wgsl",
  abstractEval: ([x]) => [x],
  impl: ([x]) => [x as ConcreteArray],
  jvp: () => {
    throw new Error("test_invalid_wgsl: no derivative");
  },
  batch: () => {
    throw new Error("test_invalid_wgsl: no batching");
  },
  webgpu: () => ({
    label: "test_invalid_wgsl",
    code: "@compute @workgroup_size(1) fn main() { let x: f32 = undeclared_name; }",
    workgroups: [1, 1, 1],
  }),
});

async function failure(read: () => Promise<unknown>): Promise<string> {
  try {
    await read();
    return "no error";
  } catch (e) {
    return e instanceof WebgpuError ? `${e.name}: ${e.message}` : `other ${String(e)}`;
  }
}

async function run(): Promise<ErrorsResult> {
  await setBackend("webgpu");
  const x = np.array([1, 2, 3], { dtype: "float32" });
  const broken = jit((a: NdArray) => brokenPrim.bind1([a.mul(2)], {}), { backend: "webgpu" });
  const valid = jit((a: NdArray) => a.add(1), { backend: "webgpu" });
  const y = broken(x);
  const z = valid(y);
  return {
    returnedDeviceArray: y instanceof DeviceArray,
    brokenRead: await failure(() => y.data()),
    downstreamRead: await failure(() => z.data()),
    validValues: Array.from(await valid(x).data()),
    error: null,
  };
}

const page = window as unknown as { pageResult?: ErrorsResult };
run().then(
  (r) => {
    page.pageResult = r;
  },
  (e: unknown) => {
    page.pageResult = {
      returnedDeviceArray: false,
      brokenRead: "",
      downstreamRead: "",
      validValues: [],
      error: String(e instanceof Error ? (e.stack ?? e.message) : e),
    };
  },
);
