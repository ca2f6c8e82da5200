/**
 * Pictures: training curves as SVG line charts, and traced programs as Graphviz DOT graphs.
 * @module
 */

export { type DrawableProgram, type GraphPart, type ProgramToDotOptions, programToDot } from "./graph.js";
export { type LineChartOptions, lineChart, niceTicks, type Series } from "./line-chart.js";
