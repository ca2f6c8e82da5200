/**
 * layers.lstm, gru and rnn against torch.nn.LSTM, GRU and RNN (float64, PyTorch 1.13, data made by
 * gen_seq_rnn.py): on PyTorch's own parameters, the output, the final carries, and the gradient of every
 * parameter, the input and the initial carries for a random cotangent on every output.
 */
import { describe, expect, it } from "vitest";
import { layers, type NdArray, vjp } from "../../src/index.js";
import { expectClose, FLOAT64_TOLERANCE, type GoldenArrays, loadGolden, toArray } from "./golden.js";

interface RecurrentCase {
  name: string;
  kind: "recurrent";
  module: "LSTM" | "GRU" | "RNN";
  torch: string;
  attrs: {
    input_size: number;
    hidden_size: number;
    num_layers?: number;
    bidirectional?: boolean;
    batch_first?: boolean;
    bias?: boolean;
    nonlinearity: "tanh" | "relu" | null;
  };
  param_order: string[];
  params: GoldenArrays;
  inputs: GoldenArrays;
  outputs: GoldenArrays;
  cotangent: GoldenArrays;
  grads: GoldenArrays;
}

const cases = loadGolden("seq_rnn.json").cases as unknown as RecurrentCase[];

function options(c: RecurrentCase) {
  const a = c.attrs;
  return {
    ...(a.num_layers === undefined ? {} : { numLayers: a.num_layers }),
    ...(a.bidirectional === undefined ? {} : { bidirectional: a.bidirectional }),
    ...(a.batch_first === undefined ? {} : { batchFirst: a.batch_first }),
    ...(a.bias === undefined ? {} : { bias: a.bias }),
  };
}

type Params = Record<string, NdArray>;

/** The layer's outputs as one flat record, by the data's names (output, h_n, c_n). */
function forwardOf(c: RecurrentCase): {
  repr: string;
  names: string[];
  run: (params: Params, x: NdArray, carries: NdArray[]) => NdArray[];
} {
  const { input_size: inputSize, hidden_size: hiddenSize } = c.attrs;
  if (c.module === "LSTM") {
    const layer = layers.lstm(inputSize, hiddenSize, options(c));
    return {
      repr: layer.repr,
      names: ["output", "h_n", "c_n"],
      run: (params, x, carries) => {
        const [y, [h, cN]] =
          carries.length === 0 ? layer.apply(params, x) : layer.apply(params, x, [carries[0]!, carries[1]!]);
        return [y, h, cN];
      },
    };
  }
  const layer =
    c.module === "GRU"
      ? layers.gru(inputSize, hiddenSize, options(c))
      : layers.rnn(inputSize, hiddenSize, { ...options(c), nonlinearity: c.attrs.nonlinearity ?? "tanh" });
  return {
    repr: layer.repr,
    names: ["output", "h_n"],
    run: (params, x, carries) => {
      const [y, h] = carries.length === 0 ? layer.apply(params, x) : layer.apply(params, x, carries[0]!);
      return [y, h];
    },
  };
}

describe("golden recurrent layers (float64, PyTorch 1.13)", () => {
  it("covers LSTM (2 layers, bidirectional, batch_first both ways), GRU and RNN tanh/relu", () => {
    expect(cases.map((c) => c.name)).toEqual([
      "lstm_2layer_bidirectional",
      "lstm_2layer_bidirectional_batch_first",
      "lstm_1layer_no_carry",
      "lstm_unbatched_no_bias",
      "gru_2layer",
      "gru_bidirectional_batch_first",
      "rnn_tanh_2layer",
      "rnn_relu_bidirectional",
    ]);
  });

  for (const c of cases) {
    it(`${c.name}: ${c.torch}: outputs, final carries and every gradient`, () => {
      const { repr, names, run } = forwardOf(c);
      expect(repr).toBe(c.torch);
      // Parameters in PyTorch's named_parameters() order, as a state dict.
      const params: Params = Object.fromEntries(c.param_order.map((k) => [k, toArray(c.params[k]!)]));
      expect(Object.keys(params)).toEqual(c.param_order);
      const x = toArray(c.inputs["input"]!);
      const carryNames = ["h0", "c0"].filter((k) => k in c.inputs);
      const carries = carryNames.map((k) => toArray(c.inputs[k]!));
      const [outs, back] = vjp(run, params, x, carries);
      outs.forEach((o, i) => {
        expectClose(o, c.outputs[names[i]!]!, FLOAT64_TOLERANCE, `${c.name} ${names[i]}`);
      });
      const [gParams, gx, gCarries] = back(names.map((n) => toArray(c.cotangent[n]!)));
      for (const k of c.param_order)
        expectClose(gParams[k]!, c.grads[k]!, FLOAT64_TOLERANCE, `${c.name} d${k}`);
      expectClose(gx, c.grads["input"]!, FLOAT64_TOLERANCE, `${c.name} d input`);
      carryNames.forEach((k, i) => {
        expectClose(gCarries[i]!, c.grads[k]!, FLOAT64_TOLERANCE, `${c.name} d ${k}`);
      });
    });
  }
});
