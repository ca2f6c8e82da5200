/** The README's example is docs/examples/quickstart.ts, line for line, and it runs. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../docs/examples/quickstart.js";

const lines = (text: string): string[] =>
  text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");

describe("README", () => {
  it("shows the code of docs/examples/quickstart.ts", () => {
    const readme = readFileSync(join(__dirname, "../../README.md"), "utf8");
    const block = readme.match(/## A first look\n\n```ts\n([\s\S]*?)```/)![1]!;
    const source = lines(readFileSync(join(__dirname, "../../docs/examples/quickstart.ts"), "utf8"));
    for (const line of lines(block))
      expect(source, `README line not in quickstart.ts: ${line}`).toContain(line);
  });

  it("its example trains and gives per-example gradients", () => {
    const { before, after, perExampleShape } = main();
    expect(after).toBeLessThan(before / 2);
    expect(perExampleShape).toEqual([2, 3, 1]);
  });
});
