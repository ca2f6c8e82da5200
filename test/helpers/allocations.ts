/**
 * Counts ArrayBuffer bytes allocated while `body` runs, by wrapping the typed-array constructors and
 * `slice`. Used to show that a jitted step allocates nothing in steady state (a count, not a timing).
 */
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
  NAMES.forEach((name, i) => {
    const Orig = originals[i]! as unknown as new (...args: unknown[]) => object;
    const width = (Orig as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    g[name] = new Proxy(Orig, {
      construct(target, args, newTarget) {
        if (typeof args[0] === "number") bytes += args[0] * width;
        return Reflect.construct(target, args, newTarget === g[name] ? target : newTarget);
      },
    }) as unknown as Ctor;
  });
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
    typedProto.slice = originalSlice;
  }
  return bytes;
}
