/**
 * Counts ArrayBuffer bytes allocated while `body` runs, by wrapping the typed-array constructors (the
 * globals and the dtype storage table `STORAGE`, which holds its own references to them) and `slice`.
 * Used to show that a jitted step allocates nothing in steady state (a count, not a timing).
 */
import { type DType, STORAGE, type TypedArrayClass } from "../../src/core/dtype.js";

type Ctor = new (...args: never[]) => ArrayBufferView;

const NAMES = [
  "Float32Array",
  "Float64Array",
  "Int32Array",
  "Uint32Array",
  "Int16Array",
  "Uint16Array",
  "Int8Array",
  "Uint8Array",
  "ArrayBuffer",
] as const;

export function countAllocatedBytes(body: () => void): number {
  let bytes = 0;
  const g = globalThis as unknown as Record<string, Ctor>;
  const originals = NAMES.map((n) => g[n]!);
  const typedProto = Object.getPrototypeOf(Float32Array.prototype) as {
    slice: (...a: unknown[]) => ArrayBufferView;
  };
  const originalSlice = typedProto.slice;
  const storage = STORAGE as Record<DType, TypedArrayClass>;
  const storageOriginals = { ...storage };
  const counting = (Orig: new (...args: unknown[]) => object, isSelf: (t: unknown) => boolean) => {
    const width = (Orig as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    return new Proxy(Orig, {
      construct(target, args, newTarget) {
        if (typeof args[0] === "number") bytes += args[0] * width;
        return Reflect.construct(target, args, isSelf(newTarget) ? target : newTarget);
      },
    });
  };
  NAMES.forEach((name, i) => {
    const Orig = originals[i]! as unknown as new (...args: unknown[]) => object;
    g[name] = counting(Orig, (t) => t === g[name]) as unknown as Ctor;
  });
  for (const dtype of Object.keys(storage) as DType[]) {
    const Orig = storageOriginals[dtype] as unknown as new (...args: unknown[]) => object;
    storage[dtype] = counting(Orig, (t) => t === storage[dtype]) as unknown as TypedArrayClass;
  }
  typedProto.slice = function (this: ArrayBufferView, ...args: unknown[]) {
    const out = originalSlice.apply(this, args);
    bytes += out.byteLength;
    return out;
  };
  try {
    body();
  } finally {
    NAMES.forEach((name, i) => {
      g[name] = originals[i]!;
    });
    Object.assign(storage, storageOriginals);
    typedProto.slice = originalSlice;
  }
  return bytes;
}
