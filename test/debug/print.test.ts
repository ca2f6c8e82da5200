/**
 * debug.print: the lines it prints, in program order, eagerly and inside jit, grad, vmap and their
 * nestings (under grad the primal values once, under vmap once per example, as JAX documents); the format
 * string's fields; and that the compiler keeps the effect (no dead-code elimination, CSE or folding).
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  debug,
  grad,
  jit,
  jvp,
  makeProgram,
  type NdArray,
  nn,
  np,
  valueAndGrad,
  vmap,
} from "../../src/index.js";

let lines: string[] = [];
let previous: debug.PrintSink;
beforeEach(() => {
  lines = [];
  previous = debug.setPrintSink((line) => lines.push(line));
});
afterEach(() => {
  debug.setPrintSink(previous);
});

/** Prints x, then y = sin(x), and returns sum(y): the example of JAX's documentation. */
function f(x: NdArray): NdArray {
  debug.print("x: {}", x);
  const y = np.sin(x);
  debug.print("y: {}", y);
  return y.sum();
}

const xs = () => np.array([0, 1, 2], { dtype: "float64" });
const SIN = ["0.", "0.84147098", "0.90929743"];

describe("debug.print prints concrete values in program order", () => {
  it("eagerly", () => {
    f(xs());
    expect(lines).toEqual(["x: [0., 1., 2.]", `y: [${SIN.join(", ")}]`]);
  });

  it("inside jit, each time the plan runs (not when it is traced)", () => {
    const jf = jit(f);
    jf.lower(xs()); // traces and compiles: prints nothing
    expect(lines).toEqual([]);
    jf(xs());
    jf(np.array([3, 4, 5], { dtype: "float64" }));
    expect(lines).toEqual([
      "x: [0., 1., 2.]",
      `y: [${SIN.join(", ")}]`,
      "x: [3., 4., 5.]",
      "y: [0.14112001, -0.7568025, -0.95892427]",
    ]);
    expect(jf.cacheInfo().misses).toBe(1);
  });

  it("under grad: the primal values, once, in the forward pass", () => {
    const g = grad(f)(xs());
    expect(lines).toEqual(["x: [0., 1., 2.]", `y: [${SIN.join(", ")}]`]);
    expect(g.toArray()).toEqual([1, Math.cos(1), Math.cos(2)]);
  });

  it("under jvp: the primals only", () => {
    jvp(f, [xs()], [np.onesLike(xs())]);
    expect(lines).toEqual(["x: [0., 1., 2.]", `y: [${SIN.join(", ")}]`]);
  });

  it("under vmap: once per example, each print over the batch before the next (JAX's order)", () => {
    vmap(f)(xs());
    expect(lines).toEqual(["x: 0.", "x: 1.", "x: 2.", ...SIN.map((s) => `y: ${s}`)]);
  });

  it("under nested vmap: once per element (the inner axis unrolled first, as JAX's rule does)", () => {
    const m = np.array(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      { dtype: "float64" },
    );
    const show = (x: NdArray) => {
      debug.print("{}", x);
      return x;
    };
    vmap(vmap(show))(m);
    expect(lines).toEqual(["1.", "4.", "2.", "5.", "3.", "6."]);
  });

  it("a value that is not batched prints once per example beside the batched one", () => {
    const scaled = (x: NdArray, w: NdArray) => {
      debug.print("{} {}", x, w);
      return x.mul(w);
    };
    vmap(scaled, { inAxes: [0, null] })(
      np.array([1, 2], { dtype: "float64" }),
      np.array(7, { dtype: "float64" }),
    );
    expect(lines).toEqual(["1. 7.", "2. 7."]);
  });

  it("inside jit(grad(vmap(f))): per example, primal values, when the plan runs", () => {
    const loss = (w: NdArray, batch: NdArray) =>
      vmap((x: NdArray) => {
        debug.print("x={} w={}", x, w);
        return np.tanh(x.mul(w));
      })(batch).sum();
    const step = jit(grad(loss));
    const w = np.array(0.5, { dtype: "float64" });
    const batch = np.array([1, 2, 3], { dtype: "float64" });
    step.lower(w, batch);
    expect(lines).toEqual([]);
    const g = step(w, batch);
    expect(lines).toEqual(["x=1. w=0.5", "x=2. w=0.5", "x=3. w=0.5"]);
    const expected = [1, 2, 3].reduce((s, x) => s + x * (1 - Math.tanh(0.5 * x) ** 2), 0);
    expect(g.item()).toBeCloseTo(expected, 12);
    step(w, batch);
    expect(lines.length).toBe(6);
  });

  it("vmap(jit(f)) and grad(jit(f)) print like the eager function", () => {
    vmap(jit(f))(xs());
    expect(lines).toEqual(["x: 0.", "x: 1.", "x: 2.", ...SIN.map((s) => `y: ${s}`)]);
    lines = [];
    debug.setPrintSink((line) => lines.push(line));
    grad(jit(f))(xs());
    expect(lines).toEqual(["x: [0., 1., 2.]", `y: [${SIN.join(", ")}]`]);
  });

  it("valueAndGrad of a jitted function prints once per call", () => {
    const vg = jit(valueAndGrad(f));
    vg(xs());
    vg(xs());
    expect(lines.length).toBe(4);
  });

  it("a print with no arrays prints its text when the plan runs", () => {
    const g = jit((x: NdArray) => {
      debug.print("hello {} {{}}", 42);
      return x.add(1);
    });
    g(xs());
    g(xs());
    expect(lines).toEqual(["hello 42 {}", "hello 42 {}"]);
  });
});

describe("the compiler keeps effects", () => {
  it("a print whose value is otherwise unused is not removed, and two equal prints both run", () => {
    const g = jit((x: NdArray) => {
      const unused = np.exp(x);
      debug.print("{}", unused);
      debug.print("{}", unused);
      return x;
    });
    g(np.array([0], { dtype: "float64" }));
    expect(lines).toEqual(["[1.]", "[1.]"]);
    const printed = g.lower(np.array([0], { dtype: "float64" })).executable.toString();
    // Each print is a step of the plan of its own, named with what it prints.
    expect(printed.match(/^ {2}\d+: debug_callback\[print "\{\}"\]$/gm)).toHaveLength(2);
  });

  it("a print of a scalar constant is not folded at compile time", () => {
    const g = jit((x: NdArray) => {
      debug.print("c={}", np.array(2).mul(3));
      return x;
    });
    g.lower(np.array(1));
    expect(lines).toEqual([]);
    g(np.array(1));
    expect(lines).toEqual(["c=6."]);
  });

  it("the traced program shows the effect with its format", () => {
    const text = makeProgram(f)(xs()).toString();
    expect(text).toContain('debug_callback[print "x: {}"] a');
  });

  it("prints between other effects keep their order around fused loops", () => {
    const g = jit((x: NdArray) => {
      const a = x.mul(2);
      debug.print("a={}", a);
      const b = a.add(1);
      debug.print("b={}", b);
      const c = b.mul(b);
      debug.print("c={}", c);
      return c;
    });
    g(np.array([1], { dtype: "float64" }));
    expect(lines).toEqual(["a=[2.]", "b=[3.]", "c=[9.]"]);
  });
});

describe("effects and value checks keep their order", () => {
  it("a loss's label check (hoisted to the plan's start) does not move before an earlier print", () => {
    const loss = jit((logits: NdArray, labels: NdArray) => {
      debug.print("logits {}", logits.sum());
      return nn.crossEntropy(logits, labels);
    });
    const logits = np.zeros([2, 3]);
    expect(() => loss(logits, np.array([0, 7], { dtype: "int32" }))).toThrow(RangeError);
    expect(lines).toEqual(["logits 0."]);
  });
});

describe("format strings", () => {
  const x = () => np.array([1.5, -2], { dtype: "float32" });

  it("positional {} and {0}, named {name} from a last plain object, braces", () => {
    debug.print("{} and {}", x(), 3);
    debug.print("{1} then {0} then {1}", "a", "b");
    debug.print("x={x} n={n} {{literal}}", { x: x(), n: 2 });
    debug.print("{} {y}", x(), { y: x() });
    expect(lines).toEqual([
      "[1.5, -2.] and 3",
      "b then a then b",
      "x=[1.5, -2.] n=2 {literal}",
      "[1.5, -2.] [1.5, -2.]",
    ]);
  });

  it("!r shows the array's toString; specs .Nf, .Ne, .Ng per element", () => {
    debug.print("{!r}", x());
    debug.print("{:.2f} {:.1e} {:.3g}", x(), np.array(12345.678), np.array([0.000012345, 2.5]));
    expect(lines).toEqual([
      "array([1.5, -2.], shape=[2], dtype=float32)",
      "[1.50, -2.00] 1.2e+04 [1.23e-05, 2.5]",
    ]);
  });

  it("pytrees print as JS literals of their formatted leaves", () => {
    debug.print("{}", { w: np.array([1, 2]), b: [np.array(0), 3] });
    expect(lines).toEqual(["{ w: [1., 2.], b: [0., 3] }"]);
  });

  it("bad formats are TypeErrors naming debug.print and the format, thrown when print is called", () => {
    const bad: [string, unknown[], RegExp][] = [
      ["{} {}", [x()], /reads positional value 1 but 1 was given/],
      ["{} {0}", [x(), x()], /cannot switch from automatic field numbering/],
      ["{x}", [x()], /named fields, so its last value must be a plain object/],
      ["{y}", [{ x: x() }], /reads \{y\} but the keyword object has 'x'/],
      ["{x.shape}", [{ x: x() }], /only \{\}, \{0\} and \{name\}/],
      ["{:>10}", [x()], /format spec ':>10' .* is not supported/],
      ["{", [], /never closed/],
      ["}", [], /single '\}'/],
      ["{!a}", [x()], /unknown conversion !a/],
    ];
    for (const [fmt, values, message] of bad) {
      expect(() => debug.print(fmt, ...values), fmt).toThrow(TypeError);
      expect(() => debug.print(fmt, ...values), fmt).toThrow(message);
      const traced = jit((y: NdArray) => {
        debug.print(fmt, ...values);
        return y;
      });
      expect(() => traced(x()), fmt).toThrow(/debug\.print/);
    }
    expect(lines).toEqual([]);
  });

  it("setPrintSink returns the sink in place and null restores console.log", () => {
    const mine = (_: string) => {};
    const before = debug.setPrintSink(mine);
    expect(debug.setPrintSink(null)).toBe(mine);
    expect(() => debug.setPrintSink(42 as never)).toThrow(TypeError);
    debug.setPrintSink(before);
  });
});
