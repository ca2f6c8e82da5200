/**
 * Optimizers as pure gradient transformations (optax's design, torch.optim's names and update rules):
 * `const [updates, state2] = opt.update(grads, state, params); params = optim.applyUpdates(params, updates)`.
 * Every optimizer is a chain of the atoms exported here (`adam` is addWeightDecay, scaleByAdam and
 * scaleByLearningRate), with its state kept flat under torch's names. For transformers: weight decay
 * with a mask (`decayMask`, `addDecayedWeights`, `masked`), parameter groups (`multiTransform`),
 * `injectHyperparams`, gradient accumulation (`multiSteps`), `ema` and `emaParams`.
 * @module
 */
export type { GradientTransformation, UpdateExtras } from "./common.js";
export {
  type EmaOptions,
  type EmaParams,
  type EmaParamsState,
  type EmaState,
  ema,
  emaParams,
} from "./ema.js";
export { type InjectHyperparamsOptions, type InjectHyperparamsState, injectHyperparams } from "./inject.js";
export { type LbfgsOptions, type LbfgsState, lbfgs } from "./lbfgs.js";
export {
  scaleByZoomLinesearch,
  type ZoomLinesearchInfo,
  type ZoomLinesearchOptions,
  type ZoomLinesearchState,
} from "./linesearch.js";
export {
  type DecayMaskOptions,
  decayMask,
  type Labels,
  type LabelTree,
  type Mask,
  type MaskTree,
} from "./mask.js";
export { type MultiSteps, type MultiStepsState, multiSteps } from "./multi-steps.js";
export {
  type AdafactorOptions,
  type AdafactorState,
  adafactor,
  type LambOptions,
  type LambState,
  type LionOptions,
  type LionState,
  lamb,
  lion,
} from "./optax.js";
export {
  type AdadeltaOptions,
  type AdadeltaState,
  type AdagradHyperparams,
  type AdagradOptions,
  type AdagradState,
  type AdamaxOptions,
  type AdamaxState,
  type AdamHyperparams,
  type AdamOptions,
  type AdamState,
  type AsgdOptions,
  type AsgdState,
  adadelta,
  adagrad,
  adam,
  adamax,
  adamw,
  asgd,
  type NadamOptions,
  type NadamState,
  nadam,
  type RadamOptions,
  type RadamState,
  type RmspropHyperparams,
  type RmspropOptions,
  type RmspropState,
  type RpropOptions,
  type RpropState,
  radam,
  rmsprop,
  rprop,
  type SgdHyperparams,
  type SgdOptions,
  type SgdState,
  sgd,
} from "./optimizers.js";
export { type MaskedState, type MultiTransformState, masked, multiTransform } from "./partition.js";
export {
  type ScaleByAdamOptions,
  type ScaleByAdamState,
  type ScaleByRmsOptions,
  type ScaleByRmsState,
  type ScaleByRssOptions,
  type ScaleByRssState,
  scaleByAdam,
  scaleByRms,
  scaleByRss,
} from "./scale-by.js";
export type { LearningRate, Schedule, ScheduleFormula, ScheduleMath } from "./schedules.js";
export * as schedules from "./schedules.js";
export {
  type AddDecayedWeightsOptions,
  addDecayedWeights,
  addDecoupledWeightDecay,
  addWeightDecay,
  applyUpdates,
  type CountState,
  chain,
  clip,
  clipByGlobalNorm,
  type DecoupledWeightDecayOptions,
  identity,
  scale,
  scaleByLearningRate,
  type TraceOptions,
  type TraceState,
  trace,
} from "./transforms.js";
