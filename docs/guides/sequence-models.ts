/**
 * The code of sequence-models.md: embeddings, norms, attention and its masks, a transformer block as a
 * `named` model, recurrent layers, the optimizer pieces a transformer is trained with, and sampling.
 * test/examples/guides.test.ts runs every function and checks what the guide says of its result.
 */
import { grad, jit, layers, type NdArray, nn, np, optim, random, scan, tree, valueAndGrad } from "tracegrad";
import {
  charGpt,
  gpt2Init,
  gptLoss,
  gptOptimizer,
  makeCorpus,
  makeTrainStep,
  withLearningRate,
} from "../examples/char-gpt.js";

export function embeddings() {
  // torch.nn.Embedding(10, 4): a table weight [10, 4], N(0, 1) at init, looked up by int32 indices.
  const embed = layers.embedding(10, 4);
  const params = embed.init(random.key(0)); // { weight: [10, 4] }
  const tokens = np.array(
    [
      [1, 2, 3],
      [3, 0, 9],
    ],
    { dtype: "int32" },
  );
  const vectors = embed.apply(params, tokens); // [2, 3, 4]: a row of the table per token
  // The function, with PyTorch's padding_idx: row 0's lookups pass no gradient to it.
  const padded = (w: NdArray) => np.sum(nn.embedding(w, tokens, { paddingIdx: 0 }));
  const [, tableGrad] = valueAndGrad(padded)(params.weight); // row 0 zero; row 3 counted twice
  return { vectors, tableGrad };
}

export function norms() {
  const x = random.normal(random.key(1), [2, 5, 8]);
  // torch.nn.LayerNorm(8): weight ones, bias zeros, statistics over the last axis.
  const ln = layers.layerNorm(8);
  const y = ln.apply(ln.init(random.key(2)), x); // each [.., 8] row: mean 0, variance 1
  // The functions, with the affine parameters as options.
  const scaled = nn.layerNorm(x, 8, { weight: np.full([8], 2), bias: np.zeros([8]) });
  const rms = nn.rmsNorm(x, 8); // x / sqrt(mean(x²) + eps), eps torch.finfo(float32).eps by default
  return { x, y, scaled, rms };
}

export function attention() {
  const [qKey, kKey, vKey] = random.split(random.key(3), 3);
  const q = random.normal(qKey!, [2, 4, 6, 8]); // [batch, heads, L, E]
  const k = random.normal(kKey!, [2, 4, 6, 8]); // [batch, heads, S, E]
  const v = random.normal(vKey!, [2, 4, 6, 8]);
  // softmax(q kᵀ / sqrt(E)) v, each query seeing only the keys at or before it.
  const causal = nn.scaledDotProductAttention(q, k, v, { isCausal: true }); // [2, 4, 6, 8]
  // The same with an explicit bool mask: true where attending is allowed (F.scaled_dot_product_attention).
  const allowed = np.tril(np.ones([6, 6], { dtype: "bool" }));
  const masked = nn.scaledDotProductAttention(q, k, v, { mask: allowed });
  // The first query sees only the first key, so its output is the first value.
  const firstRow = np.slice(causal, [{}, {}, { stop: 1 }]);
  const firstValue = np.slice(v, [{}, {}, { stop: 1 }]);
  return { q, k, v, causal, masked, firstRow, firstValue };
}

export function multiHead() {
  const e = 8;
  const heads = 2;
  const [xKey, wKey, oKey] = random.split(random.key(4), 3);
  const x = random.normal(xKey!, [3, 5, e]); // [N, L, E] with batchFirst
  const weights = {
    inProjWeight: np.multiply(random.normal(wKey!, [3 * e, e]), 0.3), // rows: query, key, value
    outProjWeight: np.multiply(random.normal(oKey!, [e, e]), 0.3),
  };
  // PyTorch's masks for this function: true means NOT allowed. Key 4 of the first sequence is padding.
  const keyPaddingMask = np.array(
    [
      [false, false, false, false, true],
      [false, false, false, false, false],
      [false, false, false, false, false],
    ],
    { dtype: "bool" },
  );
  const [out, attnWeights] = nn.multiHeadAttention(x, x, x, weights, {
    numHeads: heads,
    batchFirst: true,
    keyPaddingMask,
  });
  // out [3, 5, 8]; attnWeights [3, 5, 5], averaged over the heads; column 4 of sequence 0 is all zeros.
  const paddedColumn = np.slice(attnWeights!, [{ stop: 1 }, {}, { start: 4 }]);
  return { out, attnWeights: attnWeights!, paddedColumn };
}

/** One pre-norm transformer block (GPT-2's), as docs/examples/char-gpt.ts builds it. */
export function transformerBlock(width: number, heads: number) {
  const headSize = width / heads;
  return layers.named(
    {
      ln1: layers.layerNorm(width),
      attn: layers.linear(width, 3 * width), // q, k and v in one projection
      proj: layers.linear(width, width),
      ln2: layers.layerNorm(width),
      fc: layers.linear(width, 4 * width),
      fcProj: layers.linear(4 * width, width),
    },
    (m, x) => {
      const [b, t] = x.shape as [number, number, number];
      const [q, k, v] = np
        .split(m.attn(m.ln1(x)), 3, { axis: -1 })
        .map((a) => np.transpose(np.reshape(a, [b, t, heads, headSize]), [0, 2, 1, 3])) as [
        NdArray,
        NdArray,
        NdArray,
      ];
      const attended = nn.scaledDotProductAttention(q, k, v, { isCausal: true });
      const merged = np.reshape(np.transpose(attended, [0, 2, 1, 3]), [b, t, width]);
      const h = np.add(x, m.proj(merged));
      return np.add(h, m.fcProj(nn.gelu(m.fc(m.ln2(h)), { approximate: "tanh" })));
    },
    { name: "Block" },
  );
}

export function blockInUse() {
  const block = transformerBlock(16, 4);
  const params = block.init(random.key(5));
  const x = random.normal(random.key(6), [2, 10, 16]);
  const y = block.apply(params, x); // [2, 10, 16]
  const names = tree.flattenWithPath(params).map(([path]) => path); // "ln1.weight", "attn.weight", ...
  return { y, names, summary: layers.summary(block, params) };
}

export function recurrent() {
  // torch.nn.LSTM(8, 16, num_layers=2, batch_first=True): PyTorch's weight names and gate order.
  const lstm = layers.lstm(8, 16, { numLayers: 2, batchFirst: true });
  const params = lstm.init(random.key(7)); // weight_ih_l0 [64, 8], weight_hh_l0 [64, 16], ...
  const x = random.normal(random.key(8), [3, 12, 8]); // [N, L, features]
  const [out, [hN, cN]] = lstm.apply(params, x); // out [3, 12, 16]; hN and cN [2, 3, 16]
  // Continue from that carry on the next chunk, as PyTorch's lstm(x, (h, c)).
  const [next] = lstm.apply(params, x, [hN, cN]);
  // A GRU's carry is one array; jitted, each layer is one compiled loop over time (a scan).
  const gru = layers.gru(8, 16, { batchFirst: true });
  const gruParams = gru.init(random.key(9));
  const [gruOut, gruH] = jit((p: typeof gruParams, input: NdArray) => gru.apply(p, input))(gruParams, x);
  return { out, hN, cN, next, gruOut, gruH, names: Object.keys(params) };
}

export async function recurrentOnOnnxRuntime() {
  const lstm = layers.lstm(8, 16);
  const params = lstm.init(random.key(12));
  const [xKey, yKey] = random.split(random.key(13), 2);
  const x = random.normal(xKey!, [20, 4, 8]); // [time, batch, features]
  const y = random.normal(yKey!, [20, 4, 16]);
  const sgd = optim.sgd({ lr: 0.1 });
  const loss = (p: typeof params) => nn.mseLoss(lstm.apply(p, x)[0], y);
  const step = (p: typeof params) => {
    const [value, grads] = valueAndGrad(loss)(p);
    const [updates] = sgd.update(grads, sgd.init(p), p);
    return [optim.applyUpdates(p, updates), value] as const;
  };
  // The same step on ONNX Runtime's native kernels: one session per signature, a Promise per call.
  const onOrt = jit(step, { backend: "onnxruntime" });
  const [ortParams, ortLoss] = await onOrt(params);
  const [wasmParams, wasmLoss] = jit(step)(params); // the default backend, for comparison
  await onOrt.release(); // the sessions' native memory, when the function is no longer needed
  return { ortParams, ortLoss, wasmParams, wasmLoss };
}

export function scanLoop() {
  const [wKey, uKey, xKey] = random.split(random.key(11), 3);
  const w = np.multiply(random.normal(wKey!, [4, 3]), 0.5); // input -> hidden
  const u = np.multiply(random.normal(uKey!, [4, 4]), 0.5); // hidden -> hidden
  const xs = random.normal(xKey!, [7, 2, 3]); // [time, batch, features]: scan runs over axis 0
  // An Elman RNN by hand: the body maps (carry, x_t) to (next carry, output at t).
  const cell = (h: NdArray, x: NdArray): [NdArray, NdArray] => {
    const next = np.tanh(np.add(np.matmul(x, w.T), np.matmul(h, u.T)));
    return [next, next];
  };
  const rnn = (inputs: NdArray) => scan(cell, np.zeros([2, 4]), inputs);
  const [hLast, hs] = rnn(xs); // hLast [2, 4]; hs [7, 2, 4], the carry after every step
  // Jitted, the loop is one compiled loop whatever the length; its gradient is a reverse scan.
  const [jitLast] = jit(rnn)(xs);
  const gradXs = grad((input: NdArray) => np.sum(rnn(input)[1]))(xs); // [7, 2, 3]
  return { w, xs, hLast, hs, jitLast, gradXs };
}

export function optimizerPieces() {
  const params = {
    wte: { weight: np.ones([10, 4]) },
    fc: { weight: np.ones([4, 4]), bias: np.ones([4]) },
    ln: { weight: np.ones([4]), bias: np.zeros([4]) },
  };
  // Which params decay: matrices only, and not the embedding table (nanoGPT's groups).
  const mask = optim.decayMask(params, { exclude: /^wte\./ });
  // { wte: { weight: false }, fc: { weight: true, bias: false }, ln: { weight: false, bias: false } }
  const schedule = optim.schedules.warmupCosineDecay({
    peak: 3e-3,
    warmupSteps: 100,
    decaySteps: 2000,
    end: 3e-4,
  });
  const optimizer = optim.chain(
    optim.clipByGlobalNorm(1),
    optim.adamw({
      lr: schedule,
      weightDecay: 0.1,
      mask: (p: typeof params) => optim.decayMask(p, { exclude: /^wte\./ }),
    }),
  );
  const state = optimizer.init(params);
  // Gradient accumulation: the inner optimizer steps once every 4 calls, with the mean gradient.
  const accumulated = optim.multiSteps(optimizer, 4);
  // An exponential moving average of the params, updated after each step, for evaluation.
  const average = optim.emaParams(0.999);
  const emaState = average.init(params);
  return { mask, lrAt: [schedule(0), schedule(100), schedule(2000)], state, accumulated, emaState };
}

export function changingTheLearningRate() {
  const params = { w: np.ones([3]) };
  // The lr lives in the state as a scalar array: change it between steps without retracing the step.
  const optimizer = optim.injectHyperparams(optim.adamw)({ lr: 1e-3, weightDecay: 0.1 });
  let state = optimizer.init(params);
  state = { ...state, hyperparams: { ...state.hyperparams, lr: np.array(5e-4, { dtype: "float64" }) } };
  const [updates] = optimizer.update({ w: np.ones([3]) }, state, params);
  return { lr: state.hyperparams.lr!.item(), updates };
}

export function sampling() {
  const logits = np.array([2, 1, 0.5, -1, -3]);
  const key = random.key(10);
  // One draw from softmax(logits / temperature): below 1 sharpens the distribution.
  const draw = random.categorical(key, logits, { temperature: 0.8 });
  // Keep the 2 most likely (the rest become -inf, never drawn), or the smallest set with 90% of the mass.
  const topK = random.topKFilter(logits, 2);
  const topP = random.topPFilter(logits, 0.9);
  const draws = random.categorical(key, topK, { shape: [1000] }); // only 0 and 1
  // Temperature 0 is greedy decoding: the argmax.
  const greedy = random.categorical(key, logits, { temperature: 0 });
  return { draw, topK, topP, draws, greedy };
}

export function trainingAGpt() {
  const sentence = "It is a truth universally acknowledged, that a single man must be in want of a wife. ";
  const text = sentence.repeat(30);
  const corpus = makeCorpus(text); // the alphabet, and the text as int32 codes: 90% train, 10% held out
  const config = { vocabSize: corpus.alphabet.length, contextLength: 16, width: 32, layers: 2, heads: 2 };
  const model = charGpt(config); // wte, wpe, h0, h1 (blocks as above), lnF, head
  const params = gpt2Init(model.init(random.key(12)), random.key(13), config);
  const optimizer = gptOptimizer({ lr: 3e-3, weightDecay: 0.1, clip: 1 });
  // One jitted step: loss, gradient, clipping, AdamW, new params. Params and state are donated: their
  // buffers are reused for the outputs, so the old ones must not be read again.
  const step = jit(makeTrainStep(gptLoss(model, config), optimizer), { donateArgnums: [0, 1] });
  let [p, s] = [params, optimizer.init(params)];
  const losses: number[] = [];
  for (let i = 0; i < 30; i++) {
    s = withLearningRate(s, 3e-3 * Math.min(1, (i + 1) / 5)); // a warm-up, set from the host
    const starts = random.randint(random.key(100 + i), [8], 0, corpus.train.length - 17).toTypedArray();
    const x = np.stack([...starts].map((j) => np.array(corpus.train.subarray(j, j + 16))));
    const y = np.stack([...starts].map((j) => np.array(corpus.train.subarray(j + 1, j + 17))));
    let loss: NdArray;
    [p, s, loss] = step(p, s, x, y);
    losses.push(loss.item());
  }
  return { losses, alphabet: corpus.alphabet, params: p };
}
