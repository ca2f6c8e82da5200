/**
 * Recurrent layers, as torch.nn.RNN, LSTM and GRU: PyTorch's parameter names (`weight_ih_l0`,
 * `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, `_reverse` for the backward direction), gate order, default
 * initialization, input and carry layouts and call signature, so a torch state dict loads unchanged.
 *
 * Each layer and direction is one `scan` over time (a jitted LSTM runs as one compiled loop). As cuDNN and
 * PyTorch do, the input projection `x W_ih^T + b_ih` of every timestep is one matmul before the loop;
 * the loop body only multiplies the carry by `W_hh^T`.
 */
import { NdArray } from "../core/array.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { relu, sigmoid, tanh } from "../nn/activations.js";
import { dropout as dropoutFn } from "../nn/dropout.js";
import { add, multiply, subtract } from "../ops/binary.js";
import { zeros } from "../ops/creation.js";
import { expandDims, matrixTranspose, reshape, squeeze, transpose } from "../ops/layout.js";
import { matmul } from "../ops/linalg.js";
import { concatenate, slice, split, stack } from "../ops/shape.js";
import { scan } from "../transforms/control-flow.js";
import { pyBool, pyFloat, withLayerContext } from "./basic.js";
import { type Initializer, uniform } from "./init.js";
import {
  defineLayer,
  describeAt,
  type FloatDType,
  type ForwardContext,
  type Key,
  type Layer,
  type SpecTree,
  spec,
  splitKeys,
} from "./layer.js";

/** A recurrent layer's parameters, by PyTorch's names: `weight_ih_l0`, `bias_hh_l1_reverse`, ... */
export type RecurrentParams = { readonly [name: string]: NdArray };

/** An LSTM's carry: the hidden and cell states, each [numDirections * numLayers, N, H] ([D * numLayers, H] unbatched). */
export type LstmState = readonly [h: NdArray, c: NdArray];

/** Options of `rnn`, `lstm` and `gru`, as torch.nn.RNN/LSTM/GRU's. */
export interface RecurrentOptions {
  /** Stacked recurrent layers, each reading the previous one's output (default 1). */
  numLayers?: number;
  /** Learned biases `bias_ih` and `bias_hh` (default true). */
  bias?: boolean;
  /** Input and output as [N, L, H] instead of [L, N, H] (default false; the carries stay [D*layers, N, H]). */
  batchFirst?: boolean;
  /** Dropout on each layer's output but the last, in training mode with a key (default 0). */
  dropout?: number;
  /** A second recurrence over the reversed sequence; outputs concatenated on the feature axis (default false). */
  bidirectional?: boolean;
  /** Every weight and bias (default PyTorch's: U(-1/sqrt(hidden), 1/sqrt(hidden))). */
  init?: Initializer;
}

/** Options of `rnn`: also the nonlinearity, tanh (default) or relu. */
export interface RnnOptions extends RecurrentOptions {
  nonlinearity?: "tanh" | "relu";
}

type Cell = "rnn" | "lstm" | "gru";

const GATES: Record<Cell, number> = { rnn: 1, lstm: 4, gru: 3 };
const TORCH_NAME: Record<Cell, string> = { rnn: "RNN", lstm: "LSTM", gru: "GRU" };

/** One step of a cell: the new carry from the precomputed input projection of this timestep. */
type Step = (carry: NdArray[], inputGates: NdArray, wHhT: NdArray, bHh: NdArray | undefined) => NdArray[];

function hiddenGates(h: NdArray, wHhT: NdArray, bHh: NdArray | undefined): NdArray {
  const g = matmul(h, wHhT);
  return bHh === undefined ? g : add(g, bHh);
}

// PyTorch's formulas (torch.nn.LSTM/GRU/RNN docs), gates in its order along the weight's first axis.
const lstmStep: Step = ([h, c], xg, wHhT, bHh) => {
  const [i, f, g, o] = split(add(xg, hiddenGates(h!, wHhT, bHh)), 4, { axis: -1 }) as [
    NdArray,
    NdArray,
    NdArray,
    NdArray,
  ];
  const cNext = add(multiply(sigmoid(f), c!), multiply(sigmoid(i), tanh(g)));
  return [multiply(sigmoid(o), tanh(cNext)), cNext];
};

const gruStep: Step = ([h], xg, wHhT, bHh) => {
  const [xr, xz, xn] = split(xg, 3, { axis: -1 }) as [NdArray, NdArray, NdArray];
  const [hr, hz, hn] = split(hiddenGates(h!, wHhT, bHh), 3, { axis: -1 }) as [NdArray, NdArray, NdArray];
  const r = sigmoid(add(xr, hr));
  const z = sigmoid(add(xz, hz));
  // n = tanh(W_in x + b_in + r * (W_hn h + b_hn)): b_hn stays inside the reset gate's product.
  const n = tanh(add(xn, multiply(r, hn)));
  // (1 - z) * n + z * h, written as n + z * (h - n).
  return [add(n, multiply(z, subtract(h!, n)))];
};

const rnnStep =
  (activation: (x: NdArray) => NdArray): Step =>
  ([h], xg, wHhT, bHh) => [activation(add(xg, hiddenGates(h!, wHhT, bHh)))];

function checkCount(who: string, what: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`${who}: ${what} must be an integer >= ${min}, got ${n}`);
}

/** The parameter names in PyTorch's order (`_flat_weights_names`), with their shapes. */
function parameterShapes(
  inputSize: number,
  hiddenSize: number,
  gates: number,
  numLayers: number,
  directions: number,
  bias: boolean,
): [string, number[]][] {
  const out: [string, number[]][] = [];
  for (let layer = 0; layer < numLayers; layer++) {
    const layerInput = layer === 0 ? inputSize : hiddenSize * directions;
    for (let d = 0; d < directions; d++) {
      const suffix = `_l${layer}${d === 1 ? "_reverse" : ""}`;
      out.push([`weight_ih${suffix}`, [gates * hiddenSize, layerInput]]);
      out.push([`weight_hh${suffix}`, [gates * hiddenSize, hiddenSize]]);
      if (bias) {
        out.push([`bias_ih${suffix}`, [gates * hiddenSize]]);
        out.push([`bias_hh${suffix}`, [gates * hiddenSize]]);
      }
    }
  }
  return out;
}

interface Built {
  readonly name: string;
  readonly repr: string;
  readonly paramSpec: (dtype: FloatDType) => SpecTree;
  readonly init: (key: Key, dtype: FloatDType) => RecurrentParams;
  /** The output [L, N, D*H] (or the layout of the input) and the final carries, each [D*layers, N, H]. */
  readonly run: (
    params: RecurrentParams,
    x: NdArray,
    hx: readonly NdArray[] | undefined,
    ctx: ForwardContext,
  ) => [NdArray, NdArray[]];
}

function build(
  cell: Cell,
  inputSize: number,
  hiddenSize: number,
  options: RnnOptions,
  allowed: readonly string[],
): Built {
  const who = cell;
  checkCount(who, "inputSize", inputSize, 1);
  checkOptions(who, options, allowed);
  checkCount(who, "hiddenSize", hiddenSize, 1);
  const numLayers = options.numLayers ?? 1;
  checkCount(who, "numLayers", numLayers, 1);
  const bias = options.bias ?? true;
  const batchFirst = options.batchFirst ?? false;
  const dropout = options.dropout ?? 0;
  if (!(dropout >= 0 && dropout <= 1))
    throw new RangeError(`${who}: dropout must be in [0, 1], got ${dropout}`);
  const bidirectional = options.bidirectional ?? false;
  checkOptionValue(who, "nonlinearity", options.nonlinearity, ["tanh", "relu"]);
  const nonlinearity = options.nonlinearity ?? "tanh";
  const directions = bidirectional ? 2 : 1;
  const gates = GATES[cell];
  const carries = cell === "lstm" ? 2 : 1;
  const shapes = parameterShapes(inputSize, hiddenSize, gates, numLayers, directions, bias);
  const bound = 1 / Math.sqrt(hiddenSize);
  const initializer = options.init ?? uniform({ minval: -bound, maxval: bound });
  const step: Step =
    cell === "lstm" ? lstmStep : cell === "gru" ? gruStep : rnnStep(nonlinearity === "relu" ? relu : tanh);
  const extras = [
    numLayers !== 1 ? `, num_layers=${numLayers}` : "",
    bias ? "" : `, bias=${pyBool(bias)}`,
    batchFirst ? `, batch_first=${pyBool(batchFirst)}` : "",
    dropout !== 0 ? `, dropout=${pyFloat(dropout)}` : "",
    bidirectional ? `, bidirectional=${pyBool(bidirectional)}` : "",
  ].join("");
  const name = `${cell} ${inputSize}->${hiddenSize}${numLayers !== 1 ? `, ${numLayers} layers` : ""}${bidirectional ? ", bidirectional" : ""}`;
  const carryShape = (batch: number | null) =>
    batch === null ? [directions * numLayers, hiddenSize] : [directions * numLayers, batch, hiddenSize];

  function run(
    params: RecurrentParams,
    input: NdArray,
    hx: readonly NdArray[] | undefined,
    ctx: ForwardContext,
  ): [NdArray, NdArray[]] {
    const at = describeAt(name, ctx.path);
    const layout = batchFirst ? "[N, L, H_in]" : "[L, N, H_in]";
    if ((input.ndim !== 2 && input.ndim !== 3) || input.shape[input.ndim - 1] !== inputSize) {
      throw new ShapeError(
        `${at}: expected input ${layout.replace("H_in", String(inputSize))} or unbatched [L, ${inputSize}], got ${fmtShape(input.shape)}`,
      );
    }
    const batched = input.ndim === 3;
    // Time-major, batched: [L, N, H_in].
    const xs = !batched ? expandDims(input, 1) : batchFirst ? transpose(input, [1, 0, 2]) : input;
    const batch = xs.shape[1]!;
    const expected = carryShape(batched ? batch : null);
    const h0 = (hx ?? []).map((h, k) => {
      if (h.ndim !== expected.length || h.shape.some((d, i) => d !== expected[i])) {
        throw new ShapeError(
          `${at}: expected ${cell === "lstm" ? (k === 0 ? "h_0" : "c_0") : "hx"} of shape ${fmtShape(expected)}, got ${fmtShape(h.shape)}`,
        );
      }
      return batched ? h : expandDims(h, 1);
    });
    const dropping = ctx.train && dropout > 0 && numLayers > 1;
    if (dropping && ctx.key === undefined) {
      throw new TypeError(
        `${at}: training mode with dropout needs a key: apply(params, x, hx, { train: true, key })`,
      );
    }
    // One key per gap between layers.
    const dropKeys = dropping ? splitKeys(ctx.key!, numLayers - 1) : undefined;
    return withLayerContext(name, ctx, () => {
      const zero = zeros([batch, hiddenSize], { dtype: params[shapes[0]![0]]!.dtype });
      const finals: NdArray[][] = Array.from({ length: carries }, () => []);
      let layerInput = xs;
      for (let layer = 0; layer < numLayers; layer++) {
        const outs: NdArray[] = [];
        for (let d = 0; d < directions; d++) {
          const suffix = `_l${layer}${d === 1 ? "_reverse" : ""}`;
          const wIh = params[`weight_ih${suffix}`]!;
          const wHhT = matrixTranspose(params[`weight_hh${suffix}`]!);
          const bIh = bias ? params[`bias_ih${suffix}`] : undefined;
          const bHh = bias ? params[`bias_hh${suffix}`] : undefined;
          // Every timestep's input projection in one matmul: [L, N, G*H].
          const [steps, n, features] = layerInput.shape as [number, number, number];
          const projected = reshape(
            matmul(reshape(layerInput, [steps * n, features]), matrixTranspose(wIh)),
            [steps, n, gates * hiddenSize],
          );
          const inputGates = bIh === undefined ? projected : add(projected, bIh);
          const index = layer * directions + d;
          const init = Array.from({ length: carries }, (_, k) =>
            h0[k] === undefined ? zero : squeeze(sliceRow(h0[k]!, index), 0),
          );
          const [last, ys] = scan(
            (carry: NdArray[], xg: NdArray): [NdArray[], NdArray] => {
              const next = step(carry, xg, wHhT, bHh);
              return [next, next[0]!];
            },
            init,
            inputGates,
            { reverse: d === 1 },
          );
          last.forEach((c, k) => finals[k]!.push(c));
          outs.push(ys);
        }
        layerInput = outs.length === 1 ? outs[0]! : concatenate(outs, { axis: -1 });
        if (dropKeys !== undefined && layer < numLayers - 1) {
          layerInput = dropoutFn(dropKeys[layer], layerInput, dropout);
        }
      }
      const output = !batched
        ? squeeze(layerInput, 1)
        : batchFirst
          ? transpose(layerInput, [1, 0, 2])
          : layerInput;
      const hN = finals.map((f) => (batched ? stack(f) : stack(f.map((c) => squeeze(c, 0)))));
      return [output, hN];
    });
  }

  return {
    name,
    repr: `${TORCH_NAME[cell]}(${inputSize}, ${hiddenSize}${extras})`,
    paramSpec: (dtype) => Object.fromEntries(shapes.map(([n, s]) => [n, spec(s, dtype)])),
    init(key, dtype) {
      const keys = splitKeys(key, shapes.length);
      return Object.fromEntries(shapes.map(([n, s], i) => [n, initializer(keys[i]!, s, dtype)]));
    },
    run,
  };
}

/** Row `i` of a carry [D*layers, N, H], kept as [1, N, H]. */
function sliceRow(h: NdArray, i: number): NdArray {
  return slice(h, [{ start: i, stop: i + 1 }]);
}

const COMMON = ["numLayers", "bias", "batchFirst", "dropout", "bidirectional", "init"] as const;

/**
 * torch.nn.LSTM: `apply(params, x, [h0, c0]?)` returns `[output, [hN, cN]]`. x is [L, N, inputSize]
 * ([N, L, inputSize] with batchFirst, [L, inputSize] unbatched); output [L, N, D*hiddenSize]; h and c
 * [D*numLayers, N, hiddenSize] (zeros when omitted). Gates i, f, g, o, as PyTorch's.
 */
export function lstm(
  inputSize: number,
  hiddenSize: number,
  options: RecurrentOptions = {},
): Layer<
  RecurrentParams,
  null,
  [input: NdArray, hx?: LstmState],
  [output: NdArray, hN: [h: NdArray, c: NdArray]]
> {
  const b = build("lstm", inputSize, hiddenSize, options, COMMON);
  return defineLayer<RecurrentParams, null, [input: NdArray, hx?: LstmState], [NdArray, [NdArray, NdArray]]>({
    name: b.name,
    repr: b.repr,
    inputs: ["input", "hx"],
    requiredInputs: 1,
    paramSpec: b.paramSpec,
    init: b.init,
    forward(params, state, [x, hx], ctx) {
      checkCarryTuple(b.name, ctx, hx);
      const [y, [h, c]] = b.run(params, x, hx, ctx);
      return { y: [y, [h!, c!]], state };
    },
  });
}

/**
 * torch.nn.GRU: `apply(params, x, h0?)` returns `[output, hN]`, shapes as `lstm`'s. Gates r, z, n with
 * PyTorch's n = tanh(W_in x + b_in + r * (W_hn h + b_hn)).
 */
export function gru(
  inputSize: number,
  hiddenSize: number,
  options: RecurrentOptions = {},
): Layer<RecurrentParams, null, [input: NdArray, hx?: NdArray], [output: NdArray, hN: NdArray]> {
  return singleCarry("gru", inputSize, hiddenSize, options, COMMON);
}

/**
 * torch.nn.RNN (Elman): h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh), or relu; `apply(params, x, h0?)`
 * returns `[output, hN]`, shapes as `lstm`'s.
 */
export function rnn(
  inputSize: number,
  hiddenSize: number,
  options: RnnOptions = {},
): Layer<RecurrentParams, null, [input: NdArray, hx?: NdArray], [output: NdArray, hN: NdArray]> {
  return singleCarry("rnn", inputSize, hiddenSize, options, [...COMMON, "nonlinearity"]);
}

function singleCarry(
  cell: "rnn" | "gru",
  inputSize: number,
  hiddenSize: number,
  options: RnnOptions,
  allowed: readonly string[],
): Layer<RecurrentParams, null, [input: NdArray, hx?: NdArray], [output: NdArray, hN: NdArray]> {
  const b = build(cell, inputSize, hiddenSize, options, allowed);
  return defineLayer<RecurrentParams, null, [input: NdArray, hx?: NdArray], [NdArray, NdArray]>({
    name: b.name,
    repr: b.repr,
    inputs: ["input", "hx"],
    requiredInputs: 1,
    paramSpec: b.paramSpec,
    init: b.init,
    forward(params, state, [x, hx], ctx) {
      if (hx !== undefined && !(hx instanceof NdArray))
        throw new TypeError(`${describeAt(b.name, ctx.path)}: hx must be an array, got ${typeof hx}`);
      const [y, [h]] = b.run(params, x, hx === undefined ? undefined : [hx], ctx);
      return { y: [y, h!], state };
    },
  });
}

function checkCarryTuple(name: string, ctx: ForwardContext, hx: unknown): void {
  if (hx !== undefined && !(Array.isArray(hx) && hx.length === 2)) {
    throw new TypeError(`${describeAt(name, ctx.path)}: hx must be [h_0, c_0], got ${typeof hx}`);
  }
}
