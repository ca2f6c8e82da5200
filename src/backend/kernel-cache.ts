/**
 * The one cache of compiled kernels, for every kind: eager kernels by primitive, shapes and backend
 * (plan-memory.ts standaloneKernel), compiled wasm modules by what they were emitted for, JS loops by
 * their source. One bounded policy: the least recently used entry goes first, once more than MAX_ENTRIES
 * are kept or the memory they hold passes MAX_BYTES; a kernel holding more than MAX_ENTRY_BYTES is built
 * and returned but not kept (its memory lives as long as whoever holds the kernel). Keys start with their
 * kind ("eager …", "wasm module …"), so kinds never collide.
 */

const MAX_ENTRIES = 1024;
const MAX_BYTES = 256 * 2 ** 20;
const MAX_ENTRY_BYTES = 32 * 2 ** 20;

interface Entry {
  readonly value: unknown;
  readonly bytes: number;
}

/** In insertion order, which the hits keep as least recently used first. */
const entries = new Map<string, Entry>();
let heldBytes = 0;

/**
 * The kernel kept under `key`, else `make()`'s, kept unless it holds more than MAX_ENTRY_BYTES
 * (`bytesOf`: the memory it holds, e.g. its plan memory or its module's code).
 */
export function cachedKernel<V>(key: string, make: () => V, bytesOf: (value: V) => number = () => 0): V {
  const hit = entries.get(key);
  if (hit) {
    entries.delete(key); // most recently used goes last
    entries.set(key, hit);
    return hit.value as V;
  }
  const value = make();
  const bytes = bytesOf(value);
  if (bytes > MAX_ENTRY_BYTES) return value;
  entries.set(key, { value, bytes });
  heldBytes += bytes;
  for (const [oldest, entry] of entries) {
    if (entries.size <= MAX_ENTRIES && heldBytes <= MAX_BYTES) break;
    entries.delete(oldest);
    heldBytes -= entry.bytes;
  }
  return value;
}

/** How many kernels the cache keeps and the bytes they hold (for tests and profiling). */
export function kernelCacheSize(): { entries: number; bytes: number } {
  return { entries: entries.size, bytes: heldBytes };
}

/** The bounds of the policy. */
export const KERNEL_CACHE_BOUNDS = { entries: MAX_ENTRIES, bytes: MAX_BYTES, entryBytes: MAX_ENTRY_BYTES };
