/**
 * Memory planning for WebGPU plans: values that live only between two dispatches of a call share GPU
 * buffers. Each value lives from the first dispatch that binds it to the last; a buffer whose value's
 * last dispatch is over goes back to a pool, and a value starting later takes the smallest pooled buffer
 * that holds it (or a new one). A value never shares a buffer with one bound by the same dispatch (WebGPU
 * forbids binding a buffer both read-only and writable in one dispatch, and a kernel may read its inputs
 * after writing outputs). Pinned values (the call's inputs and outputs, constants) keep buffers of their own.
 */

export interface BufferPlan<T> {
  /** The shared buffer (its index in `bufferBytes`) of every value that is not pinned. */
  readonly bufferOf: ReadonlyMap<T, number>;
  /** The size in bytes of each shared buffer. */
  readonly bufferBytes: readonly number[];
  /** What the shared values would take with a buffer each. */
  readonly unsharedBytes: number;
}

/**
 * Assigns shared buffers to the values `dispatches` bind (`dispatches[k]` lists what dispatch k binds, in
 * execution order); `bytes` is a value's size, `pinned` says which keep their own buffer.
 */
export function planWebgpuBuffers<T>(
  dispatches: readonly (readonly T[])[],
  bytes: (value: T) => number,
  pinned: (value: T) => boolean,
): BufferPlan<T> {
  const first = new Map<T, number>();
  const last = new Map<T, number>();
  dispatches.forEach((bound, k) => {
    for (const v of bound) {
      if (pinned(v)) continue;
      if (!first.has(v)) first.set(v, k);
      last.set(v, k);
    }
  });
  const startingAt = dispatches.map((): T[] => []);
  const endingAt = dispatches.map((): T[] => []);
  for (const [v, k] of first) startingAt[k]!.push(v);
  for (const [v, k] of last) endingAt[k]!.push(v);
  const bufferOf = new Map<T, number>();
  const bufferBytes: number[] = [];
  const pool: number[] = [];
  let unsharedBytes = 0;
  for (let k = 0; k < dispatches.length; k++) {
    for (const v of startingAt[k]!) {
      const need = bytes(v);
      unsharedBytes += need;
      let best = -1;
      for (let j = 0; j < pool.length; j++) {
        const size = bufferBytes[pool[j]!]!;
        if (size >= need && (best < 0 || size < bufferBytes[pool[best]!]!)) best = j;
      }
      if (best >= 0) bufferOf.set(v, pool.splice(best, 1)[0]!);
      else {
        bufferOf.set(v, bufferBytes.length);
        bufferBytes.push(need);
      }
    }
    // Released after this dispatch's own values are placed, so none of them shares with another.
    for (const v of endingAt[k]!) pool.push(bufferOf.get(v)!);
  }
  return { bufferOf, bufferBytes, unsharedBytes };
}
