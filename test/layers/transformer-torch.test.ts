/**
 * A PyTorch encoder-decoder transformer (Embedding, TransformerEncoder of 2 pre-norm gelu layers with a
 * final norm, a post-norm TransformerDecoderLayer, a MultiheadAttention and a Linear head, batch_first,
 * float64), its state_dict saved as safetensors by PyTorch's side (test/io/torch_interop.py), loads into the
 * same model built from layers and runs unchanged: same parameter paths, same output and attention weights.
 * Skipped (with the reason printed) when no Python here can import torch.
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
    "transformer torch interop skipped: no python3 here can `import torch` (apt-get install python3-torch)",
  );

const workDir = mkdtempSync(join(tmpdir(), "tracegrad-transformer-"));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

interface Values {
  shape: number[];
  values: number[];
}

describe("a PyTorch transformer state dict, as safetensors", () => {
  itWithTorch(
    "loads into transformerEncoder, transformerDecoderLayer and multiheadAttention and runs unchanged",
    () => {
      const path = join(workDir, "tiny-seq2seq.safetensors");
      const run = spawnSync(PYTHON!, [SCRIPT, "transformer", path], { encoding: "utf8", timeout: 120_000 });
      if (run.status !== 0) throw new Error(`python failed (${run.status}):\n${run.stderr}`);
      const torchSide = JSON.parse(run.stdout) as { keys: string[]; y: Values; weights: Values };

      // torch's TinySeq2Seq, layer for layer.
      const model = layers.named(
        {
          embed: layers.embedding(11, 8),
          encoder: layers.transformerEncoder(
            layers.transformerEncoderLayer(8, 2, {
              dimFeedforward: 16,
              batchFirst: true,
              normFirst: true,
              activation: "gelu",
            }),
            2,
            { norm: layers.layerNorm(8) },
          ),
          decoder: layers.transformerDecoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true }),
          attn: layers.multiheadAttention(8, 2, { batchFirst: true }),
          head: layers.linear(8, 11),
        },
        (m, [src, tgt, srcPadding]: [NdArray, NdArray, NdArray]) => {
          const memory = m.encoder(m.embed(src), { srcKeyPaddingMask: srcPadding });
          const out = m.decoder(m.embed(tgt), memory, {
            tgtIsCausal: true,
            memoryKeyPaddingMask: srcPadding,
          });
          const [, weights] = m.attn(out, memory, memory, { keyPaddingMask: srcPadding });
          return [m.head(out), weights!] as const;
        },
        { name: "TinySeq2Seq", inputs: ["src", "tgt", "src_padding"] },
      );
      const decoded = io.safetensors.decodeTree(readFileSync(path));
      if (E.isLeft(decoded)) throw new Error(decoded.left.message);
      const { input, ...params } = decoded.right as {
        input: { src: NdArray; tgt: NdArray; src_padding: NdArray };
      } & Record<string, never>;
      // Every key of torch's state_dict is a parameter path of ours, in the same order.
      expect(tree.flattenWithPath(params).map(([p]) => p)).toEqual(torchSide.keys);
      expect(tree.flattenWithPath(model.paramSpec()).map(([p]) => p)).toEqual(torchSide.keys);
      expect(input.src_padding.dtype).toBe("bool");

      const [y, weights] = model.apply(params as never, input.src, input.tgt, input.src_padding);
      for (const [name, ours, theirs] of [
        ["output", y, torchSide.y],
        ["weights", weights, torchSide.weights],
      ] as const) {
        expect(ours.shape, name).toEqual(theirs.shape);
        expect(ours.dtype, name).toBe("float64");
        const diff = np
          .max(np.abs(ours.sub(np.array(theirs.values, { dtype: "float64" }).reshape(theirs.shape))))
          .item();
        expect(diff, name).toBeLessThan(1e-12);
      }
    },
  );
});
