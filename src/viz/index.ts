/** Pictures: training curves as SVG. */
export { type LineChartOptions, lineChart, niceTicks, type Series } from "./line-chart.js";
