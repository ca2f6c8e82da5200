/**
 * `npm run laws:coverage`: prints, as Markdown, every registered primitive and the laws that cover it
 * (from laws/registry-table.ts, the table laws/gradients.test.ts runs). Exits 1 when a primitive has
 * no entry.
 */
import { coverageMarkdown, coverageRows } from "./coverage-table.js";

console.log(coverageMarkdown());
if (coverageRows().some((r) => r.entry === null)) process.exitCode = 1;
