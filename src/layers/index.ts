/**
 * `{ init, apply }` layers: the functional form of torch.nn modules, with PyTorch's parameter names,
 * shapes and default initializations. See layer.ts for the Layer type.
 */
export {
  type ApplyOptions,
  type FloatDType,
  type ForwardContext,
  type InitOptions,
  type Layer,
  type LayerDefinition,
  type LayerOutput,
  type ParamTree,
  type ParamsOf,
  type SpecTree,
  type StateOf,
  defineLayer,
} from "./layer.js";
export {
  type AvgPool2dOptions,
  type Conv2dOptions,
  type Conv2dParams,
  type LinearOptions,
  type LinearParams,
  type MaxPool2dOptions,
  type WeightAndBias,
  type WeightOnly,
  avgPool2d,
  conv2d,
  dropout,
  flatten,
  lambda,
  linear,
  maxPool2d,
  relu,
  sigmoid,
  softmax,
  tanh,
} from "./basic.js";
export { type BatchNormOptions, type BatchNormParams, type BatchNormState, batchNorm1d, batchNorm2d } from "./batchnorm.js";
export {
  type BoundLayers,
  type ModelContext,
  type NamedParams,
  type NamedState,
  type SequentialParams,
  type SequentialState,
  named,
  sequential,
} from "./containers.js";
export * as init from "./init.js";
export { type Initializer } from "./init.js";
export { reinit } from "./reinit.js";
export { formatLayer, summary } from "./summary.js";
