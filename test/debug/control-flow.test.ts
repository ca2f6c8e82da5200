/**
 * Effects inside higher-order primitives: a print in a scan body runs once per iteration (jitted too, and
 * even when nothing reads the scan's results: the scan has the effects of its body), a print in a cond runs
 * in the branch taken, and a print under checkpoint runs again when the backward pass recomputes it.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { checkpoint, cond, debug, grad, jit, type NdArray, np, scan } from "../../src/index.js";

let lines: string[] = [];
let previous: debug.PrintSink;
beforeEach(() => {
  lines = [];
  previous = debug.setPrintSink((line) => lines.push(line));
});
afterEach(() => {
  debug.setPrintSink(previous);
});

const body = (c: NdArray, x: NdArray): [NdArray, NdArray] => {
  debug.print("carry={} x={}", c, x);
  return [c.add(x), c.mul(x)];
};
const total = (xs: NdArray) => scan(body, np.array(0), xs)[0];
const SCAN_LINES = ["carry=0. x=1.", "carry=1. x=2.", "carry=3. x=3."];

describe("effects in control flow", () => {
  it("a scan body prints once per iteration: eager, jitted, under grad", () => {
    total(np.array([1, 2, 3]));
    jit(total)(np.array([1, 2, 3]));
    grad(total)(np.array([1, 2, 3]));
    expect(lines).toEqual([...SCAN_LINES, ...SCAN_LINES, ...SCAN_LINES]);
  });

  it("a jitted scan whose results nothing reads still runs for its prints", () => {
    jit((xs: NdArray) => {
      scan(body, np.array(0), xs);
      return xs;
    })(np.array([1, 2, 3]));
    expect(lines).toEqual(SCAN_LINES);
  });

  it("a cond prints in the branch it takes", () => {
    const g = jit((p: NdArray, x: NdArray) =>
      cond(
        p,
        (y: NdArray) => {
          debug.print("true {}", y);
          return y.mul(2);
        },
        (y: NdArray) => {
          debug.print("false {}", y);
          return y;
        },
        x,
      ),
    );
    g(np.array(true), np.array(3));
    g(np.array(false), np.array(4));
    expect(lines).toEqual(["true 3.", "false 4."]);
  });

  it("under checkpoint, grad prints in the forward pass and again when the backward pass recomputes", () => {
    const f = checkpoint((x: NdArray) => {
      debug.print("f({})", x);
      return np.sin(x);
    });
    grad(f)(np.array(1));
    expect(lines).toEqual(["f(1.)", "f(1.)"]);
  });
});
