import { describe, expect, it } from "vitest";
import { lenet } from "../../docs/examples/lenet.js";
import { KERNEL_THRESHOLDS } from "../../src/backend/kernel-choice.js";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { threadsSupported } from "../../src/backend/wasm/threads.js";
import { fusedThresholds, wasmFusedCalls } from "../../src/compiler/fused-wasm.js";
import { programNames } from "../../src/core/ir.js";
import {
  backend,
  jit,
  type Array as NdArray,
  nn,
  np,
  optim,
  random,
  setBackend,
  tree,
  valueAndGrad,
} from "../../src/index.js";
import { countAllocatedBytes } from "../helpers/allocations.js";
import { expectClose } from "../helpers/numeric.js";

// The mission's training step: LeNet forward, MSE, backward and SGD with momentum, jitted once.
describe("a jitted LeNet training step in steady state", () => {
  const batch = 4;
  const x = random.normal(random.key(1), [batch, 1, 32, 32]);
  const target = random.normal(random.key(2), [batch, 10]);
  const optimizer = optim.sgd({ lr: 0.01, momentum: 0.9 });
  type Params = ReturnType<typeof lenet.init>;
  type State = ReturnType<typeof optimizer.init>;
  const loss = (p: Params, xb: NdArray, yb: NdArray) => nn.mseLoss(lenet.apply(p, xb), yb);

  /** The step carries the running loss sum in its (donated) state, as a metrics accumulator. */
  const step = (p: Params, s: State, lossSum: NdArray, xb: NdArray, yb: NdArray) => {
    const [value, grads] = valueAndGrad(loss)(p, xb, yb);
    const [updates, next] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), next, lossSum.add(value)] as const;
  };

  it("allocates no ArrayBuffer bytes when parameters, optimizer state and loss sum are donated", () => {
    const jitted = jit(step, { donateArgnums: [0, 1, 2] });
    let params = lenet.init(random.key(0));
    let state = optimizer.init(params);
    let lossSum = np.zeros([]);
    for (let i = 0; i < 3; i++) [params, state, lossSum] = jitted(params, state, lossSum, x, target);
    const bytes = countAllocatedBytes(() => {
      for (let i = 0; i < 5; i++) [params, state, lossSum] = jitted(params, state, lossSum, x, target);
    });
    expect(bytes).toBe(0);
    expect(jitted.cacheInfo().misses).toBe(1);
  });

  it("computes what the eager step computes", () => {
    const jitted = jit(step, { donateArgnums: [0, 1, 2] });
    let [pe, se, le] = [lenet.init(random.key(0)), null as State | null, np.zeros([])];
    se = optimizer.init(pe);
    let [pj, sj, lj] = [lenet.init(random.key(0)), optimizer.init(lenet.init(random.key(0))), np.zeros([])];
    for (let i = 0; i < 4; i++) {
      [pe, se, le] = step(pe, se, le, x, target);
      [pj, sj, lj] = jitted(pj, sj, lj, x, target);
    }
    // jit computes eager's bits (float32 rounds after every op in both; laws/jit-equivalence.test.ts).
    for (const [a, b] of [
      [lj, le],
      [pj.conv1.weight, pe.conv1.weight],
      [pj.conv2.weight, pe.conv2.weight],
      [pj.fc1.weight, pe.fc1.weight],
      [pj.fc3.bias, pe.fc3.bias],
    ] as const) {
      expect(Array.from(a.toTypedArray())).toEqual(Array.from(b.toTypedArray()));
    }
  });

  /** The printed plan of the step, with the direct forward convolution (wasm/direct-conv.ts) or im2col. */
  const lowered = (directConv: boolean) => {
    const params = lenet.init(random.key(0));
    KERNEL_THRESHOLDS.directConv = directConv;
    try {
      return jit(step, { donateArgnums: [0, 1, 2] }).lower(
        params,
        optimizer.init(params),
        np.zeros([]),
        x,
        target,
      );
    } finally {
      KERNEL_THRESHOLDS.directConv = true;
    }
  };

  it("with the direct convolution kernels, no convolution unrolls its input", () => {
    // The forward and the weight gradient read x in place (wasm/direct-conv.ts, direct-weight-grad.ts).
    const text = lowered(true).toString();
    expect(text).not.toMatch(/unrolled conv input/);
    expect(text).toMatch(/conv2d_weight_grad/);
  });

  it("shares each convolution's unrolled input between its im2col forward and weight gradient, in the printed plan", () => {
    const plan = lowered(false);
    const text = plan.toString();
    // conv1 unrolls the input images (25 taps x 4*28*28), conv2 the pooled activations (150 x 4*10*10);
    // the weight gradient reads the buffer its forward filled from the same value, at a later step.
    const shared = [
      ...text.matchAll(
        /^ {2}shared \d+ @\d+ (\d+) bytes, unrolled conv input float32\[(\d+),(\d+)\]: (.*)$/gm,
      ),
    ];
    expect(shared.map((m) => [m[2], m[3]])).toEqual([
      ["25", "3136"],
      ["150", "400"],
    ]);
    for (const [, bytes, k, np_, uses] of shared) {
      expect(Number(bytes)).toBe(Number(k) * Number(np_) * 4);
      const match =
        /^step (\d+) conv2d fills from (\w+), step (\d+) conv2d_weight_grad reads \((\w+)\)$/.exec(uses!);
      expect(match).not.toBeNull();
      const [, fillStep, filledFrom, readStep, readFrom] = match!;
      expect(Number(readStep)).toBeGreaterThan(Number(fillStep));
      expect(readFrom).toBe(filledFrom);
    }
    // conv1's input is the images: the plan's input x, second to last.
    const { program } = plan.executable;
    const xName = programNames(program).get(program.inputs[program.inputs.length - 2]!);
    expect(shared[0]![4]).toContain(`conv2d fills from ${xName},`);
  });

  it("computes the eager step's float64 parameters to 1e-12 with the shared unrolled inputs", () => {
    const f64 = (a: NdArray) => a.astype("float64");
    const [xs, ys] = [f64(x), f64(target)];
    const jitted = jit(step, { donateArgnums: [0, 1, 2] });
    let [pe, pj] = [tree.map(f64, lenet.init(random.key(0))), tree.map(f64, lenet.init(random.key(0)))];
    let [se, sj] = [optimizer.init(pe), optimizer.init(pj)];
    let [le, lj] = [np.zeros([], { dtype: "float64" }), np.zeros([], { dtype: "float64" })];
    for (let i = 0; i < 3; i++) {
      [pe, se, le] = step(pe, se, le, xs, ys);
      [pj, sj, lj] = jitted(pj, sj, lj, xs, ys);
    }
    expectClose(lj, le, 1e-12, 1e-14);
    expectClose(pj.conv1.weight, pe.conv1.weight, 1e-12, 1e-14);
    expectClose(pj.conv2.weight, pe.conv2.weight, 1e-12, 1e-14);
  });

  it.runIf(threadsSupported() && simdSupported())(
    "is bit-identical with its large loops split between threads or not (batch 64)",
    () => {
      const xs = random.normal(random.key(3), [64, 1, 32, 32]);
      const ys = random.normal(random.key(4), [64, 10]);
      const initial = fusedThresholds.threaded;
      const train = (threadedFrom: number) => {
        fusedThresholds.threaded = threadedFrom;
        try {
          setBackend("wasm", { threads: 2 });
          const jitted = jit(step, { donateArgnums: [0, 1, 2] });
          let [p, s, l] = [
            lenet.init(random.key(0)),
            optimizer.init(lenet.init(random.key(0))),
            np.zeros([]),
          ];
          const sums: number[] = [];
          for (let i = 0; i < 3; i++) {
            [p, s, l] = jitted(p, s, l, xs, ys);
            sums.push(l.item());
          }
          return { sums, weight: [...p.conv1.weight.toTypedArray()] };
        } finally {
          fusedThresholds.threaded = initial;
        }
      };
      const before = wasmFusedCalls.threaded;
      const split = train(initial);
      // The loops over [64, 6, 28, 28] (301k elements) are past the threshold: some ran split.
      expect(wasmFusedCalls.threaded).toBeGreaterThan(before);
      const whole = train(Number.POSITIVE_INFINITY);
      expect(split.sums).toEqual(whole.sums);
      expect(split.weight).toEqual(whole.weight);
    },
  );

  it.runIf(simdSupported()).each(["float64", "float32"] as const)(
    "trains bit-identically in %s on the WebAssembly and the JS kernels (20 steps, batch 16)",
    (dtype) => {
      // The kernels of both backends round every operation the same way (GEMMs sum in k order in the
      // output's precision, float32 ops are rounded per op, float32 exp/log/tanh/logistic are one
      // algorithm), so even a long chain of steps agrees to the last bit. With plain SIMD, that is: relaxed
      // SIMD's fused multiply-add (the default where the engine has it) rounds GEMMs once per step.
      const xs = random.normal(random.key(5), [16, 1, 32, 32]).astype(dtype);
      const ys = random.normal(random.key(6), [16, 10]).astype(dtype);
      const before = backend();
      const train = (kind: "js" | "wasm") => {
        setBackend(kind, kind === "wasm" ? { relaxedSimd: false } : {});
        const jitted = jit(step, { donateArgnums: [0, 1, 2] });
        let p = tree.map((a: NdArray) => a.astype(dtype), lenet.init(random.key(0)));
        let [s, l] = [optimizer.init(p), np.zeros([], { dtype })];
        const sums: number[] = [];
        for (let i = 0; i < 20; i++) {
          [p, s, l] = jitted(p, s, l, xs, ys);
          sums.push(l.item());
        }
        return { sums, conv1: [...p.conv1.weight.toTypedArray()], fc1: [...p.fc1.weight.toTypedArray()] };
      };
      try {
        const wasm = train("wasm");
        const js = train("js");
        expect(wasm.sums[19]).toBeLessThan(wasm.sums[9]! * 2); // it trained (the sum grows slower)
        expect(wasm.sums).toEqual(js.sums);
        expect(wasm.conv1).toEqual(js.conv1);
        expect(wasm.fc1).toEqual(js.fc1);
      } finally {
        if (before.name === "js") setBackend("js");
        else setBackend("wasm", { threads: before.threads, relaxedSimd: true });
      }
    },
  );
});
