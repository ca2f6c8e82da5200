/**
 * The code of debugging.md: debug.print inside jit, grad and vmap (and jit(grad(vmap(f)))), debug.callback,
 * debug.check, setDebugNans and how the effects show in a program. test/examples/guides.test.ts runs
 * every function and checks that the output shown in the guide is what it prints.
 */
import {
  debug,
  FloatingPointError,
  grad,
  jit,
  makeProgram,
  type NdArray,
  np,
  setDebugNans,
  vmap,
} from "tracegrad";

/** Runs `body` with debug.print's lines collected instead of printed; returns them. */
function printed(body: () => void): string[] {
  const lines: string[] = [];
  const previous = debug.setPrintSink((line) => lines.push(line));
  try {
    body();
  } finally {
    debug.setPrintSink(previous);
  }
  return lines;
}

export function consoleLogShowsTracers() {
  let logged = "";
  const f = jit((x: NdArray) => {
    logged = String(x); // runs once, while tracing: x has no value yet
    return np.sin(x);
  });
  f(np.array([0, 1, 2]));
  return logged; // "Traced<float32[3]>"
}

export function printInsideJit() {
  return printed(() => {
    const f = jit((x: NdArray) => {
      debug.print("x: {}", x);
      const y = np.sin(x);
      debug.print("y: {}", y);
      return y;
    });
    f(np.array([0, 1, 2])); // prints x: [0., 1., 2.] then y: [0., 0.841471, 0.909297]
    f(np.array([3, 4, 5])); // prints again: the print is part of the compiled plan
  });
}

export function formatting() {
  return printed(() => {
    const w = np.array([
      [1, 2],
      [3, 4],
    ]);
    const b = np.array([0.5, -0.25]);
    debug.print("{} and {}", w, b); // positional, in order
    debug.print("b={1} sum={0}", w.sum(), b); // by index
    debug.print("w={w} b={b}", { w, b }); // by name: a last plain object holds the values
    debug.print("{!r}", b); // the whole toString
    debug.print("{:.3f}", b.mul(Math.PI)); // each element with a precision (.Nf, .Ne, .Ng)
    debug.print("params: {}", { w, b }); // a pytree
  });
}

export function insideJitGradVmap() {
  // A per-example loss, vmapped over the batch, differentiated and compiled.
  const loss = (w: NdArray, xs: NdArray, ys: NdArray) =>
    vmap((x: NdArray, y: NdArray) => {
      const prediction = np.tanh(x.mul(w).sum());
      debug.print("x={} prediction={:.4f} target={}", x, prediction, y);
      return prediction.sub(y).square();
    })(xs, ys).mean();
  const step = jit(grad(loss));
  const w = np.array([0.5, -0.5]);
  const xs = np.array([
    [1, 2],
    [3, 1],
    [0, 2],
  ]);
  const ys = np.array([0, 1, -1]);
  let gradient: NdArray | null = null;
  const lines = printed(() => {
    gradient = step(w, xs, ys); // one line per example, with primal values, when the plan runs
  });
  return { lines, gradient: gradient! };
}

export function callbacks() {
  const norms: number[] = [];
  const f = jit((x: NdArray) => {
    const h = np.tanh(x.mul(3));
    debug.callback((v: NdArray) => norms.push(Math.hypot(...v.toTypedArray())), h);
    return h.sum();
  });
  f(np.array([0.1, 0.2]));
  f(np.array([1, 2]));
  return norms; // one norm per call, computed from concrete values
}

export function checks() {
  const safeLog = jit((x: NdArray) => {
    debug.check(x.greater(0), "safeLog needs positive inputs, got {}", x);
    return np.log(x);
  });
  safeLog(np.array([1, 2])); // fine
  let message = "";
  try {
    safeLog(np.array([1, -2])); // the check fails when the plan runs
  } catch (error) {
    if (error instanceof debug.CheckError) message = error.message;
  }
  return message.split("\n")[0] ?? ""; // "safeLog needs positive inputs, got [1., -2.] (element 1 of bool[2] is false)"
}

export function nans() {
  const f = jit((x: NdArray) => np.log(x.sub(1)).mul(2).sum());
  const quiet = f(np.array([2, 0.5, 3])); // NaN, silently
  setDebugNans(true);
  let message = "";
  try {
    jit((x: NdArray) => np.log(x.sub(1)).mul(2).sum())(np.array([2, 0.5, 3]));
  } catch (error) {
    if (error instanceof FloatingPointError) message = error.message;
  } finally {
    setDebugNans(false);
  }
  return { quiet, message };
}

export function inThePrintedProgram() {
  const f = (x: NdArray) => {
    debug.print("x: {}", x);
    return np.sin(x);
  };
  return makeProgram(vmap(f))(np.array([0, 1])).toString();
}
