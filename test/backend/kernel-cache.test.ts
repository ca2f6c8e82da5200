/**
 * The kernel cache's bounded policy: at most KERNEL_CACHE_BOUNDS.entries kernels, and a kernel used since
 * the others were placed outlives them (hits only stamp their entry; eviction gives those a second chance).
 */
import { describe, expect, it } from "vitest";
import { cachedKernel, KERNEL_CACHE_BOUNDS, kernelCacheSize } from "../../src/backend/kernel-cache.js";

describe("kernel cache", () => {
  it("keeps at most its bound of entries, evicting one not used lately", () => {
    const limit = KERNEL_CACHE_BOUNDS.entries;
    let built = 0;
    const get = (key: string) =>
      cachedKernel(`test ${key}`, () => {
        built++;
        return { key };
      });
    const hot = get("hot");
    for (let i = 0; i < limit; i++) {
      get(`cold ${i}`);
      expect(get("hot")).toBe(hot); // a hit: the same value, not built again
    }
    expect(kernelCacheSize().entries).toBeLessThanOrEqual(limit);
    const before = built;
    expect(get("hot")).toBe(hot);
    get(`cold ${limit - 1}`); // the newest cold entry is kept too
    expect(built).toBe(before);
    get("cold 0"); // the oldest cold one, not used since it was placed, was evicted: built again
    expect(built).toBe(before + 1);
  });

  it("counts the bytes entries hold and does not keep an entry over the per-entry bound", () => {
    const { bytes } = kernelCacheSize();
    cachedKernel(
      "test bytes small",
      () => 1,
      () => 1000,
    );
    expect(kernelCacheSize().bytes).toBe(bytes + 1000);
    let builds = 0;
    const huge = () =>
      cachedKernel(
        "test bytes huge",
        () => ++builds,
        () => KERNEL_CACHE_BOUNDS.entryBytes + 1,
      );
    huge();
    huge();
    expect(builds).toBe(2);
  });
});
