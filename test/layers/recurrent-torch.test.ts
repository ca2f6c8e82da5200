/**
 * A PyTorch model with an nn.LSTM, its state_dict saved as safetensors by PyTorch's side
 * (test/io/torch_interop.py), loads into the same model built from layers and runs unchanged: same
 * parameter paths, same output and final carries. Skipped (with the reason printed) when no Python here
 * can import torch.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as E from "fp-ts/lib/Either.js";
import { afterAll, describe, expect, it } from "vitest";
import { io, layers, type NdArray, np, tree } from "../../src/index.js";
import { findTorchPython } from "../helpers/torch-python.js";

const SCRIPT = fileURLToPath(new URL("../io/torch_interop.py", import.meta.url));
const PYTHON = findTorchPython();
const itWithTorch = PYTHON === null ? it.skip : it;
if (PYTHON === null)
  console.log(
    "recurrent torch interop skipped: no python3 here can `import torch` (apt-get install python3-torch)",
  );

const workDir = mkdtempSync(join(tmpdir(), "tracegrad-lstm-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

interface Values {
  shape: number[];
  values: number[];
}

describe("a PyTorch LSTM state dict, as safetensors", () => {
  itWithTorch("loads into layers.lstm inside a named model and runs unchanged", () => {
    const path = join(workDir, "tagger.safetensors");
    const run = spawnSync(PYTHON!, [SCRIPT, "lstm", path], { encoding: "utf8", timeout: 120_000 });
    if (run.status !== 0) throw new Error(`python failed (${run.status}):\n${run.stderr}`);
    const torchSide = JSON.parse(run.stdout) as { keys: string[]; y: Values; h: Values; c: Values };

    // The same model as torch's Tagger: LSTM(3, 5, num_layers=2, bidirectional, batch_first), Linear(10, 2).
    const tagger = layers.named(
      {
        lstm: layers.lstm(3, 5, { numLayers: 2, bidirectional: true, batchFirst: true }),
        head: layers.linear(10, 2),
      },
      (m, [x, hx]: [NdArray, [NdArray, NdArray]]) => {
        const [out, [h, c]] = m.lstm(x, hx);
        return [m.head(out), h, c] as const;
      },
      { name: "Tagger", inputs: ["x", "hx"] },
    );
    const decoded = io.safetensors.decodeTree(readFileSync(path));
    if (E.isLeft(decoded)) throw new Error(decoded.left.message);
    const { input, ...params } = decoded.right as {
      input: { x: NdArray; h0: NdArray; c0: NdArray };
      lstm: layers.RecurrentParams;
      head: { weight: NdArray; bias: NdArray };
    };
    // Every key of torch's state_dict is a parameter path of ours, in the same order.
    expect(tree.flattenWithPath(params).map(([p]) => p)).toEqual(torchSide.keys);
    expect(tree.flattenWithPath(tagger.paramSpec()).map(([p]) => p)).toEqual(torchSide.keys);

    const [y, h, c] = tagger.apply(params, input.x, [input.h0, input.c0]);
    for (const [name, ours, theirs] of [
      ["output", y, torchSide.y],
      ["h_n", h, torchSide.h],
      ["c_n", c, torchSide.c],
    ] as const) {
      expect(ours.shape, name).toEqual(theirs.shape);
      const diff = np.max(np.abs(ours.sub(np.array(theirs.values).reshape(theirs.shape)))).item();
      expect(diff, name).toBeLessThan(2e-6);
    }
  });
});
