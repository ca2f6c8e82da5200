/**
 * test/ops/elementwise_math_reference.py writes the committed reference data again: the inputs and
 * mpmath's exact values bit for bit, and numpy's outputs bit for bit where numpy runs on the same CPU
 * features (its SIMD loops are chosen by the CPU). Needs numpy 1.24 and mpmath for /usr/bin/python3;
 * skipped with the reason printed otherwise.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decode, GENERATOR, readReference } from "./elementwise-math-reference.js";

const python = "/usr/bin/python3";
const probe = spawnSync(
  python,
  ["-c", "import numpy, mpmath; assert numpy.__version__.startswith('1.24'), numpy.__version__"],
  { encoding: "utf8" },
);
const skipReason =
  probe.status === 0 ? null : `no numpy 1.24 with mpmath for ${python}: ${probe.stderr.trim()}`;
if (skipReason !== null) console.log(`elementwise_math_reference.py test skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)("test/ops/elementwise_math_reference.py", () => {
  it("writes the committed inputs and exact values again, bit for bit (numpy's outputs too on the same CPU features)", () => {
    const reference = readReference();
    const dir = mkdtempSync(join(tmpdir(), "tracegrad-numpy-"));
    try {
      const file = join(dir, "ref.json.gz");
      const run = spawnSync(python, [GENERATOR, file], { encoding: "utf8", timeout: 300_000 });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const fresh = readReference(file);
      expect(Object.keys(fresh.ops).sort()).toEqual(Object.keys(reference.ops).sort());
      const sameCpu =
        JSON.stringify(fresh.meta.numpy_cpu_features) === JSON.stringify(reference.meta.numpy_cpu_features);
      for (const [name, op] of Object.entries(reference.ops)) {
        for (const dtype of ["float64", "float32"] as const) {
          const [a, b] = [op[dtype], fresh.ops[name]![dtype]];
          expect(b.args, `${name} ${dtype}`).toEqual(a.args);
          expect(b.exact, `${name} ${dtype}`).toEqual(a.exact);
          if (sameCpu) expect(b.out, `${name} ${dtype}`).toEqual(a.out);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("holds numpy's special values: NaN, ±Infinity and -0 survive the encoding", () => {
    const { ops } = readReference();
    const sinh = decode(ops["sinh"]!.float64.out, "float64");
    const x = decode(ops["sinh"]!.float64.args[0]!, "float64");
    const at = (v: number) => sinh[[...x].findIndex((e) => Object.is(e, v))];
    expect([at(-0), at(Infinity), at(-Infinity)]).toEqual([-0, Infinity, -Infinity]);
    expect(Number.isNaN(at(NaN))).toBe(true);
  });
});
