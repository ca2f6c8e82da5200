/**
 * The code of getting-started.md. Each function is one section of the guide; the test
 * (test/examples/guides.test.ts) runs them all and checks what the guide says they print.
 */
import { grad, jit, type NdArray, np, ShapeError } from "tracegrad";

export function creatingArrays() {
  const x = np.array([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const [shape, dtype] = [x.shape, x.dtype]; // [2, 3], "float32"
  const flat = np.array([1, 2, 3, 4, 5, 6], { shape: [3, 2] });
  const counts = np.array([3, 1, 2], { dtype: "int32" });
  const z = np.zeros([2, 2]);
  const steps = np.linspace(0, 1, 5); // [0, 0.25, 0.5, 0.75, 1]
  const ids = np.arange(4); // int32 [0, 1, 2, 3]
  return { x, shape, dtype, flat, counts, z, steps, ids };
}

export function readingValues() {
  const x = np.array([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const nested = x.toArray(); // [[1, 2, 3], [4, 5, 6]]
  const typed = x.toTypedArray(); // Float32Array [1, 2, 3, 4, 5, 6], row-major
  const total = x.sum().item(); // 21, a JS number
  const printed = String(x); // also what console.log(`${x}`) shows:
  // array([[1., 2., 3.],
  //        [4., 5., 6.]], shape=[2,3], dtype=float32)
  return { nested, typed, total, printed };
}

export function operations() {
  const x = np.array([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const y = np.add(x, 1); // numpy-style functions...
  const same = x.add(1); // ...or the same as methods
  const rowSums = np.sum(x, { axis: 1 }); // [6, 15]
  const columnMeans = x.mean({ axis: 0, keepdims: true }); // shape [1, 3]
  const product = np.matmul(x, x.T); // [2, 3] @ [3, 2] -> [2, 2]
  const chained = x.mul(2).sub(1).square().sum(); // one scalar array
  return { y, same, rowSums, columnMeans, product, chained };
}

export function broadcasting() {
  const x = np.array([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const shifted = x.sub(np.array([1, 2, 3])); // [2, 3] - [3]: the row is repeated
  const column = np.array([[10], [20]]); // [2, 1]
  const table = column.add(np.array([1, 2, 3])); // [2, 1] + [3] -> [2, 3]
  let message = "";
  try {
    np.add(x, np.array([1, 2])); // [2, 3] + [2]: trailing dimensions 3 and 2 differ
  } catch (error) {
    if (error instanceof ShapeError) message = error.message;
    // add: shapes [2,3] and [2] cannot be broadcast together (dimension 2 vs 3)
  }
  return { shifted, table, message };
}

export function dtypes() {
  const f32 = np.array([1.5, 2.5]); // float32: the default for JS numbers
  const f64 = np.array([1.5, 2.5], { dtype: "float64" });
  const i32 = np.array([1, 2], { dtype: "int32" });

  // JS numbers are "weakly typed" (as in JAX): they take the array's dtype instead of widening it.
  const stillF32 = f32.mul(0.1).dtype; // "float32", not float64
  const intPlusFloat = i32.add(0.5).dtype; // "float32": a fractional number makes an int array float
  // Two arrays promote as numpy does: the wider type wins.
  const mixed = f32.add(f64).dtype; // "float64"
  const cast = i32.astype("float64").dtype; // "float64"
  const isPositive = f32.greater(2).dtype; // "bool"
  return { stillF32, intPlusFloat, mixed, cast, isPositive };
}

export function immutability() {
  const x = np.array([1, 2, 3]);
  const y = x.add(1); // a new array; x is unchanged
  // There is no x[0] = 10: build the new value instead.
  const replaced = np.where(np.arange(3).equal(0), 10, x); // [10, 2, 3]
  return { x, y, replaced };
}

export function noDispose() {
  // Arrays are plain JS objects: the garbage collector frees them, so there is no dispose(), tidy()
  // or reference counting. A training loop just rebinds its variables:
  const loss = (w: NdArray) => w.sub(3).square().sum();
  const step = jit((w: NdArray) => w.sub(grad(loss)(w).mul(0.1)));
  let w = np.zeros([4]);
  for (let i = 0; i < 50; i++) w = step(w); // the old w becomes garbage
  // Inside jit, intermediates live in one preallocated arena that is reused on every call.
  return { w };
}
