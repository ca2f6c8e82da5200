// node scripts/count-non-null.mjs [paths...] (default src): the non-null assertions (`x!`) in the
// TypeScript files under the paths, counted on the syntax tree (so `!==`, `!x` and strings do not count).
// PER_FILE=1 lists the files with any, most first.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

const files = [];
const walk = (path) => {
  if (!statSync(path).isDirectory()) {
    if (/\.tsx?$/.test(path)) files.push(path);
    return;
  }
  for (const name of readdirSync(path).sort()) walk(join(path, name));
};
for (const path of process.argv.length > 2 ? process.argv.slice(2) : ["src"]) walk(path);

const counts = files.map((file) => {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  let n = 0;
  const visit = (node) => {
    if (node.kind === ts.SyntaxKind.NonNullExpression) n++;
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { file, n };
});
if (process.env.PER_FILE) {
  for (const { file, n } of counts.filter((c) => c.n > 0).sort((a, b) => b.n - a.n)) console.log(`${n}\t${file}`);
}
console.log(`${counts.reduce((sum, c) => sum + c.n, 0)} non-null assertions in ${files.length} files`);
