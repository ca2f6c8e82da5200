/**
 * The one cache of compiled kernels, for every kind: eager kernels by primitive, shapes and backend
 * (plan-memory.ts standaloneKernel), compiled wasm modules by what they were emitted for, JS loops by
 * their source. One bounded policy: an entry not used lately goes first (a second-chance LRU, see
 * `entries`), once more than MAX_ENTRIES are kept or the memory they hold passes MAX_BYTES; a kernel
 * holding more than MAX_ENTRY_BYTES is built and returned but not kept (its memory lives as long as
 * whoever holds the kernel). Keys start with their kind ("eager …", "wasm module …"), so kinds never
 * collide.
 */

const MAX_ENTRIES = 1024;
const MAX_BYTES = 256 * 2 ** 20;
const MAX_ENTRY_BYTES = 32 * 2 ** 20;

interface Entry {
  readonly value: unknown;
  readonly bytes: number;
  /** The use clock at its last hit (or its insertion). */
  lastUse: number;
  /** The use clock when it was (re)placed at the end of the map's order. */
  placed: number;
}

/**
 * In order of placement. A hit only stamps its entry (an eager call looks its kernel up on every call,
 * and moving it to the end of the map each time costs more than the call's own bookkeeping); eviction
 * walks from the oldest placement and gives an entry used since it was placed a place at the end instead,
 * so the entry evicted is one not used since the others were last placed (a second-chance LRU).
 */
const entries = new Map<string, Entry>();
let heldBytes = 0;
let clock = 0;

/**
 * The kernel kept under `key`, else `make()`'s, kept unless it holds more than MAX_ENTRY_BYTES
 * (`bytesOf`: the memory it holds, e.g. its plan memory or its module's code).
 */
export function cachedKernel<V>(key: string, make: () => V, bytesOf: (value: V) => number = () => 0): V {
  const hit = entries.get(key);
  if (hit !== undefined) {
    hit.lastUse = ++clock;
    return hit.value as V;
  }
  const value = make();
  const bytes = bytesOf(value);
  if (bytes > MAX_ENTRY_BYTES) return value;
  const now = ++clock;
  entries.set(key, { value, bytes, lastUse: now, placed: now });
  heldBytes += bytes;
  if (entries.size > MAX_ENTRIES || heldBytes > MAX_BYTES) evict();
  return value;
}

function evict(): void {
  for (const [oldest, entry] of entries) {
    if (entries.size <= MAX_ENTRIES && heldBytes <= MAX_BYTES) return;
    entries.delete(oldest);
    if (entry.lastUse > entry.placed) {
      // Used since it was placed: a second chance, at the end.
      entry.placed = ++clock;
      entry.lastUse = entry.placed;
      entries.set(oldest, entry);
    } else heldBytes -= entry.bytes;
  }
}

/** How many kernels the cache keeps and the bytes they hold (for tests and profiling). */
export function kernelCacheSize(): { entries: number; bytes: number } {
  return { entries: entries.size, bytes: heldBytes };
}

/** The bounds of the policy. */
export const KERNEL_CACHE_BOUNDS = { entries: MAX_ENTRIES, bytes: MAX_BYTES, entryBytes: MAX_ENTRY_BYTES };
