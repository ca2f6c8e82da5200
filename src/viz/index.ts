/** Pictures: training curves as SVG. */

export { type DrawableProgram, type GraphPart, type ProgramToDotOptions, programToDot } from "./graph.js";
export { type LineChartOptions, lineChart, niceTicks, type Series } from "./line-chart.js";
