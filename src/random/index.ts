/**
 * Explicit, counter-based randomness (threefry2x32, as JAX): `random.key(seed)`, `random.split(key)`,
 * `random.foldIn(key, data)`, and samplers that take a key. The same key always gives the same numbers.
 * @module
 */
export { topKFilter, topPFilter } from "./filters.js";
export { bits, foldIn, type Key, key, split } from "./keys.js";
export {
  bernoulli,
  type CategoricalOptions,
  type ChoiceOptions,
  categorical,
  choice,
  exponential,
  type FloatOptions,
  gumbel,
  type IntOptions,
  normal,
  permutation,
  randint,
  truncatedNormal,
  type UniformOptions,
  uniform,
} from "./samplers.js";
export { sortByKey } from "./sort.js";
export { erfInv, erfinv as erfinvScalar } from "./special.js";
export { threefry2x32 } from "./threefry.js";
