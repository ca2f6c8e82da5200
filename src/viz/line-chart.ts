/**
 * A small dependency-free SVG line chart for training curves: one or two y axes (e.g. loss on the
 * left, accuracy on the right), labelled axes, ticks at round numbers, and a legend.
 */

export interface Series {
  label: string;
  /** [x, y] points in order of x. */
  points: readonly (readonly [number, number])[];
  color: string;
  /** Which y axis the series is drawn against. Default "left". */
  axis?: "left" | "right";
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  leftLabel: string;
  rightLabel?: string;
  width?: number;
  height?: number;
  /** Fixed range for the right axis (e.g. [0, 1] for accuracy); otherwise from the data. */
  rightRange?: readonly [number, number];
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

export function lineChart(series: readonly Series[], options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 420;
  const margin = { top: 48, right: options.rightLabel ? 72 : 24, bottom: 56, left: 72 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1] = extent(xs, [0, 1]);
  const leftYs = series
    .filter((s) => (s.axis ?? "left") === "left")
    .flatMap((s) => s.points.map((p) => p[1]));
  const rightYs = series.filter((s) => s.axis === "right").flatMap((s) => s.points.map((p) => p[1]));
  const [l0, l1] = extent(leftYs, [0, 1]);
  const [r0, r1] = options.rightRange ? [...options.rightRange] : extent(rightYs, [0, 1]);
  const leftTicks = niceTicks(Math.min(0, l0), l1);
  const leftLo = leftTicks[0]!;
  const leftHi = Math.max(leftTicks[leftTicks.length - 1]!, l1);
  const sx = (x: number) => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const syLeft = (y: number) => margin.top + plotH - ((y - leftLo) / (leftHi - leftLo)) * plotH;
  const syRight = (y: number) => margin.top + plotH - ((y - r0) / (r1 - r0)) * plotH;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="13">`,
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
      parts.push(`<text x="${margin.left + plotW + 8}" y="${syRight(t) + 4}">${formatTick(t)}</text>`);
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
  // Lines and markers.
  for (const s of series) {
    const sy = s.axis === "right" ? syRight : syLeft;
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    const d = pts
      .map((p, i) => `${i === 0 ? "M" : "L"}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
    if (pts.length <= 30)
      for (const p of pts)
        parts.push(`<circle cx="${sx(p[0])}" cy="${sy(p[1])}" r="3.5" fill="${s.color}"/>`);
  }
  // Legend, top right inside the plot.
  series.forEach((s, i) => {
    const y = margin.top + 18 + i * 20;
    const x = margin.left + plotW - 190;
    parts.push(
      `<line x1="${x}" x2="${x + 24}" y1="${y - 4}" y2="${y - 4}" stroke="${s.color}" stroke-width="3"/>`,
      `<text x="${x + 32}" y="${y}">${escapeXml(s.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
