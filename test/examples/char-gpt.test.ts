/**
 * docs/examples/char-gpt.ts on a tiny configuration: the model is causal, the weight decay skips what
 * GPT recipes skip, a few steps lower the loss, and the run ends with the promised line. (The ten-minute
 * run itself is `npm run gpt`; its figures are in data/text/README.md.)
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import {
  charGpt,
  defaultOptions,
  gpt2Init,
  gptOptimizer,
  makeCorpus,
  train,
  unigramBaseline,
} from "../../docs/examples/char-gpt.js";
import { type NdArray, np, random, testing, tree } from "../../src/index.js";

const outDir = mkdtempSync(join(tmpdir(), "tracegrad-char-gpt-"));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const tiny = { vocabSize: 11, contextLength: 8, width: 16, layers: 2, heads: 2 };

describe("docs/examples/char-gpt.ts", () => {
  it("predicts each position from the characters up to it only (the attention is causal)", () => {
    const model = charGpt(tiny);
    const params = gpt2Init(model.init(random.key(0)), random.key(1), tiny);
    const a = np.array([[1, 2, 3, 4, 5, 6, 7, 8]], { dtype: "int32" });
    const b = np.array([[1, 2, 3, 4, 10, 0, 9, 9]], { dtype: "int32" });
    const [la, lb] = [model.apply(params, a), model.apply(params, b)];
    const firstFour = (x: NdArray) => np.slice(x, [{}, { stop: 4 }]);
    const fromFifth = (x: NdArray) => np.slice(x, [{}, { start: 4 }]);
    expect(la.shape).toEqual([1, 8, 11]);
    testing.assertAllClose(firstFour(la), firstFour(lb), { rtol: 0, atol: 1e-6 });
    // A changed character changes the predictions from its position on.
    expect(np.max(np.abs(np.subtract(fromFifth(la), fromFifth(lb)))).item()).toBeGreaterThan(1e-4);
  });

  it("decays the weight matrices only: not biases, norms or the embedding tables", () => {
    const model = charGpt(tiny);
    const params = model.init(random.key(0));
    // Every update of a params tree of zeros with zero gradients is -lr * wd * p = 0; with ones it is
    // -lr * wd where decayed and exactly 0 elsewhere (Adam's step of a zero gradient is 0).
    const ones = tree.map((p: NdArray) => np.onesLike(p), params);
    const opt = gptOptimizer({ lr: 0.5, weightDecay: 0.1, clip: 1 });
    const [updates] = opt.update(tree.zerosLike(ones), opt.init(ones), ones);
    const decayed = tree
      .flattenWithPath(updates)
      .filter(([, u]) => np.max(np.abs(u)).item() > 0)
      .map(([path]) => path);
    expect(decayed).toEqual([
      "h0.attn.weight",
      "h0.proj.weight",
      "h0.fc.weight",
      "h0.fcProj.weight",
      "h1.attn.weight",
      "h1.proj.weight",
      "h1.fc.weight",
      "h1.fcProj.weight",
      "head.weight",
    ]);
    const [, u] = tree.flattenWithPath(updates).find(([path]) => path === "head.weight")!;
    testing.assertAllClose(u, np.full(u.shape, -0.05), { rtol: 1e-6, atol: 0 });
  });

  it("computes the unigram baseline as the held-out cross-entropy of the training frequencies", () => {
    const corpus = makeCorpus("abababababaaab", 2 / 14);
    expect(corpus.alphabet).toEqual(["a", "b"]);
    expect([...corpus.validation]).toEqual([0, 1]);
    // Training text "abababababaa": 7 a, 5 b; add-one smoothed 8/14 and 6/14.
    expect(unigramBaseline(corpus)).toBeCloseTo(-(Math.log(8 / 14) + Math.log(6 / 14)) / 2, 12);
  });

  it("lowers the loss in a few steps on a tiny model and ends with the validation line", async () => {
    const written: string[] = [];
    const write = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    let result: Awaited<ReturnType<typeof train>>;
    try {
      result = await train({
        ...defaultOptions,
        contextLength: 16,
        width: 32,
        layers: 2,
        heads: 2,
        batchSize: 8,
        steps: 40,
        evalEvery: 20,
        evalBatches: 1,
        sampleLength: 30,
        lr: 1e-2,
        outDir,
      });
    } finally {
      write.mockRestore();
    }
    expect(result.steps).toBe(40);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    // From about log(75) = 4.3 nats at the start to well below the first steps' mean.
    expect(mean(result.losses.slice(-5))).toBeLessThan(mean(result.losses.slice(0, 5)) - 0.5);
    expect(result.validation.map(([step]) => step)).toEqual([20, 40]);
    expect(result.validationLoss).toBeLessThan(mean(result.losses.slice(0, 5)));
    expect(result.sample).toHaveLength(8 + 30); // the prompt (half a context) and the sampled characters
    const log = written.join("");
    const lines = log.trimEnd().split("\n");
    expect(lines[lines.length - 1]).toBe(
      `validation loss ${result.validationLoss.toFixed(3)} nats/char (unigram baseline ${result.unigram.toFixed(3)})`,
    );
    expect(lines[lines.length - 1]).toMatch(
      /^validation loss \d\.\d{3} nats\/char \(unigram baseline \d\.\d{3}\)$/,
    );
    const svg = readFileSync(join(outDir, "char-gpt-curves.svg"), "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("validation loss");
  });
});
