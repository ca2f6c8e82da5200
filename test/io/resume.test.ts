import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type TrainOptions, train } from "../../docs/examples/lenet-mnist.js";
import { tree } from "../../src/index.js";

const dir = mkdtempSync(join(tmpdir(), "tracegrad-resume-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: TrainOptions = {
  epochs: 2,
  batchSize: 16,
  lr: 0.05,
  momentum: 0.9,
  seed: 3,
  maxBatches: 3,
  maxTest: 100,
  outDir: dir,
  quiet: true,
};

describe("LeNet example: --save and --resume", () => {
  it("resuming from a checkpoint follows the same trajectory as not stopping", async () => {
    // A run that saves after every epoch; then pretend it stopped after epoch 1 and resume from there.
    const straight = await train({ ...base, savePath: join(dir, "ckpt-{epoch}.safetensors") });
    const resumed = await train({ ...base, resumePath: join(dir, "ckpt-1.safetensors") });
    expect(straight.losses).toHaveLength(2 * base.maxBatches);
    expect(resumed.losses).toEqual(straight.losses.slice(base.maxBatches));
    const a = tree.leaves(straight.params);
    const b = tree.leaves(resumed.params);
    expect(b).toHaveLength(10);
    a.forEach((leaf, i) => expect(b[i]!.toTypedArray()).toEqual(leaf.toTypedArray()));
  });

  it("a bad checkpoint is a clear error, not a crash", async () => {
    await expect(train({ ...base, resumePath: join(dir, "missing.safetensors") })).rejects.toThrow(
      /--resume .*missing/,
    );
  });
});
