import { checkOptions, optionKeys } from "../core/options.js";
/**
 * A small dependency-free SVG line chart for training curves: one or two y axes (e.g. loss on the
 * left, accuracy on the right), labelled axes, ticks at round numbers, and a legend above the plot
 * (never over the data). Long noisy series (per-step losses) are drawn faint with a bold moving
 * average; short ones (per-epoch accuracy) get markers and their values written at each point, on the
 * side of the point away from the other curves. An early spike need not flatten the left axis:
 * `clipLeftQuantile` ends it at a quantile of the values and marks what lies above with ▲ and its value.
 */

/** One curve of a line chart. */
export interface Series {
  /** The legend entry. */
  label: string;
  /** [x, y] points in order of x. */
  points: readonly (readonly [number, number])[];
  /** An SVG colour (`#1f77b4`, `steelblue`). */
  color: string;
  /** Which y axis the series is drawn against. Default "left". */
  axis?: "left" | "right";
  /** "line" (default) joins the points; "points" draws a dot at each, no line and no value labels (data). */
  style?: "line" | "points";
  /** A shaded band drawn under the series, [x, lower, upper] in order of x (e.g. a 2σ interval). */
  band?: readonly (readonly [number, number, number])[];
}

/** The chart's title, axis labels and size. */
export interface LineChartOptions {
  /** Drawn above the legend. */
  title: string;
  /** The label of the x axis. */
  xLabel: string;
  /** The label of the left y axis. */
  leftLabel: string;
  /** The label of the right y axis; without it that axis has no ticks or label. */
  rightLabel?: string;
  /** In pixels (default 720). */
  width?: number;
  /** In pixels (default 440). */
  height?: number;
  /** Fixed range for the right axis (e.g. [0, 1] for accuracy); otherwise from the data. */
  rightRange?: readonly [number, number];
  /** Fixed range for the x axis (e.g. [0, epochs], so that 0 has a tick); otherwise from the data. */
  xRange?: readonly [number, number];
  /**
   * Ends the left axis at this quantile of its values (e.g. 0.99) instead of their maximum, but never
   * below a moving average or a short series' point; the values above are cut off at the top edge and
   * marked with ▲ and their value. A linear axis that one early spike does not flatten. Default 1.
   */
  clipLeftQuantile?: number;
}

const escapeXml = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.ceil(lo / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let t = first; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function formatTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(0);
  return String(Number(v.toPrecision(4)));
}

/** A data value for a label: three significant digits. */
function formatValue(v: number): string {
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(3)));
}

function extent(values: number[], fallback: [number, number]): [number, number] {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return fallback;
  let lo = Math.min(...finite);
  let hi = Math.max(...finite);
  if (lo === hi) {
    lo -= 0.5;
    hi += 0.5;
  }
  return [lo, hi];
}

/** Rough width of `text` at `fontSize` in Helvetica (for laying out the legend without a browser). */
function textWidth(text: string, fontSize: number): number {
  return text.length * fontSize * 0.46;
}

/** A centred moving average over `window` points (shrinking at the ends), for noisy per-step curves. */
function movingAverage(points: readonly (readonly [number, number])[], window: number): [number, number][] {
  const half = Math.floor(window / 2);
  return points.map((p, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(points.length, i + half + 1);
    let sum = 0;
    for (let j = lo; j < hi; j++) sum += points[j]![1];
    return [p[0], sum / (hi - lo)];
  });
}

/** The value at quantile `q` (0..1) of `values` (nearest rank). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The y of a polyline (points in order of x) at `x`, or null outside its x range. */
function yAt(line: readonly (readonly [number, number])[], x: number): number | null {
  for (let i = 1; i < line.length; i++) {
    const [xa, ya] = line[i - 1]!;
    const [xb, yb] = line[i]!;
    if (x >= xa && x <= xb) return xb === xa ? Math.min(ya, yb) : ya + ((x - xa) / (xb - xa)) * (yb - ya);
  }
  return null;
}

/**
 * ▲ and the value at the top edge for each run of points above the axis's top (the highest point of
 * the run; runs closer than a marker's width share one).
 */
function clipMarkers(
  points: readonly (readonly [number, number])[],
  top: number,
  sx: (x: number) => number,
  frameTop: number,
  color: string,
): string[] {
  const peaks: (readonly [number, number])[] = [];
  let lastX = Number.NEGATIVE_INFINITY;
  for (const p of points) {
    if (!(p[1] > top)) continue;
    const current = peaks[peaks.length - 1];
    if (current && sx(p[0]) - lastX < 40) {
      if (p[1] > current[1]) peaks[peaks.length - 1] = p;
    } else peaks.push(p);
    lastX = sx(p[0]);
  }
  return peaks.map((p) => {
    const x = sx(p[0]);
    const y = frameTop + 2;
    return (
      `<path d="M${x - 5},${y + 8} L${x + 5},${y + 8} L${x},${y} Z" fill="${color}"/>` +
      `<text x="${x + 8}" y="${y + 10}" font-size="11" fill="${color}" stroke="white" stroke-width="3" paint-order="stroke">${formatValue(p[1])}</text>`
    );
  });
}

/** Series with more points than this are drawn faint, with a bold moving average on top. */
const SMOOTH_ABOVE = 60;
/** Series with at most this many points get a marker and their value at each point. */
const LABEL_AT_MOST = 12;

const LINE_CHART_KEYS = optionKeys<LineChartOptions>({
  title: true,
  xLabel: true,
  leftLabel: true,
  rightLabel: true,
  width: true,
  height: true,
  rightRange: true,
  xRange: true,
  clipLeftQuantile: true,
});

/**
 * An SVG line chart (a standalone document, as text) of the series: one or two y axes, round ticks, a
 * legend above the plot; long series drawn faint under a moving average, short ones with value labels.
 */
export function lineChart(series: readonly Series[], options: LineChartOptions): string {
  checkOptions("lineChart", options, LINE_CHART_KEYS);
  const width = options.width ?? 720;
  const height = options.height ?? 440;
  const fontSize = 13;
  const clipQuantile = options.clipLeftQuantile ?? 1;
  if (!(clipQuantile > 0 && clipQuantile <= 1)) {
    throw new RangeError(`lineChart: clipLeftQuantile must be in (0, 1], got ${clipQuantile}`);
  }

  // The legend sits in rows between the title and the plot, so it never covers a curve.
  const smoothed = series.map((s) => {
    const finite = s.points.filter((p) => Number.isFinite(p[1]));
    const window =
      finite.length > SMOOTH_ABOVE && s.style !== "points" ? Math.max(5, Math.round(finite.length / 25)) : 0;
    return { series: s, finite, window, average: window > 0 ? movingAverage(finite, window) : finite };
  });
  const isLeft = (s: Series) => (s.axis ?? "left") === "left";

  // The left axis's top: the maximum, or the quantile but never below what is drawn bold.
  const bandYs = (s: Series) => (s.band ?? []).flatMap((b) => [b[1], b[2]]).filter(Number.isFinite);
  const leftYs = smoothed
    .filter((d) => isLeft(d.series))
    .flatMap((d) => [...d.finite.map((p) => p[1]), ...bandYs(d.series)]);
  const boldLeftYs = smoothed.filter((d) => isLeft(d.series)).flatMap((d) => d.average.map((p) => p[1]));
  const leftMax = leftYs.length > 0 ? Math.max(...leftYs) : Number.NEGATIVE_INFINITY;
  const leftTop =
    clipQuantile < 1 && leftYs.length > 0 ? Math.max(quantile(leftYs, clipQuantile), ...boldLeftYs) : leftMax;
  const clipped = (d: (typeof smoothed)[number]) => isLeft(d.series) && d.finite.some((p) => p[1] > leftTop);

  const legendItems = smoothed.map((d) => {
    const bold = d.window > 0 ? `, bold: ${d.window}-point average` : "";
    const label = `${d.series.label}${bold}${clipped(d) ? ", ▲ above the axis" : ""}`;
    return { ...d, label, width: 30 + textWidth(label, fontSize) + 28 };
  });
  const legendRows: (typeof legendItems)[] = [];
  const maxRowWidth = width - 40;
  for (const item of legendItems) {
    const row = legendRows[legendRows.length - 1];
    const used = row ? row.reduce((w, it) => w + it.width, 0) : Number.POSITIVE_INFINITY;
    if (row && used + item.width <= maxRowWidth) row.push(item);
    else legendRows.push([item]);
  }
  const legendTop = 50;
  const margin = {
    top: legendTop + legendRows.length * 20 + 6,
    right: options.rightLabel ? 72 : 24,
    bottom: 56,
    left: 72,
  };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;

  const xs = series.flatMap((s) => [...s.points.map((p) => p[0]), ...(s.band ?? []).map((b) => b[0])]);
  const [x0, x1] = options.xRange ? [...options.xRange] : extent(xs, [0, 1]);
  const rightYs = series
    .filter((s) => s.axis === "right")
    .flatMap((s) => [...s.points.map((p) => p[1]), ...bandYs(s)]);
  const [l0, l1] = extent(
    leftYs.filter((y) => y <= leftTop),
    [0, 1],
  );
  const [r0, r1] = options.rightRange ? [...options.rightRange] : extent(rightYs, [0, 1]);
  const leftTicks = niceTicks(Math.min(0, l0), l1);
  const leftLo = leftTicks[0]!;
  const leftHi = Math.max(leftTicks[leftTicks.length - 1]!, l1);
  // A little room inside the frame, so points at the extremes are not drawn on the border.
  const pad = 0.04;
  const xPad = (x1 - x0) * 0.02;
  const sx = (x: number) => margin.left + ((x - (x0 - xPad)) / (x1 - x0 + 2 * xPad)) * plotW;
  const syRange = (lo: number, hi: number) => {
    const span = hi - lo;
    return (y: number) => margin.top + plotH - ((y - (lo - pad * span)) / ((1 + 2 * pad) * span)) * plotH;
  };
  const syLeft = syRange(leftLo, leftHi);
  const syRight = syRange(r0, r1);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="${fontSize}">`,
    `<defs><clipPath id="plot-area"><rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}"/></clipPath></defs>`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="26" text-anchor="middle" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  // Grid and ticks.
  for (const t of leftTicks) {
    const y = syLeft(t);
    parts.push(
      `<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#e5e5e5"/>`,
      `<text x="${margin.left - 8}" y="${y + 4}" text-anchor="end">${formatTick(t)}</text>`,
    );
  }
  if (options.rightLabel) {
    for (const t of niceTicks(r0, r1)) {
      const y = syRight(t);
      parts.push(
        `<line x1="${margin.left + plotW}" x2="${margin.left + plotW + 5}" y1="${y}" y2="${y}" stroke="#333"/>`,
        `<text x="${margin.left + plotW + 8}" y="${y + 4}">${formatTick(t)}</text>`,
      );
    }
  }
  for (const t of niceTicks(x0, x1, 6)) {
    const x = sx(t);
    parts.push(
      `<line x1="${x}" x2="${x}" y1="${margin.top + plotH}" y2="${margin.top + plotH + 5}" stroke="#333"/>`,
      `<text x="${x}" y="${margin.top + plotH + 20}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  parts.push(
    `<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333"/>`,
    `<text x="${margin.left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`,
    `<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.leftLabel)}</text>`,
  );
  if (options.rightLabel) {
    parts.push(
      `<text transform="translate(${width - 14} ${margin.top + plotH / 2}) rotate(90)" text-anchor="middle">${escapeXml(options.rightLabel)}</text>`,
    );
  }
  // Lines: long noisy series faint with a bold moving average; short ones with markers and values.
  const path = (pts: readonly (readonly [number, number])[], sy: (y: number) => number) =>
    pts.map((p, i) => `${i === 0 ? "M" : "L"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(" ");
  const clip = 'clip-path="url(#plot-area)"';
  // Every curve as drawn boldly, in pixels: what a value label must keep clear of.
  const drawn = legendItems.map((d) => {
    const sy = d.series.axis === "right" ? syRight : syLeft;
    return d.average.map((p) => [sx(p[0]), sy(p[1])] as const);
  });
  /** Pixels between a label box (x ± half, from top to bottom) and the nearest other curve. */
  const clearance = (
    others: (readonly (readonly [number, number])[])[],
    x: number,
    half: number,
    top: number,
    bottom: number,
  ) => {
    let best = Number.POSITIVE_INFINITY;
    for (const line of others) {
      for (const dx of [-half, -half / 2, 0, half / 2, half]) {
        const y = yAt(line, x + dx);
        if (y !== null) best = Math.min(best, y < top ? top - y : y > bottom ? y - bottom : 0);
      }
    }
    return best;
  };
  // Bands first, under every line: the upper edge left to right, then the lower edge back.
  for (const s of series) {
    if (!s.band || s.band.length === 0) continue;
    const sy = s.axis === "right" ? syRight : syLeft;
    const upper = s.band.map((b) => [b[0], b[2]] as const);
    const lower = s.band.map((b) => [b[0], b[1]] as const).reverse();
    const edge = path([...upper, ...lower], sy);
    parts.push(`<path d="${edge} Z" fill="${s.color}" fill-opacity="0.18" stroke="none" ${clip}/>`);
  }
  legendItems.forEach(({ series: s, finite: pts, window, average }, index) => {
    const sy = s.axis === "right" ? syRight : syLeft;
    if (s.style === "points") {
      for (const p of pts)
        parts.push(
          `<circle cx="${sx(p[0]).toFixed(1)}" cy="${sy(p[1]).toFixed(1)}" r="3" fill="${s.color}"/>`,
        );
      return;
    }
    if (window > 0) {
      parts.push(
        `<path d="${path(pts, sy)}" fill="none" stroke="${s.color}" stroke-width="1" stroke-opacity="0.3" ${clip}/>`,
        `<path d="${path(average, sy)}" fill="none" stroke="${s.color}" stroke-width="2.2" ${clip}/>`,
      );
    } else {
      parts.push(`<path d="${path(pts, sy)}" fill="none" stroke="${s.color}" stroke-width="2" ${clip}/>`);
    }
    if (pts.length <= 30)
      for (const p of pts)
        parts.push(`<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3.5" fill="${s.color}"/>`);
    if (pts.length <= LABEL_AT_MOST) {
      const others = drawn.filter((_, j) => j !== index);
      for (const p of pts) {
        const text = formatValue(p[1]);
        const x = Math.min(Math.max(sx(p[0]), margin.left + 20), margin.left + plotW - 20);
        const half = textWidth(text, 11) / 2 + 2;
        // Above the point or below it, inside the frame, whichever is farther from the other curves.
        const candidates = [sy(p[1]) - 9, sy(p[1]) + 18].filter(
          (y) => y - 11 >= margin.top + 2 && y <= margin.top + plotH - 2,
        );
        const y =
          candidates.length === 0
            ? sy(p[1]) - 9
            : candidates.reduce((a, b) =>
                clearance(others, x, half, b - 11, b + 2) > clearance(others, x, half, a - 11, a + 2) ? b : a,
              );
        parts.push(
          `<text x="${x}" y="${y}" text-anchor="middle" font-size="11" fill="${s.color}" stroke="white" stroke-width="3" paint-order="stroke">${text}</text>`,
        );
      }
    }
    if (clipped(legendItems[index]!)) parts.push(...clipMarkers(pts, leftTop, sx, margin.top, s.color));
  });
  // Legend rows, centred under the title.
  legendRows.forEach((row, r) => {
    const rowWidth = row.reduce((w, it) => w + it.width, 0) - 28;
    let x = (width - rowWidth) / 2;
    const y = legendTop + r * 20 + 10;
    for (const item of row) {
      const color = item.series.color;
      if (item.series.band)
        parts.push(
          `<rect x="${x}" y="${y - 10}" width="24" height="12" fill="${color}" fill-opacity="0.18"/>`,
        );
      parts.push(
        item.series.style === "points"
          ? `<circle cx="${x + 12}" cy="${y - 4}" r="3" fill="${color}"/>`
          : `<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${color}" stroke-width="3"/>`,
        `<text x="${x + 30}" y="${y}">${escapeXml(item.label)}</text>`,
      );
      x += item.width;
    }
  });
  parts.push("</svg>");
  return parts.join("\n");
}
