/** Pictures: the program graph (DOT) and the training-curve chart (SVG). */
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { makeProgram, type NdArray, np, valueAndGrad, viz, vjp } from "../../src/index.js";

const graphvizInstalled = spawnSync("dot", ["-V"]).status === 0;

/** Node lines (`eq3 [label=...]`) of a DOT text, by the fill colour they use. */
const fills = (dot: string): string[] =>
  dot
    .split("\n")
    .filter((line) => /^\s+eq\d+ \[/.test(line))
    .map((line) => /fillcolor="([^"]+)"/.exec(line)![1]!);

describe("viz.programToDot", () => {
  const loss = (w: NdArray, x: NdArray) => np.sum(np.tanh(np.matmul(x, w)).square());
  const w = np.ones([3, 2]);
  const x = np.ones([4, 3]);

  it("draws equations with primitive names and shapes, inputs and outputs named by path", () => {
    const program = makeProgram(valueAndGrad(loss))(w, x);
    const dot = viz.programToDot(program, {
      title: "loss and gradient",
      forwardOutputs: [0],
      argNames: ["w", "x"],
      resultNames: ["loss", "grad"],
    });
    expect(dot.startsWith("digraph program {")).toBe(true);
    expect(dot).toContain('label="loss and gradient"');
    expect(dot).toContain("<b>matmul</b>");
    expect(dot).toContain("f32[4,2]");
    expect(dot).toMatch(/in0 \[label=<<b>w<\/b>.*shape=invhouse/);
    expect(dot).toMatch(/out0 \[label=<<b>loss<\/b>.*shape=house/);
    expect(dot).toMatch(/out1 \[label=<<b>grad<\/b>/);
    // Both parts are there, and the forward values the backward pass reads are dashed edges.
    const colours = new Set(fills(dot));
    expect(colours.size).toBe(2);
    expect(dot).toContain("style=dashed");
    expect(dot).toContain("backward pass");
  });

  it("marks the equations that depend on a cotangent input as the backward pass", () => {
    const pullback = (v: NdArray, ct: NdArray) => vjp(np.sin, v)[1](ct)[0];
    const program = makeProgram(pullback)(np.ones([5]), np.ones([5]));
    const dot = viz.programToDot(program, { cotangentInputs: [-1] });
    const colours = fills(dot);
    // sin's derivative (cos) is forward work; the multiply by the cotangent is backward.
    expect(new Set(colours).size).toBe(2);
    expect(() => viz.programToDot(program, { cotangentInputs: [7] })).toThrow(/no input 7/);
  });

  it("leaves out equations no output uses, unless asked to keep them", () => {
    const f = (v: NdArray) => {
      np.exp(v); // traced, never used
      return v.mul(2);
    };
    const program = makeProgram(f)(np.ones([2]));
    expect(viz.programToDot(program)).not.toContain("<b>exp</b>");
    expect(viz.programToDot(program, { pruneUnused: false })).toContain("<b>exp</b>");
    expect(viz.programToDot(program)).not.toContain("legend");
  });

  it.runIf(graphvizInstalled)("writes DOT that Graphviz renders", () => {
    const dot = viz.programToDot(makeProgram(valueAndGrad(loss))(w, x), { forwardOutputs: [0] });
    const result = spawnSync("dot", ["-Tsvg"], { input: dot, encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout).toContain("<svg");
  });
});

describe("viz.lineChart", () => {
  const steps = Array.from(
    { length: 200 },
    (_, i) => [i / 40, 2 * Math.exp(-i / 50) + 0.1 * Math.sin(i)] as const,
  );
  const svg = viz.lineChart(
    [
      { label: "training loss (per step)", points: steps, color: "#1f77b4" },
      {
        label: "test accuracy",
        points: [
          [1, 0.9],
          [2, 0.95],
          [3, 0.97],
          [4, 0.98],
          [5, 0.985],
        ],
        color: "#d62728",
        axis: "right",
      },
    ],
    { title: "curves", xLabel: "epoch", leftLabel: "loss", rightLabel: "accuracy" },
  );

  it("puts the legend above the plot, not over the data", () => {
    const frameTop = Number(/<rect x="72" y="([\d.]+)"/.exec(svg)![1]);
    const legendY = Number(/<text x="[\d.]+" y="([\d.]+)">test accuracy<\/text>/.exec(svg)![1]);
    expect(legendY).toBeLessThan(frameTop);
  });

  it("draws a long noisy series faint with a moving average, and labels short series' values", () => {
    expect(svg).toContain('stroke-opacity="0.3"');
    expect(svg).toContain("8-point average");
    expect(svg).toContain(">0.985</text>");
    expect(svg).toContain(">accuracy</text>");
  });

  // A loss from step 1 (x > 0) with one spike to 40 at step 10, and an accuracy that starts low.
  const spiky = steps.map(([x, y], i) => [x + 1 / 40, i === 10 ? 40 : y] as const);
  const accuracy = [
    [1, 0.3],
    [2, 0.9],
    [3, 0.95],
  ] as const;
  const chart = (clipLeftQuantile?: number) =>
    viz.lineChart(
      [
        { label: "loss", points: spiky, color: "#1f77b4" },
        { label: "accuracy", points: accuracy, color: "#d62728", axis: "right" },
      ],
      {
        title: "curves",
        xLabel: "epoch",
        leftLabel: "loss",
        rightLabel: "accuracy",
        rightRange: [0, 1],
        xRange: [0, 5],
        ...(clipLeftQuantile === undefined ? {} : { clipLeftQuantile }),
      },
    );
  const tickLabels = (doc: string, anchor: string) =>
    [
      ...doc.matchAll(
        new RegExp(`<text x="[\\d.]+" y="[\\d.]+" text-anchor="${anchor}">([^<]+)</text>`, "g"),
      ),
    ].map((m) => m[1]);
  const leftTicks = (doc: string) => tickLabels(doc, "end").map(Number);

  it("ends the left axis at a quantile, marking the spike above it with ▲ and its value", () => {
    expect(Math.max(...leftTicks(chart()))).toBeGreaterThanOrEqual(40);
    const clipped = chart(0.99);
    expect(Math.max(...leftTicks(clipped))).toBeLessThanOrEqual(2.5);
    expect(clipped).toContain(">40</text>");
    expect(clipped).toContain("▲ above the axis");
    expect(clipped).toContain('clip-path="url(#plot-area)"');
    expect(chart()).not.toContain("▲");
    expect(() => chart(0)).toThrow("clipLeftQuantile must be in (0, 1]");
  });

  it("starts the x axis at 0 with a tick when asked (the data start after 0)", () => {
    expect(tickLabels(chart(0.99), "middle").slice(0, 2)).toEqual(["0", "1"]);
  });

  it("writes a value label on the side of its point away from the other curve", () => {
    // At epoch 1 the loss (about 1 on an axis to 2.5) runs just above the accuracy 0.3 (on [0, 1]):
    // the label goes below the point.
    const doc = chart(0.99);
    const point = /<circle cx="([\d.]+)" cy="([\d.]+)" r="3.5" fill="#d62728"\/>/.exec(doc)!;
    const label =
      /<text x="[\d.]+" y="([\d.]+)" text-anchor="middle" font-size="11" fill="#d62728"[^>]*>0.3<\/text>/.exec(
        doc,
      )!;
    expect(Number(label[1])).toBeGreaterThan(Number(point[2]));
  });

  it("draws a shaded band under a series, and a points series as dots without a line or labels", () => {
    const xs = [0, 1, 2, 3];
    const doc = viz.lineChart(
      [
        {
          label: "mean",
          color: "#1f77b4",
          points: xs.map((x) => [x, x] as const),
          band: xs.map((x) => [x, x - 1, x + 10] as const),
        },
        { label: "data", color: "#d62728", style: "points", points: xs.map((x) => [x, x + 0.5] as const) },
      ],
      { title: "band", xLabel: "x", leftLabel: "y" },
    );
    // The band: one closed filled path (4 upper + 4 lower corners), drawn before the lines.
    const band = /<path d="(M[^"]+) Z" fill="#1f77b4" fill-opacity="0.18"/.exec(doc)!;
    expect(band[1]!.split(" ")).toHaveLength(8);
    expect(doc.indexOf('fill-opacity="0.18" stroke')).toBeLessThan(
      doc.indexOf('stroke="#1f77b4" stroke-width="2"'),
    );
    // The band's top (13) is within the left axis: its ticks reach it.
    expect(doc).toMatch(/text-anchor="end">1[0-5]<\/text>/);
    // The points: four dots and a legend dot, no path and no value labels in their colour.
    expect(doc.match(/<circle [^>]*fill="#d62728"\/>/g)).toHaveLength(5);
    expect(doc).not.toMatch(/stroke="#d62728"/);
    expect(doc).not.toMatch(/fill="#d62728" stroke="white"/);
  });
});
