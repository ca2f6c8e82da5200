/**
 * fuseOnnxGraph (compiler/onnx-fuse.ts), the exporter's peephole pass: matrix products become Gemms that
 * absorb operand and result transposes, a scalar factor (alpha) and an addend (C); broadcasts are skipped
 * where ONNX broadcasts by itself; dead nodes go. Each case checks the rewritten graph's node types and
 * its numbers in ONNX Runtime (its own optimizations off) against tracegrad, float32 and float64.
 */
import { describe, expect, it } from "vitest";
import { ONNX_OPSET, programToOnnxGraph } from "../../src/compiler/onnx-export.js";
import { fuseOnnxGraph } from "../../src/compiler/onnx-fuse.js";
import { encodeModel, type GraphData } from "../../src/compiler/onnx-model.js";
import { optimize } from "../../src/compiler/passes.js";
import {
  grad,
  jit,
  lax,
  layers,
  type NdArray,
  nn,
  np,
  optim,
  random,
  valueAndGrad,
  vjp,
} from "../../src/index.js";
import { makeProgram } from "../../src/transforms/make-program.js";
import { runOnnx } from "./ort.js";

type Float = "float32" | "float64";
const TOLERANCE: Record<Float, number> = { float32: 1e-5, float64: 1e-13 };

function normal(seed: number, shape: number[], dtype: Float): NdArray {
  return random.normal(random.key(seed), shape, { dtype });
}

/** The fused graph of `f` on `args`, and its outputs in ONNX Runtime checked against `f`'s. */
async function fusedInOrt(
  f: (...args: NdArray[]) => NdArray | NdArray[],
  args: NdArray[],
  dtype: Float,
): Promise<GraphData> {
  const traced = makeProgram(f)(...args);
  const graph = fuseOnnxGraph(programToOnnxGraph(traced.program, traced.consts));
  const outs = await runOnnx(encodeModel(graph, ONNX_OPSET, "test"), args);
  const result = f(...args);
  const expected = Array.isArray(result) ? result : [result];
  expect(outs.length).toBe(expected.length);
  outs.forEach((o, i) => {
    const e = expected[i]!;
    expect(o.shape).toEqual(e.shape);
    expect(o.dtype).toBe(e.dtype);
    const scale = Math.max(1, np.max(np.abs(e)).item());
    expect(np.max(np.abs(np.subtract(o, e))).item() / scale).toBeLessThan(TOLERANCE[dtype]);
  });
  return graph;
}

const opTypes = (g: GraphData) => g.nodes.map((n) => n.opType).filter((t) => t !== "Identity");
const gemms = (g: GraphData) => g.nodes.filter((n) => n.opType === "Gemm");

describe("fuseOnnxGraph", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`folds operand transposes into transA/transB, ${dtype}`, async () => {
      const a = normal(1, [5, 3], dtype);
      const b = normal(2, [4, 5], dtype);
      const g = await fusedInOrt((x, y) => np.matmul(np.transpose(x), np.transpose(y)), [a, b], dtype);
      expect(opTypes(g)).toEqual(["Gemm"]);
      expect(gemms(g)[0]!.attributes).toEqual({ transA: 1, transB: 1 });
    });

    it(`folds a transposed result by swapping the operands, ${dtype}`, async () => {
      const a = normal(3, [6, 4], dtype);
      const b = normal(4, [4, 3], dtype);
      const g = await fusedInOrt((x, y) => np.transpose(np.matmul(x, y)), [a, b], dtype);
      expect(opTypes(g)).toEqual(["Gemm"]);
      expect(gemms(g)[0]!.inputs).toEqual(["input_1", "input_0"]);
      expect(gemms(g)[0]!.attributes).toEqual({ transA: 1, transB: 1 });
    });

    it(`folds a bias added to the product as C, without materialising its broadcast, ${dtype}`, async () => {
      const x = normal(5, [7, 4], dtype);
      const w = normal(6, [3, 4], dtype);
      const b = normal(7, [3], dtype);
      const g = await fusedInOrt(
        (xs, ws, bs) => nn.relu(np.add(np.matmul(xs, np.transpose(ws)), bs)),
        [x, w, b],
        dtype,
      );
      expect(opTypes(g)).not.toContain("Expand");
      expect(opTypes(g)).not.toContain("Transpose");
      expect(gemms(g)).toHaveLength(1);
      expect(gemms(g)[0]!.inputs.slice(0, 2)).toEqual(["input_0", "input_1"]);
      expect(gemms(g)[0]!.inputs).toHaveLength(3);
    });

    it(`folds an SGD update w - lr * xᵀ dy into one Gemm (alpha, C), ${dtype}`, async () => {
      const w = normal(8, [4, 3], dtype);
      const x = normal(9, [6, 4], dtype);
      const dy = normal(10, [6, 3], dtype);
      // 0.5 is exact in float32: alpha, a float32 attribute, holds it in float64 too.
      const g = await fusedInOrt(
        (ws, xs, dys) => np.subtract(ws, np.multiply(np.matmul(np.transpose(xs), dys), 0.5)),
        [w, x, dy],
        dtype,
      );
      expect(opTypes(g)).toEqual(["Gemm"]);
      expect(gemms(g)[0]!.attributes).toEqual({ transA: 1, transB: 0, alpha: { float: -0.5 } });
      expect(gemms(g)[0]!.inputs).toEqual(["input_1", "input_2", "input_0"]);
    });

    it(`keeps a broadcast that gives a node its shape, ${dtype}`, async () => {
      const row = normal(11, [1, 3], dtype);
      const cell = normal(12, [1, 1], dtype);
      const g = await fusedInOrt((r, c) => np.add(np.broadcastTo(r, [4, 3]), c), [row, cell], dtype);
      expect(opTypes(g)).toContain("Expand");
    });

    it(`a gradient step of an MLP keeps its numbers and loses its transposes, ${dtype}`, async () => {
      const loss = (w1: NdArray, w2: NdArray, x: NdArray, y: NdArray) =>
        np.mean(
          np.square(np.subtract(np.matmul(nn.relu(np.matmul(x, np.transpose(w1))), np.transpose(w2)), y)),
        );
      const step = (w1: NdArray, w2: NdArray, x: NdArray, y: NdArray) => {
        const [g1, g2] = grad(loss, { argnums: [0, 1] })(w1, w2, x, y) as [NdArray, NdArray];
        return [np.subtract(w1, np.multiply(g1, 0.25)), np.subtract(w2, np.multiply(g2, 0.25))];
      };
      const args = [
        normal(13, [8, 5], dtype),
        normal(14, [3, 8], dtype),
        normal(15, [6, 5], dtype),
        normal(16, [6, 3], dtype),
      ];
      const g = await fusedInOrt(step, args, dtype);
      expect(opTypes(g)).not.toContain("Transpose");
      expect(gemms(g).length).toBeGreaterThanOrEqual(4);
    });
  }

  it("folds a convolution's bias into the Conv, and reads a broadcast scalar as a rank-0 constant", async () => {
    const x = normal(22, [2, 3, 8, 8], "float32");
    const w = normal(23, [4, 3, 3, 3], "float32");
    const b = normal(24, [4], "float32");
    const g = await fusedInOrt((xs, ws, bs) => nn.relu(nn.conv2d(xs, ws, bs)), [x, w, b], "float32");
    expect(opTypes(g)).toEqual(["Conv", "LessOrEqual", "Where"]);
    expect(g.nodes[0]!.inputs).toEqual(["input_0", "input_1", "input_2"]);
    const zero = g.nodes[1]!.inputs[1]!;
    expect(g.initializers.find((t) => t.name === zero)?.shape).toEqual([]);
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`pools before a ReLU that only the pooling reads, ${dtype}`, async () => {
      const x = normal(25, [2, 3, 6, 6], dtype);
      const g = await fusedInOrt((xs) => nn.maxPool2d(nn.relu(xs), 2), [x], dtype);
      const ops = opTypes(g);
      expect(ops.indexOf("MaxPool")).toBeGreaterThanOrEqual(0);
      expect(ops.indexOf("MaxPool")).toBeLessThan(ops.indexOf("Where"));
    });
  }

  it("keeps a ReLU before the pooling when its mask is read elsewhere (a gradient)", async () => {
    const x = normal(26, [1, 2, 4, 4], "float32");
    const g = await fusedInOrt(
      (xs) => {
        const [y, pullback] = vjp((v: NdArray) => nn.maxPool2d(nn.relu(v), 2), xs);
        return [y, pullback(np.onesLike(y))[0]!];
      },
      [x],
      "float32",
    );
    const ops = opTypes(g);
    expect(ops.indexOf("Where")).toBeLessThan(ops.indexOf("MaxPool"));
  });

  it("leaves a float64 factor that float32 cannot hold as a multiplication", async () => {
    const w = normal(17, [4, 3], "float64");
    const x = normal(18, [6, 4], "float64");
    const dy = normal(19, [6, 3], "float64");
    const g = await fusedInOrt(
      (ws, xs, dys) => np.subtract(ws, np.multiply(np.matmul(np.transpose(xs), dys), 0.1)),
      [w, x, dy],
      "float64",
    );
    expect(opTypes(g)).toContain("Mul");
    expect(gemms(g)[0]!.attributes.alpha).toBeUndefined();
  });

  it("leaves a product read twice unfused beyond its operands", async () => {
    const a = normal(20, [3, 4], "float32");
    const b = normal(21, [4, 2], "float32");
    const g = await fusedInOrt(
      (x, y) => {
        const p = np.matmul(x, y);
        return [np.add(p, 1), np.multiply(p, 2)];
      },
      [a, b],
      "float32",
    );
    expect(opTypes(g)).toContain("MatMul");
    expect(opTypes(g)).toContain("Add");
  });
});

/** The op types of the first body of a node of `opType` in `g`. */
function bodyOps(g: GraphData, opType: string): string[] {
  const node = g.nodes.find((n) => n.opType === opType);
  const body = node && (node.attributes.body as { graph: GraphData } | undefined);
  if (!body) throw new Error(`no ${opType} with a body`);
  return body.graph.nodes.map((n) => n.opType);
}

describe("fuseOnnxGraph inside loop bodies", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`skips broadcasts and forms Gemms in a Scan body, ${dtype}`, async () => {
      // The body's scalars (0.5, 1) are broadcasts, and h·wᵀ + b a product with a transpose and an addend.
      const f = (h0: NdArray, xs: NdArray, w: NdArray, b: NdArray) =>
        lax.scan(
          (h: NdArray, x: NdArray) => {
            const next = np.tanh(np.add(np.add(np.matmul(h, np.transpose(w)), b), np.multiply(x, 0.5)));
            return [next, np.subtract(1, np.square(next))] as [NdArray, NdArray];
          },
          h0,
          xs,
        );
      const args = [
        normal(40, [3, 4], dtype),
        normal(41, [6, 3, 4], dtype),
        normal(42, [4, 4], dtype),
        normal(43, [4], dtype),
      ];
      const g = await fusedInOrt((...a) => f(a[0]!, a[1]!, a[2]!, a[3]!), args, dtype);
      const ops = bodyOps(g, "Scan");
      expect(ops).not.toContain("Expand");
      expect(ops).not.toContain("Transpose");
      expect(ops).toContain("Gemm");
    });
  }

  it("writes a body's computed values as its outputs, an input or a value output twice through an Identity", () => {
    const f = (h0: NdArray, xs: NdArray) =>
      lax.scan(
        (h: NdArray, x: NdArray) => {
          const next = np.add(h, x);
          return [next, [next, h]] as [NdArray, NdArray[]];
        },
        h0,
        xs,
      );
    const traced = makeProgram((a: NdArray, b: NdArray) => f(a, b).flat())(
      normal(1, [2], "float32"),
      normal(2, [5, 2], "float32"),
    );
    const ops = bodyOps(programToOnnxGraph(traced.program, traced.consts), "Scan");
    // next: the carry (as computed), again as a row (Identity); h: an input (Identity).
    expect(ops.filter((t) => t === "Identity")).toHaveLength(2);
  });

  it("optimizes loop bodies when asked: an LSTM's reverse scan sums its gate gradients as one Concat", () => {
    const model = layers.lstm(4, 4);
    const params = model.init(random.key(0));
    const xs = normal(3, [5, 2, 4], "float32");
    const loss = (p: typeof params) => np.sum(np.square(model.apply(p, xs)[0]));
    const traced = makeProgram((p: typeof params) => grad(loss)(p))(params);
    const top = optimize({ program: traced.program, consts: traced.consts });
    const asTraced = programToOnnxGraph(top.program, top.consts);
    const optimized = programToOnnxGraph(top.program, top.consts, { optimizeSubprogram: optimize });
    const reverseBody = (g: GraphData) => {
      const scans = g.nodes.filter((n) => n.opType === "Scan");
      return bodyOps({ ...g, nodes: [scans.at(-1)!] }, "Scan");
    };
    expect(reverseBody(asTraced)).toContain("Pad");
    expect(reverseBody(optimized)).not.toContain("Pad");
    expect(reverseBody(optimized)).toContain("Concat");
  });
});

describe('jit(f, { backend: "onnxruntime" }) on the optimized, fused program', () => {
  it("an LSTM train step (two scans) equals the default backend, float64", async () => {
    const model = layers.lstm(6, 5);
    const optimizer = optim.sgd({ lr: 0.1 });
    type Params = ReturnType<typeof model.init>;
    const loss = (p: Params, x: NdArray, y: NdArray) => nn.mseLoss(model.apply(p, x)[0], y);
    const step = (p: Params, x: NdArray, y: NdArray) => {
      const [value, grads] = valueAndGrad(loss)(p, x, y);
      const [updates] = optimizer.update(grads, optimizer.init(p), p);
      return [optim.applyUpdates(p, updates), value] as const;
    };
    const params = model.init(random.key(4));
    const f64 = (a: NdArray) => a.astype("float64");
    const p64 = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, f64(v)])) as Params;
    const x = normal(5, [7, 3, 6], "float64");
    const y = normal(6, [7, 3, 5], "float64");
    const ort = jit(step, { backend: "onnxruntime", threads: 1 });
    const [gotParams, gotLoss] = await ort(p64, x, y);
    const [wantParams, wantLoss] = jit(step)(p64, x, y);
    expect(Math.abs(gotLoss.item() - wantLoss.item())).toBeLessThan(1e-12);
    for (const k of Object.keys(wantParams) as (keyof Params)[]) {
      expect(np.max(np.abs(np.subtract(gotParams[k]!, wantParams[k]!))).item()).toBeLessThan(1e-12);
    }
    await ort.release();
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`an MLP train step with biases equals the default backend, ${dtype}`, async () => {
      const loss = (p: NdArray[], x: NdArray, y: NdArray) => {
        const h = nn.relu(np.add(np.matmul(x, np.transpose(p[0]!)), p[1]!));
        return nn.crossEntropy(np.add(np.matmul(h, np.transpose(p[2]!)), p[3]!), y);
      };
      const step = (p: NdArray[], x: NdArray, y: NdArray) => {
        const gs = grad(loss)(p, x, y) as NdArray[];
        return p.map((q, i) => np.subtract(q, np.multiply(gs[i]!, 0.01)));
      };
      const params = [
        normal(30, [16, 12], dtype),
        normal(31, [16], dtype),
        normal(32, [5, 16], dtype),
        normal(33, [5], dtype),
      ];
      const x = normal(34, [9, 12], dtype);
      const y = random.randint(random.key(35), [9], 0, 5);
      const ort = jit(step, { backend: "onnxruntime", threads: 1 });
      const got = await ort(params, x, y);
      const want = jit(step)(params, x, y);
      got.forEach((g, i) => {
        expect(g.shape).toEqual(want[i]!.shape);
        expect(np.max(np.abs(np.subtract(g, want[i]!))).item()).toBeLessThan(TOLERANCE[dtype] * 10);
      });
      await ort.release();
    });
  }
});
