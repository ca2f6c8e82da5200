/** `summary(model, params)`: PyTorch's `print(net)` followed by a table of parameter paths, shapes and counts. */
import type { NdArray, ShapeDtype } from "../core/array.js";
import { flattenWithPath } from "../tree/index.js";
import { type AnyLayer, checkTree, type ParamTree } from "./layer.js";

/** The module tree as PyTorch prints it: containers as `Name(\n  (child): ...\n)`, leaves on one line. */
export function formatLayer(layer: AnyLayer): string {
  // A container without children prints as `Sequential()`, like torch.
  if (layer.children.length === 0) return layer.repr.endsWith(")") ? layer.repr : `${layer.repr}()`;
  const lines = layer.children.map(
    ([name, child]) => `  (${name}): ${formatLayer(child).split("\n").join("\n  ")}`,
  );
  return `${layer.repr}(\n${lines.join("\n")}\n)`;
}

const thousands = (n: number): string => n.toLocaleString("en-US");

/**
 * The model's structure, then one row per parameter array (path, shape, dtype, element count) and the
 * totals. Without `params`, the shapes come from the model's spec (float32).
 */
export function summary(model: AnyLayer, params?: ParamTree): string {
  const tree = params ?? model.paramSpec();
  if (params !== undefined) checkTree(model.name, "params", model.paramSpec(), params);
  const rows = flattenWithPath<NdArray | ShapeDtype>(tree).map(([path, leaf]) => {
    const count = leaf.shape.reduce((a, d) => a * d, 1);
    return [path, `[${leaf.shape.join(", ")}]`, leaf.dtype, thousands(count), count] as const;
  });
  const total = rows.reduce((n, r) => n + r[4], 0);
  const header = ["Parameter", "Shape", "Dtype", "Count"] as const;
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.toString().length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === 3 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join("  ")
      .trimEnd();
  const table = [
    line(header),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line([r[0], r[1], r[2], r[3]])),
  ];
  const arrays = rows.length === 1 ? "1 array" : `${rows.length} arrays`;
  return `${formatLayer(model)}\n\n${table.join("\n")}\nTotal: ${thousands(total)} parameters in ${arrays}`;
}
