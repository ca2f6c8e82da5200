/**
 * The tutorial's LeNet and the FizzBuzz MLP built from layers, against PyTorch (float64): output, MSE
 * loss, the gradient of the loss for every parameter, and (LeNet) for the input. Also: evaluating the
 * traced program gives exactly the eager output.
 */
import { describe, expect, it } from "vitest";
import { evalProgram } from "../../src/core/ir.js";
import { grad, layers, makeProgram, type NdArray, nn, tree, vjp } from "../../src/index.js";
import {
  expectClose,
  FLOAT64_TOLERANCE,
  type GoldenArrays,
  loadGolden,
  type ModelCase,
  toArray,
} from "./golden.js";

/** The tutorial's Net: conv-relu-pool twice, flatten, three linear layers. */
function lenet() {
  return layers.named(
    {
      conv1: layers.conv2d(1, 6, 5),
      conv2: layers.conv2d(6, 16, 5),
      fc1: layers.linear(16 * 5 * 5, 120),
      fc2: layers.linear(120, 84),
      fc3: layers.linear(84, 10),
    },
    (m, x) => {
      let h = nn.maxPool2d(nn.relu(m.conv1(x)), 2);
      h = nn.maxPool2d(nn.relu(m.conv2(h)), 2);
      h = h.flatten(1);
      h = nn.relu(m.fc1(h));
      h = nn.relu(m.fc2(h));
      return m.fc3(h);
    },
    { name: "Net" },
  );
}

const fizzBuzzMlp = () => layers.sequential(layers.linear(10, 100), layers.sigmoid(), layers.linear(100, 4));

/** `{ "conv1.weight": a, ... }` as the nested tree `{ conv1: { weight: a } }`, keys in the given order. */
function nestByPath(arrays: GoldenArrays, order: readonly string[]): Record<string, Record<string, NdArray>> {
  const out: Record<string, Record<string, NdArray>> = {};
  for (const path of order) {
    const [module, leaf] = path.split(".") as [string, string];
    out[module] ??= {};
    out[module][leaf] = toArray(arrays[path]!);
  }
  return out;
}

function modelCase(file: string): ModelCase {
  const c = loadGolden<ModelCase>(file).cases[0]!;
  expect(c.kind).toBe("model");
  return c;
}

describe("golden models (float64, PyTorch 1.13)", () => {
  it("LeNet: output, loss, every parameter gradient and the input gradient", () => {
    const c = modelCase("lenet.json");
    const model = lenet();
    const params = nestByPath(c.params, c.param_order) as ReturnType<typeof model.init>;
    tree.assertSameStructureOf("lenet params", model.paramSpec("float64"), params);
    expect(tree.flattenWithPath(params).map(([p]) => p)).toEqual(c.param_order);
    const input = toArray(c.inputs.input);
    const target = toArray(c.inputs.target);
    const loss = (p: typeof params, x: NdArray) => nn.mseLoss(model.apply(p, x), target);

    expectClose(model.apply(params, input), c.outputs.output, FLOAT64_TOLERANCE, "output");
    expectClose(loss(params, input), c.outputs.loss, FLOAT64_TOLERANCE, "loss");
    const [paramGrads, inputGrad] = grad(loss, { argnums: [0, 1] })(params, input) as [
      typeof params,
      NdArray,
    ];
    for (const [path, g] of tree.flattenWithPath(paramGrads)) {
      expectClose(g, c.grads[path]!, FLOAT64_TOLERANCE, `d loss / d ${path}`);
    }
    expectClose(inputGrad, c.grads["input"]!, FLOAT64_TOLERANCE, "d loss / d input");
  });

  it("FizzBuzz MLP: Sequential keys 0 and 2, output, loss and gradients", () => {
    const c = modelCase("fizzbuzz_mlp.json");
    const model = fizzBuzzMlp();
    const params = nestByPath(c.params, c.param_order) as ReturnType<typeof model.init>;
    expect(Object.keys(params)).toEqual(["0", "2"]);
    tree.assertSameStructureOf("fizzbuzz params", model.paramSpec("float64"), params);
    const input = toArray(c.inputs.input);
    const target = toArray(c.inputs.target);
    const loss = (p: typeof params) => nn.mseLoss(model.apply(p, input), target);

    expectClose(model.apply(params, input), c.outputs.output, FLOAT64_TOLERANCE, "output");
    const [value, vjpFn] = vjp(loss, params);
    expectClose(value, c.outputs.loss, FLOAT64_TOLERANCE, "loss");
    const [grads] = vjpFn(toArray(c.cotangent["loss"]!));
    for (const [path, g] of tree.flattenWithPath(grads)) {
      expectClose(g, c.grads[path]!, FLOAT64_TOLERANCE, `d loss / d ${path}`);
    }
  });

  it("LeNet: evaluating the traced program gives the eager output exactly", () => {
    const c = modelCase("lenet.json");
    const model = lenet();
    const params = nestByPath(c.params, c.param_order) as ReturnType<typeof model.init>;
    const input = toArray(c.inputs.input);
    const forward = (p: typeof params, x: NdArray) => model.apply(p, x);
    const traced = makeProgram(forward)(params, input);
    const [fromProgram] = evalProgram(traced.program, traced.consts, [...tree.leaves(params), input]);
    const eager = model.apply(params, input);
    expect(fromProgram!.shape).toEqual([4, 10]);
    expect(Array.from(fromProgram!.toTypedArray())).toEqual(Array.from(eager.toTypedArray()));
    // The program has one input per parameter array plus the image batch.
    expect(traced.program.inputs).toHaveLength(11);
  });
});
