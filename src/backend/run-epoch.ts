/**
 * A counter that every jit plan execution advances. Kernels may keep data derived from an input buffer
 * (e.g. a convolution's unrolled input) and reuse it while the epoch is unchanged: within one run a
 * buffer that is still going to be read keeps its contents, and only a plan run can overwrite a buffer.
 */
let epoch = 0;

export function currentEpoch(): number {
  return epoch;
}

export function nextEpoch(): void {
  epoch++;
}
