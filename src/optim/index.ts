/**
 * Optimizers as pure gradient transformations (optax's design, torch.optim's names and update rules):
 * `const [updates, state2] = opt.update(grads, state, params); params = optim.applyUpdates(params, updates)`.
 */
export { type GradientTransformation } from "./common.js";
export {
  type AdagradHyperparams,
  type AdagradOptions,
  type AdagradState,
  type AdamHyperparams,
  type AdamOptions,
  type AdamState,
  type RmspropHyperparams,
  type RmspropOptions,
  type RmspropState,
  type SgdHyperparams,
  type SgdOptions,
  type SgdState,
  adagrad,
  adam,
  adamw,
  rmsprop,
  sgd,
} from "./optimizers.js";
export * as schedules from "./schedules.js";
export { type LearningRate, type Schedule } from "./schedules.js";
export {
  type CountState,
  addWeightDecay,
  applyUpdates,
  chain,
  clip,
  clipByGlobalNorm,
  identity,
  scale,
  scaleByLearningRate,
} from "./transforms.js";
