#!/usr/bin/env node
// Runs the Python snippets of README.md and docs/format.md as written, where pyarrow, polars and duckdb are
// importable (the test machines cannot install them: the test line runs their DuckDB SQL with
// @duckdb/node-api instead, scripts/docs.test.ts). DIR is a scratch project the docs test kept
// (GRADSCOPE_KEEP_DOCS_WORK=1 pnpm exec vitest run scripts/docs.test.ts): runs.gradscope and its exports.
//
//   node scripts/check-python-docs.mjs DIR [--python /path/to/python3]
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const [dir, ...rest] = process.argv.slice(2);
if (!dir) throw new Error('usage: node scripts/check-python-docs.mjs DIR [--python PATH]');
const python = rest.includes('--python') ? rest[rest.indexOf('--python') + 1] : 'python3';

const probe = spawnSync(python, ['-c', 'import pyarrow, polars, duckdb, numpy, pandas'], {
  encoding: 'utf8',
});
if (probe.status !== 0) {
  console.error(
    `check-python-docs: ${python} cannot import pyarrow, polars, duckdb, numpy, pandas:\n${probe.stderr}`,
  );
  process.exit(2);
}

let failed = 0;
for (const file of ['README.md', 'docs/format.md']) {
  const text = readFileSync(join(ROOT, file), 'utf8');
  let n = 0;
  for (const m of text.matchAll(/```python\n([\s\S]*?)```/g)) {
    n++;
    const script = join(dir, `${file.replace(/\W/g, '_')}_${n}.py`);
    // Print what each snippet computed, so a snippet that runs but reads nothing shows.
    writeFileSync(
      script,
      `${m[1]}\nprint({k: getattr(v, 'shape', None) for k, v in dict(globals()).items() if not k.startswith('_') and hasattr(v, 'shape')})\n`,
    );
    const res = spawnSync(python, [script], { cwd: dir, encoding: 'utf8' });
    const ok = res.status === 0;
    if (!ok) failed++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${file} python block ${n}\n${res.stdout}${ok ? '' : res.stderr}`);
  }
}
console.log(failed === 0 ? 'every Python snippet ran' : `${failed} Python snippet(s) failed`);
process.exit(failed === 0 ? 0 : 1);
