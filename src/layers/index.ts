/**
 * `{ init, apply }` layers: the functional form of torch.nn modules, with PyTorch's parameter names,
 * shapes and default initializations. See `Layer` for what a layer offers.
 * @module
 */

export {
  MULTIHEAD_ATTENTION_CALL_OPTIONS,
  type MultiheadAttentionCallOptions,
  type MultiheadAttentionOptions,
  type MultiheadAttentionParams,
  multiheadAttention,
} from "./attention.js";
export {
  type AvgPool2dOptions,
  avgPool2d,
  type Conv2dOptions,
  type Conv2dParams,
  conv2d,
  dropout,
  flatten,
  type LinearOptions,
  type LinearParams,
  lambda,
  linear,
  type MaxPool2dOptions,
  maxPool2d,
  relu,
  sigmoid,
  softmax,
  tanh,
  type WeightAndBias,
  type WeightOnly,
} from "./basic.js";
export {
  type BatchNormOptions,
  type BatchNormParams,
  type BatchNormState,
  batchNorm1d,
  batchNorm2d,
} from "./batchnorm.js";
export {
  type BoundLayers,
  type ModelContext,
  type NamedManyOptions,
  type NamedOptions,
  type NamedParams,
  type NamedState,
  named,
  type SequentialParams,
  type SequentialState,
  sequential,
} from "./containers.js";
export { type EmbeddingLayerOptions, type EmbeddingParams, embedding } from "./embedding.js";
export type { Initializer } from "./init.js";
export * as init from "./init.js";
export {
  type AnyLayer,
  type ApplyArgs,
  type ApplyOptions,
  defineLayer,
  type FloatDType,
  type ForwardContext,
  type ForwardInput,
  type InitOptions,
  type Inputs,
  type InputsOf,
  type Layer,
  type LayerDefinition,
  type LayerOutput,
  type OutputOf,
  type ParamsOf,
  type ParamTree,
  type SingleArrayLayer,
  type SpecTree,
  type StateOf,
} from "./layer.js";
export {
  type GroupNormOptions,
  groupNorm,
  type LayerNormOptions,
  layerNorm,
  type NormParams,
  type RmsNormOptions,
  rmsNorm,
} from "./norms.js";
export {
  gru,
  type LstmState,
  lstm,
  type RecurrentOptions,
  type RecurrentParams,
  type RnnOptions,
  rnn,
} from "./recurrent.js";
export { reinit } from "./reinit.js";
export { formatLayer, summary } from "./summary.js";
export {
  type TransformerDecoderCallOptions,
  type TransformerDecoderLayer,
  type TransformerDecoderLayerCallOptions,
  type TransformerDecoderLayerParams,
  type TransformerEncoderCallOptions,
  type TransformerEncoderLayer,
  type TransformerEncoderLayerCallOptions,
  type TransformerEncoderLayerParams,
  type TransformerLayerOptions,
  type TransformerStackOptions,
  type TransformerStackParams,
  transformerDecoder,
  transformerDecoderLayer,
  transformerEncoder,
  transformerEncoderLayer,
} from "./transformer.js";
