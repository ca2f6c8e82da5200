/**
 * The code of numpy-differences.md: where `np` deliberately follows JAX rather than numpy or PyTorch.
 * test/examples/guides.test.ts runs every function and checks what the guide says it returns.
 */
import { grad, jit, MAX_ARRAY_BYTES, type NdArray, np, ShapeError } from "tracegrad";

export function weakTyping() {
  const x = np.array([1, 2, 3]); // JS numbers give float32 (numpy: int64 or float64)
  const i = np.array([1, 2, 3], { dtype: "int32" });
  return {
    scaled: x.mul(2).dtype, // "float32": a JS number takes the array's dtype (numpy 1.24 agrees here)
    intTimesInt: i.mul(2).dtype, // "int32"
    intTimesFraction: i.mul(2.5).dtype, // "float32" (numpy: float64)
    mean: i.mean().dtype, // "float32" (numpy: float64)
  };
}

export function tooLargeForInt32() {
  // A JS integer next to an int32 array must fit int32: JAX refuses it too, numpy 1.24 widens to int64.
  let message = "";
  try {
    np.array([1], { dtype: "int32" }).add(2 ** 40);
  } catch (error) {
    if (error instanceof RangeError) message = error.message;
  }
  return message; // "add: the JS number 1099511627776 does not fit int32, ..."
}

export function boolOperands() {
  const a = np.array([true, false, true]);
  const b = np.array([true, true, false]);
  return {
    sum: np.add(a, b), // bool [true, true, true]: logical OR
    product: np.multiply(a, b), // bool [true, false, false]: logical AND
    matmul: np.matmul(a, b), // bool true: OR of ANDs
    floorDivide: np.floorDivide(a, b).dtype, // "int32" (numpy: int8)
    count: np.sum(a).dtype, // "int32": reductions that count give int32
    plusOne: np.add(a, 1).dtype, // "int32": a JS integer next to bool
  };
}

export function integerPower() {
  const base = np.array([7, 3, 5], { dtype: "int32" });
  const exponent = np.array([9, 15, 10], { dtype: "int32" });
  return {
    power: np.power(base, exponent), // int32 [40353607, 14348907, 9765625], exactly
    squared: np.power(base, 2).dtype, // "int32"
    wrapped: np.power(np.array([2], { dtype: "int32" }), 31), // int32 [-2147483648]: wraps around, as numpy
    negative: np.power(np.array([2, 1, -1], { dtype: "int32" }), np.array([-1, -1, -1], { dtype: "int32" })), // [0, 1, -1]
  };
}

export function floatPower() {
  // Float power is C's pow, as numpy, JAX and PyTorch: JS's 1 ** NaN and (-1) ** Infinity are NaN.
  const ones = np.array([1, -1]).pow(Infinity); // [1, 1]
  const oneToNaN = np.power(1, np.array([NaN])); // [1]
  return { ones, oneToNaN };
}

export function floorDivision() {
  const x = np.array([4, -3, 3]);
  const y = np.array([0.4, -0.3, -Infinity]);
  const q = np.floorDivide(x, y); // [9, 9, -1], as numpy's 4 // 0.4 (not floor(4 / 0.4) = 10)
  const r = np.mod(x, y); // [0.39999995, -0.29999989, -Infinity]: q * y + r is x
  const byZero = np.floorDivide(np.array([7], { dtype: "int32" }), 0); // int32 [0], as numpy
  return { q, r, byZero };
}

export function gradientConventions() {
  // clip: at a bound the gradient is split, as JAX (maximum/minimum split ties); torch.clamp passes 1.
  const clipGrad = grad((x: NdArray) => np.clip(x, 0, 1).sum())(np.array([0, 0.5, 1]));
  // std at zero variance: sqrt'(0) is infinite and the chain rule gives NaN, as JAX; torch.std gives 0.
  const stdGrad = grad((x: NdArray) => np.std(x))(np.array([2, 2, 2]));
  return { clipGrad, stdGrad }; // [0.5, 1, 0.5] and [NaN, NaN, NaN]
}

export function moreFunctions() {
  // logaddexp(-inf, -inf) is -inf, and its gradient ½ each (JAX: NaN)
  const bothEmpty = grad((a: NdArray) => np.logaddexp(a, np.array(-Infinity)))(np.array(-Infinity));
  // xlogy's derivative in y is 0 where x is 0, at y = 0 too (JAX: NaN)
  const xlogyGrad = grad((y: NdArray) => np.xlogy(0, y))(np.array(0));
  const signs = np.copysign(np.array([1, 1]), np.array([-0, NaN])); // [-1, 1]: -0 counts, NaN's sign not
  return { bothEmpty, xlogyGrad, signs }; // 0.5, 0 and [-1, 1]
}

export function typedArrays() {
  const bytes = np.array(new Uint8Array([1, 2, 255])); // uint8 [1, 2, 255]
  const big = np.array(new Uint32Array([2 ** 32 - 1]), { dtype: "float64" }); // float64 [4294967295]
  const wrapped = np.array([300, -1], { dtype: "uint8" }); // uint8 [44, 255], as numpy's astype
  return { bytes, big, wrapped };
}

export function numericContext() {
  const loss = np.array([0.25, 0.25]).sum();
  const small = Number(loss) < 1; // true: a size-1 array converts to its number, as numpy's float(x)
  const printed = `${np.array([1, 2])}`; // a template literal prints the array
  const branchy = jit((x: NdArray) => (Number(x.sum()) > 100 ? x.neg() : x));
  let error = "";
  try {
    branchy(np.ones([2])); // traced values cannot decide JS control flow: ConcretizationError
  } catch (e) {
    error = (e as Error).name;
  }
  return { small, printed, error };
}

export function sizeLimit() {
  let message = "";
  try {
    np.zeros([1e6, 1e6]); // 4 TB: refused before anything is allocated
  } catch (error) {
    if (error instanceof ShapeError) message = error.message;
  }
  return { limit: MAX_ARRAY_BYTES, message, vector: np.zeros(3).shape }; // 2 GiB; a single size is a 1-D shape
}

export function sorting() {
  const x = np.array([2, NaN, 1, 2, -0, 0]);
  const ascending = np.argsort(x); // [4, 5, 2, 0, 3, 1]: -0 and 0 tie and keep their order, NaN last
  const descending = np.argsort(x, { descending: true }); // [1, 0, 3, 2, 4, 5]: NaN first, ties in order
  const [values, indices] = np.topK(x, 3); // [NaN, 2, 2] at [1, 0, 3]: NaN is the largest, ties by index
  return { ascending, descending, values, indices };
}

export function quantiles() {
  const ints = np.array([3, -(2 ** 31)], { dtype: "int32" });
  const q = np.quantile(ints, 0.6); // float32 -858993472 (numpy: 858993461 after int32 wraparound)
  const medianDtype = np.median(np.array([1, 2], { dtype: "int32" })).dtype; // "float32" (numpy: float64)
  return { q, medianDtype };
}

export function indexing() {
  const x = np.arange(24, undefined, 1, { dtype: "int32" }).reshape([2, 3, 4]);
  const basic = np.index(x, 1, "::-1", { start: 1 }); // x[1, ::-1, 1:], shape [3, 3]
  const inPlace = x.index(":", [0, 2], [1, 3]); // x[:, [0, 2], [1, 3]], shape [2, 2]
  const first = x.index([0, 1], ":", [3, 3]); // x[[0, 1], :, [3, 3]], shape [2, 3]: separated, so first
  const masked = x.index(x.greater(20)); // x[x > 20]: [21, 22, 23]
  const sized = jit((y: NdArray) => y.index(y.greater(20), { size: 5, fillValue: -1 }));
  return { basic, inPlace, first, masked, padded: sized(x) };
}

export function cumulative() {
  const x = np.array([1, 3, 3, 2], { dtype: "int32" });
  const running = np.cummax(x); // int32 [1, 3, 3, 3]
  const fromEnd = np.cumsum(x, { reverse: true }); // [9, 8, 5, 2]: JAX's reverse
  const wrapped = np.cumprod(np.array([65536, 65536], { dtype: "int32" })); // int32 [65536, 0] (numpy: int64)
  const stable = np.logcumsumexp(np.array([-1000, 0, 1000], { dtype: "float64" })); // [-1000, 0, 1000]
  // cummax's gradient goes to the latest element holding the running maximum (torch.cummax's indices)
  const tieGrad = grad((v: NdArray) => np.sum(np.cummax(v)))(np.array([1, 3, 3, 2])); // [1, 1, 2, 0]
  return { running, fromEnd, wrapped, stable, tieGrad };
}

export function padding() {
  const x = np.array([0, 1, 2], { dtype: "int32" });
  const wrapped = np.pad(x, [2, 7], { mode: "wrap" }); // periodic: [1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
  const mirrored = np.pad(x, [1, 8], { mode: "reflect" }); // [1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 0], as numpy
  const sides = np.pad(x, 1, { constantValues: [-1, 9] }); // [-1, 0, 1, 2, 9]
  return { wrapped, mirrored, sides };
}

export function linearAlgebraLu() {
  const singular = np.array([1, 2, 2, 4], { shape: [2, 2], dtype: "float64" });
  const b = np.array([1, 1], { dtype: "float64" });
  const solved = np.linalg.solve(singular, b); // infinities or NaNs, as JAX (numpy raises LinAlgError)
  const determinant = np.linalg.det(singular); // 0, as numpy
  const [sign, logabsdet] = np.linalg.slogdet(singular); // 0 and -Infinity, as numpy
  const a = np.array([2, 1, 1, 3, 4, 1, 2, 3], { shape: [2, 2, 2], dtype: "float64" });
  // b of shape [..., n] is a matrix [n, k] (numpy 2, JAX), not a batch of vectors as numpy 1 read it
  const columns = np.linalg.solve(a, np.eye(2, 2, { dtype: "float64" })).shape; // [2, 2, 2]
  const vectors = np.linalg.solve(a, b).shape; // [2, 2]: a 1-D b is one vector for every matrix
  const diagonals = np.linalg.diagonal(a, { offset: 1 }); // [[1], [1]]: numpy 2's, the last two axes
  return { solved, determinant, sign, logabsdet, columns, vectors, diagonals };
}
