import { describe, expect, it } from "vitest";
import { jit, nn, np, ShapeError } from "../../src/index.js";

// PyTorch 1.13: torch.softmax(torch.zeros(2, 0), 1) has shape [2, 0]; torch.logsumexp(torch.zeros(2, 0), 1)
// is [-inf, -inf] (the log of an empty sum).
describe("softmax, logSoftmax and logsumexp over an empty axis", () => {
  const x = np.zeros([2, 0]);

  it("softmax and logSoftmax give the empty result, as PyTorch (no error naming 'max')", () => {
    expect(nn.softmax(x).shape).toEqual([2, 0]);
    expect(nn.logSoftmax(x, { axis: 1 }).shape).toEqual([2, 0]);
    expect(jit((v: typeof x) => nn.softmax(v))(x).shape).toEqual([2, 0]);
  });

  it("logsumexp is -inf, the log of an empty sum", () => {
    expect(nn.logsumexp(x, { axis: 1 }).toArray()).toEqual([
      Number.NEGATIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(nn.logsumexp(x, { axis: 1, keepdims: true }).shape).toEqual([2, 1]);
  });

  it("an axis out of range names the function that was called", () => {
    expect(() => nn.softmax(x, { axis: 2 })).toThrow(ShapeError);
    expect(() => nn.softmax(x, { axis: 2 })).toThrow(/^softmax: axis 2 is out of bounds/);
    expect(() => nn.logSoftmax(x, { axis: -3 })).toThrow(/^logSoftmax: axis -3 is out of bounds/);
  });
});
