// Every code snippet of README.md, docs/*.md and packages/*/README.md, run or checked as written. A new snippet
// that no test below claims fails the coverage test at the end. Needs `pnpm build` (the CLI, the server).
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'apps/cli/dist/main.js');

interface Block {
  file: string;
  /** The `## …` / `### …` heading the block sits under. */
  heading: string;
  lang: string;
  code: string;
  line: number;
}

function blocksOf(file: string): Block[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const out: Block[] = [];
  let heading = '';
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{1,4} /.test(l)) heading = l.replace(/^#+ /, '');
    const open = /^```(\w*)\s*$/.exec(l);
    if (!open) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    out.push({ file, heading, lang: open[1]!, code: `${body.join('\n')}\n`, line: start + 1 });
  }
  return out;
}

const DOC_FILES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md') && f !== 'benchmarks.md')
    .map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'packages'))
    .map((p) => `packages/${p}/README.md`)
    .filter((f) => {
      try {
        readFileSync(join(ROOT, f));
        return true;
      } catch {
        return false;
      }
    }),
  'apps/cli/README.md',
  'apps/demo/README.md',
];
const ALL = DOC_FILES.flatMap(blocksOf);
const claimed = new Set<Block>();

/** The blocks of `file` under `heading` with language `lang`; claimed as covered by the caller's test. */
function take(file: string, heading: string, lang: string): Block[] {
  const found = ALL.filter((b) => b.file === file && b.heading === heading && b.lang === lang);
  if (found.length === 0) throw new Error(`${file}: no \`\`\`${lang} block under '${heading}'`);
  for (const b of found) claimed.add(b);
  return found;
}

// ---- A scratch project outside the workspace whose node_modules are the workspace's packages ----

let work: string;
const LINKS: Record<string, string> = {
  '@gradscope/format': 'packages/format',
  '@gradscope/capture': 'packages/capture',
  '@gradscope/store': 'packages/store',
  '@gradscope/export': 'packages/export',
  '@gradscope/server': 'packages/server',
  '@tensorflow/tfjs': 'node_modules/@tensorflow/tfjs',
  '@tensorflow/tfjs-backend-wasm': 'node_modules/@tensorflow/tfjs-backend-wasm',
  fastify: 'node_modules/fastify',
  'apache-arrow': 'packages/format/node_modules/apache-arrow',
};

function makeWork(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-docs-'));
  for (const [name, target] of Object.entries(LINKS)) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true });
    symlinkSync(join(ROOT, target), join(dir, 'node_modules', name), 'dir');
  }
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  return dir;
}

/** Runs TypeScript or JavaScript source as an ES module in `work`, returns its stdout. */
function runModule(name: string, source: string, timeoutMs = 600_000): string {
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const file = join(work, `${name}.mjs`);
  writeFileSync(file, js);
  const res = spawnSync('node', [file], { cwd: work, encoding: 'utf8', timeout: timeoutMs });
  if (res.status !== 0)
    throw new Error(`${name} exited ${res.status ?? res.signal}:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

/** `pnpm gradscope …` / `gradscope …` as the CLI package runs it. */
function gradscope(args: string[]): string {
  return execFileSync('node', [CLI, ...args], { cwd: work, encoding: 'utf8' });
}

/** The lines of an sh block as commands (comments and blank lines dropped). */
function commands(code: string): string[][] {
  return code
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(/\s+/));
}

type Duck = { run(sql: string): Promise<{ getRowObjects(): Promise<Record<string, unknown>[]> }> };
async function duckdb(): Promise<Duck> {
  const require = createRequire(join(ROOT, 'packages/export/package.json'));
  const { DuckDBInstance } = await import(pathToFileURL(require.resolve('@duckdb/node-api')).href);
  const instance = await DuckDBInstance.create(':memory:');
  const con = await instance.connect();
  // Relative paths in the docs' SQL are relative to where the user runs it: the scratch project.
  await con.run(`SET file_search_path = '${work}'`);
  return con;
}

/** The SQL text of each `duckdb.sql("…")` / `duckdb.sql("""…""")` in a Python block. */
function duckdbSql(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(/duckdb\.sql\((?:"""([\s\S]*?)"""|"((?:[^"\\]|\\.)*)")\)/g))
    out.push(m[1] ?? m[2]!);
  return out;
}

beforeAll(() => {
  work = makeWork();
});

afterAll(() => {
  // GRADSCOPE_KEEP_DOCS_WORK=1 keeps the scratch project for scripts/check-python-docs.mjs.
  if (process.env.GRADSCOPE_KEEP_DOCS_WORK) console.log(`docs test: kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
});

describe('README.md', () => {
  it('Quick start: the test line is .ci/run character for character', () => {
    const [block] = take('README.md', 'Quick start', 'sh');
    const lines = block!.code.trim().split('\n');
    const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8').trim().split('\n').pop();
    expect(lines).toContain(ci);
    expect(ci).toMatch(/&& pnpm test$/);
    // The demo line installs the same way.
    expect(lines.find((l) => l.endsWith('pnpm demo'))).toBe(ci!.replace(/pnpm test$/, 'pnpm demo'));
  });

  it("the model.fit example trains into runs.gradscope, and the one-off example's layer exists", () => {
    const [fit, oneOff] = take('README.md', 'Record gradients in your own `model.fit`', 'ts');
    expect(oneOff?.code).toContain('getLayerGradients');
    // One module: the one-off example uses the fit example's model, x and y.
    const out = runModule(
      'readme-fit',
      `${fit!.code}\n${oneOff!.code}\nconsole.log(JSON.stringify({ layer: grads.layer, kind: grads.kind, shape: grads.shape }));\n`,
    );
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({
      layer: 'lstm_1',
      kind: 'output-grad',
      shape: [64, 25, 6],
    });
    const runs = JSON.parse(gradscope(['list', 'runs.gradscope', '--json']));
    expect(runs).toEqual([expect.objectContaining({ name: 'lstm6', status: 'finished' })]);
    // every 10 of 100 steps, plus 0, 50, 100: 11 due iterations.
    expect(runs[0].lastIteration).toBe(100);
  }, 900_000);

  it("the doctor commands: the model.fit example's run (y is noise) is not learning, and --fail-on says so", () => {
    const [table, json, failOn, grouped] = commands(take('README.md', 'The diagnosis', 'sh')[0]!.code);
    expect(table!.slice(0, 3)).toEqual(['pnpm', 'gradscope', 'doctor']);
    expect(gradscope(table!.slice(2))).toMatch(/\nlstm6\s+lstm_1\s+not-learning\s/);
    const report = JSON.parse(gradscope(json!.slice(2)));
    expect(report.runs.map((r: { name: string }) => r.name)).toEqual(['lstm6']);
    expect(
      report.runs[0].layers.map((l: { layer: string; verdict: string }) => [l.layer, l.verdict]),
    ).toEqual([
      ['lstm_1', 'not-learning'],
      ['lstm_2', 'not-learning'],
    ]);
    const res = spawnSync('node', [CLI, ...failOn!.slice(2)], { cwd: work, encoding: 'utf8' });
    expect(res.status).toBe(1);
    expect(res.stderr).toMatch(
      /^gradscope: doctor: 2 layers matched --fail-on not-learning,vanishing: lstm6\/lstm_1/,
    );
    // --group-by cell: the callback recorded the cell (two LSTM layers: 'LSTM'), one group of one run.
    const groups = gradscope(grouped!.slice(2));
    expect(groups).toMatch(/\n {2}LSTM: layer 1 \(lstm_1\): not-learning in 1 of 1 run \(loss ÷ baseline /);
    expect(groups).toMatch(/\n {2}LSTM: layer 2 \(lstm_2\): not-learning in 1 of 1 run /);
  });

  it('the export commands write the files the Python snippet opens; its DuckDB query is exact', async () => {
    for (const cmd of commands(take('README.md', 'Export and read the numbers elsewhere', 'sh')[0]!.code)) {
      expect(cmd.slice(0, 2)).toEqual(['pnpm', 'gradscope']);
      gradscope(cmd.slice(2));
    }
    const [py] = take('README.md', 'Export and read the numbers elsewhere', 'python');
    for (const path of py!.code.matchAll(/"([\w/.-]+\.(?:arrow|parquet))"/g)) {
      expect(readdirSync(join(work, dirname(path[1]!)))).toContain(path[1]!.split('/').pop());
    }
    const [sql] = duckdbSql(py!.code);
    const con = await duckdb();
    const rows = await (await con.run(sql!)).getRowObjects();

    // The same norms computed here from the stored tensors, in float64.
    const { openReader } = await import(pathToFileURL(join(ROOT, 'packages/store/dist/index.js')).href);
    const reader = openReader(join(work, 'runs.gradscope'));
    const want = new Map<string, number>();
    for (const s of reader.listSnapshots({ run: 'lstm6', layer: 'lstm_1', kind: 'output-grad' })) {
      const t = reader.readTensor(s.id);
      const [n, T, C] = t.shape as [number, number, number];
      for (let step = 0; step < T; step++) {
        let sum = 0;
        for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) sum += t.data[(i * T + step) * C + c]! ** 2;
        want.set(`${s.iteration}/${step}`, Math.sqrt(sum));
      }
    }
    reader.close();
    expect(rows.length).toBe(want.size);
    for (const r of rows) {
      const w = want.get(`${r.iteration}/${r.timestep}`)!;
      expect(Math.abs((r.norm as number) - w)).toBeLessThanOrEqual(1e-12 * w);
      expect(r.norm).toBeGreaterThan(0);
    }
  }, 300_000);
});

describe('docs/format.md', () => {
  beforeAll(() => {
    // The files its snippets open: a tensor-layout directory, Parquet per series, a long-layout Arrow file.
    gradscope(['export', 'runs.gradscope', '--run', 'lstm6', '--out', 'out/']);
    gradscope(['export', 'runs.gradscope', '--run', 'lstm6', '--format', 'parquet', '--out', 'out/']);
    gradscope(['export', 'runs.gradscope', '--run', 'lstm6', '--layout', 'long', '--out', 'long.arrow']);
    gradscope(['export', 'runs.gradscope', '--run', 'lstm6', '--format', 'parquet', '--out', 'long.parquet']);
  }, 300_000);

  it('the Node (apache-arrow) snippet reads every tensor of the export', () => {
    const [js] = take('docs/format.md', 'Reading exports', 'js');
    const lines = runModule('format-node', js!.code).trim().split('\n');
    // One line per snapshot of lstm_1 output-grad (iterations 0, 10, …, 100): iteration, dim names, values
    // per tensor (the probe's 16 samples × 25 timesteps × 6 units).
    expect(lines).toEqual(
      Array.from({ length: 11 }, (_, i) => `${i * 10} [ 'sample', 'timestep', 'channel' ] 2400`),
    );
  });

  it("the SQLite snippet's queries find a tensor and its per-timestep norms", async () => {
    const [py] = take('docs/format.md', 'Reading the database directly', 'python');
    const sql = [...py!.code.matchAll(/con\.execute\("((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
    expect(sql.length).toBe(3);
    const require = createRequire(join(ROOT, 'packages/store/package.json'));
    const Database = require('better-sqlite3');
    const db = new Database(join(work, 'runs.gradscope'), { readonly: true });
    const { decodeTensor } = await import(pathToFileURL(join(ROOT, 'packages/format/dist/index.js')).href);
    try {
      const { id } = db.prepare(sql[0]).get();
      const { ipc } = db.prepare(sql[1]).get(id);
      const t = decodeTensor(new Uint8Array(ipc));
      expect([t.shape, t.dims]).toEqual([
        [16, 25, 6],
        ['sample', 'timestep', 'channel'],
      ]);
      const { timestep_norms: norms } = db.prepare(sql[2]).get(id);
      const perTimestep = new Float32Array(new Uint8Array(norms).buffer);
      // The norm over samples and channels at each timestep, computed here from the tensor.
      for (let step = 0; step < 25; step++) {
        let sum = 0;
        for (let i = 0; i < 16; i++) for (let c = 0; c < 6; c++) sum += t.data[(i * 25 + step) * 6 + c] ** 2;
        expect(perTimestep[step]).toBeCloseTo(Math.sqrt(sum), 6);
      }
    } finally {
      db.close();
    }
  });

  it('the DuckDB queries run on the Parquet files as written', async () => {
    const py = take('docs/format.md', 'Reading exports', 'python').find((b) => b.code.includes('duckdb'))!;
    const [flow, byLayer] = duckdbSql(py.code);
    const con = await duckdb();
    const rows = await (await con.run(flow!)).getRowObjects();
    expect(rows.length).toBe(11 * 25);
    expect(rows.every((r) => (r.norm as number) > 0)).toBe(true);
    // `long` is the pyarrow table of long.arrow in the snippet; here the same rows from Parquet.
    await con.run("CREATE VIEW long AS SELECT * FROM read_parquet('long.parquet')");
    const layers = await (await con.run(byLayer!)).getRowObjects();
    expect(layers.map((r) => r.layer).sort()).toEqual(['lstm_1', 'lstm_2']);
  });
});

describe('docs/api.md', () => {
  let server: { url: string; close(): Promise<void> };
  const get = (path: string) => fetch(`${server.url}${path}`);

  beforeAll(async () => {
    const { buildServer } = await import(pathToFileURL(join(ROOT, 'packages/server/dist/index.js')).href);
    server = await buildServer({ db: join(work, 'runs.gradscope'), port: 0, ingest: false });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Every key of the documented example is in the real body (objects recursively, arrays by their first item). */
  function expectKeysIn(doc: unknown, real: unknown, where: string): void {
    if (Array.isArray(doc)) {
      expect(Array.isArray(real), where).toBe(true);
      if (doc.length > 0 && typeof doc[0] === 'object' && doc[0] !== null)
        expectKeysIn(doc[0], (real as unknown[])[0], `${where}[0]`);
      return;
    }
    if (typeof doc !== 'object' || doc === null) return;
    for (const [k, v] of Object.entries(doc)) {
      // '…' stands for more; channelParts, parts and partHorizons are documented as present only for
      // bidirectional layers.
      if (k === '…' || k === 'channelParts' || k === 'parts' || k === 'partHorizons') continue;
      expect(real, `${where}.${k}`).toHaveProperty([k]);
      // A run's params are the user's own beside the ones read from the model: only the key is checked.
      if (k === 'params') continue;
      expectKeysIn(v, (real as Record<string, unknown>)[k], `${where}.${k}`);
    }
  }
  /** A documented JSON example: comments (`/* … *\/`) become empty arrays. */
  const example = (code: string) => JSON.parse(code.replace(/\[\/\*[^*]*\*\/\]/g, '[]'));

  it('the documented bodies have the fields the routes send', async () => {
    const run = 'lstm6';
    const series = `layer=lstm_1&kind=output-grad`;
    const routes: Record<string, string> = {
      Runs: '/api/runs',
      'Runs#layers': `/api/runs/${run}/layers`,
      Diagnosis: `/api/runs/${run}/diagnosis`,
      Snapshots: `/api/runs/${run}/snapshots?${series}`,
      'Snapshots#summary': '',
      'Over the whole training': `/api/runs/${run}/flow?${series}`,
      'Over the whole training#histograms': `/api/runs/${run}/histograms?${series}`,
      "Every run's outcome": '/api/outcomes',
    };
    const snapshots = (await (await get(routes.Snapshots!)).json()) as { id: number }[];
    routes['Snapshots#summary'] = `/api/snapshots/${snapshots[0]!.id}/summary`;
    const byHeading = new Map<string, number>();
    for (const heading of [
      'Runs',
      'Diagnosis',
      'Snapshots',
      'Over the whole training',
      "Every run's outcome",
    ]) {
      for (const b of take('docs/api.md', heading, 'json')) {
        const n = byHeading.get(heading) ?? 0;
        byHeading.set(heading, n + 1);
        const key = Object.keys(routes).filter((k) => k.split('#')[0] === heading)[n]!;
        const res = await get(routes[key]!);
        expect(res.status, routes[key]).toBe(200);
        expectKeysIn(example(b.code), await res.json(), `${b.file}:${b.line}`);
      }
    }
  });

  it('the series index and scalars bodies have the fields the routes send, with the documented matrices', async () => {
    const [series] = take('docs/api.md', 'Series index', 'json');
    const res = await get('/api/runs/lstm6/series?layer=lstm_1&kind=output-grad');
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, { dtype: string; shape: number[] }> & {
      count: number;
      rows: number;
    };
    const doc = example(series!.code);
    expect(Object.keys(body).sort()).toEqual(Object.keys(doc).sort());
    // 11 snapshots of lstm_1 output-grad (every 10 of 100 steps plus 0, 50, 100), each column float64 [rows].
    expect([body.count, body.rows]).toEqual([11, 11]);
    for (const k of Object.keys(doc).filter((k) => k !== 'count' && k !== 'rows'))
      expect([k, body[k]!.dtype, body[k]!.shape]).toEqual([k, 'float64', [11]]);

    const [scalars] = take('docs/api.md', 'Scalars', 'json');
    const sres = await get('/api/runs/lstm6/scalars');
    expect(sres.status).toBe(200);
    const sbody = (await sres.json()) as {
      series: { name: string; count: number; iterations: { dtype: string; shape: number[] } }[];
    };
    expectKeysIn(example(scalars!.code), sbody, `${scalars!.file}:${scalars!.line}`);
    // The README's fit: 100 optimizer steps, one loss point each.
    const loss = sbody.series.find((s) => s.name === 'loss')!;
    expect([loss.count, loss.iterations.dtype, loss.iterations.shape]).toEqual([100, 'float64', [100]]);
    // Downsampled to 4 buckets × (first, last, min, max) at most.
    const few = (await (await get('/api/runs/lstm6/scalars?maxPoints=16')).json()) as typeof sbody;
    const fewLoss = few.series.find((s) => s.name === 'loss')!;
    expect(fewLoss.count).toBe(100);
    expect(fewLoss.iterations.shape[0]).toBeLessThanOrEqual(16);
  });

  it('the documented limits and statuses are the server defaults', async () => {
    const text = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
    const mod = await import(pathToFileURL(join(ROOT, 'packages/server/dist/index.js')).href);
    expect([mod.DEFAULT_INGEST_LIMIT, mod.DEFAULT_INGEST_INFLIGHT_BYTES, mod.DEFAULT_CACHE_BYTES]).toEqual([
      64 * 2 ** 20,
      64 * 2 ** 20,
      8 * 2 ** 20,
    ]);
    expect(text).toContain('at most 64 MiB by default');
    expect(text).toContain('at most 64 MiB (`ingestInflightBytes`');
    expect(text).toContain('at most 8 MiB of bodies');
    // This server has ingest off, so no writable store: rename and delete answer 405 and say why.
    const patch = await fetch(`${server.url}/api/runs/lstm6`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'renamed' }),
    });
    const del = await fetch(`${server.url}/api/runs/lstm6`, { method: 'DELETE' });
    expect([patch.status, del.status]).toEqual([405, 405]);
    expect(((await del.json()) as { message: string }).message).toContain('gradscope runs');
    expect(text).toContain('answers 405');
    // Export planning errors are 4xx before any byte.
    const parquetTensor = await get('/api/runs/lstm6/export?format=parquet&layout=tensor');
    const several = await get('/api/runs/lstm6/export?format=arrow&layout=tensor');
    const noRun = await get('/api/runs/no-such-run/export');
    const noMatch = await get('/api/runs/lstm6/export?layer=no-such-layer');
    expect([parquetTensor.status, several.status, noRun.status, noMatch.status]).toEqual([
      400, 400, 404, 404,
    ]);
  });

  it('says what answers 404, 200 [] and how tensors are cached, as the server does', async () => {
    const text = readFileSync(join(ROOT, 'docs/api.md'), 'utf8');
    expect((await get('/api/runs/no-such-run')).status).toBe(404);
    expect((await get('/api/snapshots/999999/summary')).status).toBe(404);
    expect((await get('/api/runs/lstm6/flow?layer=no-such-layer&kind=output-grad')).status).toBe(404);
    const none = await get('/api/runs/lstm6/snapshots?layer=no-such-layer');
    expect([none.status, await none.json()]).toEqual([200, []]);
    expect(text).toContain('a layer, kind or part that the run does not have selects nothing: 200 with `[]`');

    const [first] = (await (await get('/api/runs/lstm6/snapshots?layer=lstm_1&kind=output-grad')).json()) as {
      id: number;
    }[];
    const tensor = await get(`/api/snapshots/${first!.id}/tensor`);
    const cache = tensor.headers.get('cache-control')!;
    expect(text).toContain(`\`Cache-Control: ${cache}\``);
  });

  it('the SSE example is what a stored snapshot sends', () => {
    const [sse] = take('docs/api.md', 'Live updates', '');
    expect(sse!.code).toMatch(/^event: snapshot\ndata: \{.*"iteration":40\}\n$/);
    const data = JSON.parse(sse!.code.split('\n')[1]!.slice('data: '.length));
    expect(Object.keys(data).sort()).toEqual(['id', 'iteration', 'kind', 'layer', 'part', 'run'].sort());
  });
});

describe('packages/*/README.md', () => {
  it('format: the codec example prints what its comments say', () => {
    const [block] = take('packages/format/README.md', '@gradscope/format', 'ts');
    expect(runModule('format-readme', block!.code).trim().split('\n')).toEqual([
      'true 6',
      'Float32Array(2) [ 0.5, NaN ]',
    ]);
  });

  it('capture: the MemorySink example records output gradients of the shape its comment says', () => {
    const [block] = take('packages/capture/README.md', '@gradscope/capture', 'ts');
    const lines = runModule('capture-readme', block!.code).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^gradscope: lstm_\w+: not learning \(loss \d\.?\d*× the constant predictor/);
    expect(lines[1]).toBe("output-grad [ 8, 10, 4 ] [ 'sample', 'timestep', 'channel' ]");
  }, 300_000);

  it('store: the write-then-read example prints what its comments say', () => {
    const [block] = take('packages/store/README.md', '@gradscope/store', 'ts');
    const dir = mkdtempSync(join(work, 'store-'));
    const out = runModule(
      'store-readme',
      block!.code.replaceAll("'runs.gradscope'", `'${dir}/runs.gradscope'`),
    );
    expect(out.trim().split('\n')).toEqual([
      "[ [ 'my-run', 'finished', 1 ] ]",
      "[ 20 ] 3 [ '0.141', '0.283', '2.828' ]",
    ]);
  });

  it('export: the plan-then-write example prints what its comments say', () => {
    const [store] = take('packages/store/README.md', '@gradscope/store', 'ts');
    const [block] = take('packages/export/README.md', '@gradscope/export', 'ts');
    const dir = mkdtempSync(join(work, 'export-'));
    const inDir = (code: string) =>
      code
        .replaceAll("'runs.gradscope'", `'${dir}/runs.gradscope'`)
        .replaceAll("'grads.arrow'", `'${dir}/grads.arrow'`);
    runModule('export-readme-store', inDir(store!.code));
    const out = runModule('export-readme', inDir(block!.code));
    expect(out.trim().split('\n')).toEqual([
      `tensor 1 [ 'grads.arrow' ]`,
      '1',
      "Parquet exports use the long layout (one row per value); use format 'arrow' for the tensor layout",
    ]);
    expect(readdirSync(dir)).toContain('grads.arrow');
  });

  it('server: buildServer serves the store; the plugin under a prefix keeps its token to itself', () => {
    const [standalone, plugin] = take('packages/server/README.md', '@gradscope/server', 'ts');
    expect(runModule('server-readme', standalone!.code).trim()).toMatch(/^http:\/\/127\.0\.0\.1:\d+ 1$/);
    const probe = `${plugin!.code}
const host = await app.inject('/health');
const gs = await app.inject('/gs/api/runs');
const withToken = await app.inject({ url: '/gs/api/runs', headers: { authorization: 'Bearer secret' } });
console.log(host.statusCode, gs.statusCode, withToken.statusCode);
await app.close();
`;
    expect(runModule('plugin-readme', probe).trim()).toBe('200 401 200');
  });

  it("store: the install line and pnpm's allowBuilds are what the pack test does", () => {
    const [sh] = take('packages/store/README.md', '@gradscope/store', 'sh');
    expect(commands(sh!.code)).toEqual([['npm', 'install', '@gradscope/store']]);
    const [yaml] = take('packages/store/README.md', '@gradscope/store', 'yaml');
    const packTest = readFileSync(join(ROOT, 'scripts/pack-test.mjs'), 'utf8');
    expect(packTest).toContain(JSON.stringify(yaml!.code).slice(1, -1).replace(/\\n$/, ''));
  });

  it('every install line names a package of this workspace', () => {
    const names = new Set(
      readdirSync(join(ROOT, 'packages')).map((p) => {
        try {
          return JSON.parse(readFileSync(join(ROOT, 'packages', p, 'package.json'), 'utf8')).name as string;
        } catch {
          return '';
        }
      }),
    );
    for (const file of [
      'packages/format/README.md',
      'packages/capture/README.md',
      'packages/server/README.md',
      'packages/export/README.md',
    ]) {
      const heading = JSON.parse(readFileSync(join(ROOT, dirname(file), 'package.json'), 'utf8')).name;
      for (const cmd of commands(take(file, heading, 'sh')[0]!.code)) {
        expect(cmd.slice(0, 2)).toEqual(['npm', 'install']);
        for (const p of cmd.slice(2).filter((n) => n.startsWith('@gradscope/'))) expect(names).toContain(p);
      }
    }
  });
});

describe('README.md, the rest', () => {
  it('Install: the packages exist, and the pnpm setting is the one the pack test uses', () => {
    const packTest = readFileSync(join(ROOT, 'scripts/pack-test.mjs'), 'utf8');
    const workspace = ['packages', 'apps'].flatMap((d) =>
      readdirSync(join(ROOT, d)).map((p) => {
        try {
          return JSON.parse(readFileSync(join(ROOT, d, p, 'package.json'), 'utf8')).name as string;
        } catch {
          return '';
        }
      }),
    );
    for (const cmd of commands(take('README.md', 'Install', 'sh')[0]!.code)) {
      expect(cmd.slice(0, 2)).toEqual(['npm', 'install']);
      for (const name of cmd.slice(2)) {
        if (name.startsWith('@tensorflow/')) expect(packTest).toContain(`'${name}': '4.22.0'`);
        else expect(workspace).toContain(name);
      }
    }
    const [yaml] = take('README.md', 'Install', 'yaml');
    expect(packTest).toContain(JSON.stringify(yaml!.code).slice(1, -1).replace(/\\n$/, ''));
  });

  it('Several trainers, one server: the HttpSink example logs a run to a server', async () => {
    const [block] = take('README.md', 'Several trainers, one server', 'ts');
    const { buildServer } = await import(pathToFileURL(join(ROOT, 'packages/server/dist/index.js')).href);
    const db = join(mkdtempSync(join(work, 'http-')), 'runs.gradscope');
    const server = await buildServer({ db, port: 0, token: 'docs-token' });
    try {
      // What the snippet takes as given: a model, its data and a probe batch.
      const prelude = `import * as tf from '@tensorflow/tfjs';
const model = tf.sequential();
model.add(tf.layers.simpleRNN({ units: 3, returnSequences: true, inputShape: [6, 2] }));
model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
const x = tf.randomNormal([4, 6, 2]);
const y = tf.randomNormal([4, 6, 3]);
const probe = { x, y };
const epochs = 20; // one step per epoch (4 samples, batch size 32): iteration 20 is due
`;
      const code = block!.code.replace("'http://gradscope-host:6174'", `'${server.url}'`);
      expect(code).not.toBe(block!.code);
      // An async child: the server answers from this process meanwhile.
      const js = ts.transpileModule(prelude + code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const file = join(work, 'http-readme.mjs');
      writeFileSync(file, js);
      const { execFile } = await import('node:child_process');
      await new Promise<void>((done, fail) =>
        execFile(
          'node',
          [file],
          { cwd: work, env: { ...process.env, GRADSCOPE_TOKEN: 'docs-token' } },
          (err, _o, e) => (err ? fail(new Error(`${err.message}\n${e}`)) : done()),
        ),
      );
      const runs = server.reader.listRuns();
      expect(runs.map((r: { name: string; status: string }) => [r.name, r.status])).toEqual([
        ['worker-3', 'finished'],
      ]);
      expect(runs[0].snapshots).toBeGreaterThan(0);
    } finally {
      await server.close();
    }
  }, 300_000);

  it('Development: every pnpm command is a root script', () => {
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    for (const cmd of commands(take('README.md', 'Development', 'sh')[0]!.code)) {
      expect(cmd[0]).toBe('pnpm');
      expect(Object.keys(scripts)).toContain(cmd[1]);
    }
  });
});

describe('apps/cli/README.md', () => {
  it('every example is a command of the CLI with flags its --help lists; the store commands run', () => {
    const [sh] = take('apps/cli/README.md', 'Commands', 'sh');
    const lines = commands(sh!.code);
    const top = gradscope(['--help']);
    const seen = new Set<string>();
    for (const cmd of lines) {
      expect(cmd[0]).toBe('gradscope');
      const sub = cmd[1] === 'runs' ? ['runs', cmd[2]!] : [cmd[1]!];
      expect(top).toContain(`  ${cmd[1]}`);
      const help = gradscope([...sub, '--help']);
      for (const flag of cmd.filter((a) => a.startsWith('--')))
        expect(help, `${sub.join(' ')} ${flag}`).toContain(flag);
      seen.add(sub.join(' '));
    }
    // One example per command of program.ts.
    expect([...seen].sort()).toEqual(
      [
        'compact',
        'doctor',
        'export',
        'list',
        'runs delete',
        'runs rename',
        'runs tag',
        'serve',
        'vacuum',
      ].sort(),
    );
    // The store commands, in order, on a copy of the README's store (serve is run by its own tests).
    const dir = mkdtempSync(join(work, 'cli-'));
    execFileSync('cp', [join(work, 'runs.gradscope'), join(dir, 'runs.gradscope')]);
    const inDir = (args: string[]) => execFileSync('node', [CLI, ...args], { cwd: dir, encoding: 'utf8' });
    for (const cmd of lines.filter((c) => c[1] !== 'serve')) {
      // compact's --run names the run by its name before the rename: the examples run in their own order,
      // so compact (after delete) gets the copy's remaining state; give it a fresh copy.
      if (cmd[1] === 'compact')
        execFileSync('cp', [join(work, 'runs.gradscope'), join(dir, 'runs.gradscope')]);
      inDir(cmd.slice(1));
    }
    expect(readdirSync(join(dir, 'grads'))).toContain('lstm_1__output-grad.arrow');
    expect(readFileSync(join(dir, 'loss.csv'), 'utf8').split('\n')[0]).toMatch(/iteration/);
    const runs = JSON.parse(inDir(['list', 'runs.gradscope', '--json'])) as { lastIteration: number }[];
    // compact keeps the first 5, every 10th after them, the last and 20: still ends at iteration 100.
    expect(runs.map((r) => r.lastIteration)).toEqual([100]);
  }, 300_000);
});

describe('apps/demo/README.md', () => {
  it("every example is `pnpm demo` with flags its --help lists; the CLI's old `gradscope demo` points at it", () => {
    const [sh] = take('apps/demo/README.md', 'The gradscope demo (`pnpm demo`)', 'sh');
    const help = execFileSync('node', [join(ROOT, 'apps/demo/dist/main.js'), '--help'], { encoding: 'utf8' });
    expect(help).toMatch(/^Usage: pnpm demo \[options\]/);
    for (const cmd of commands(sh!.code)) {
      expect(cmd.slice(0, 2)).toEqual(['pnpm', 'demo']);
      for (const flag of cmd.filter((a) => a.startsWith('--'))) expect(help, flag).toContain(flag);
    }
    // The root script runs the built demo with the arguments after it.
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(scripts.demo).toMatch(/&& node apps\/demo\/dist\/main\.js$/);
    // The demo used to be `gradscope demo`: the command says where it went, with the same arguments.
    let moved: { status: number; stderr: string } = { status: 0, stderr: '' };
    try {
      gradscope(['demo', '--set', 'memory', '--seeds', '3']);
    } catch (err) {
      moved = err as { status: number; stderr: string };
    }
    expect(moved.status).toBe(1);
    expect(moved.stderr).toBe(
      'gradscope: the demo is not part of the gradscope command (it trains with tfjs, which gradscope does not install): in a clone of the gradscope repository run `pnpm demo --set memory --seeds 3`\n',
    );
    expect(gradscope(['--help'])).not.toContain('demo');
  });

  it('the sweep block: `pnpm sweep` and `pnpm gradscope doctor` with flags their --help lists', () => {
    const [sh] = take('apps/demo/README.md', 'A sweep read by group', 'sh');
    const [sweep, doctor] = commands(sh!.code);
    const help = execFileSync('node', [join(ROOT, 'apps/demo/dist/sweep-main.js'), '--help'], {
      encoding: 'utf8',
    });
    expect(sweep!.slice(0, 2)).toEqual(['pnpm', 'sweep']);
    for (const flag of sweep!.filter((a) => a.startsWith('--'))) expect(help, flag).toContain(flag);
    expect(doctor!.slice(0, 3)).toEqual(['pnpm', 'gradscope', 'doctor']);
    const doctorHelp = gradscope(['doctor', '--help']);
    for (const flag of doctor!.filter((a) => a.startsWith('--'))) expect(doctorHelp, flag).toContain(flag);
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(scripts.sweep).toMatch(/&& node apps\/demo\/dist\/sweep-main\.js$/);
  });
});

/**
 * Blocks no test here runs, each with the reason. Python needs pyarrow / polars / duckdb, which the test
 * machines cannot install (PyPI is out of reach); their DuckDB SQL runs above with @duckdb/node-api, and
 * scripts/check-python-docs.mjs runs the whole snippets where those modules are importable.
 */
const NOT_RUN: [file: string, heading: string, lang: string, why: string][] = [
  ['README.md', 'Architecture', '', 'a diagram'],
  ['docs/format.md', 'Reading exports', 'python', 'Python (pyarrow, polars; the DuckDB SQL runs above)'],
  ['packages/store/README.md', 'Writes stay off the training thread', '', 'a diagram'],
];

describe('coverage', () => {
  it('every snippet is run or checked by a test above, or listed with the reason it is not', () => {
    const exempt = (b: Block) =>
      NOT_RUN.some(([file, heading, lang]) => b.file === file && b.heading === heading && b.lang === lang);
    const missed = ALL.filter((b) => !claimed.has(b) && !exempt(b)).map(
      (b) => `${b.file}:${b.line} \`\`\`${b.lang} under '${b.heading}'`,
    );
    expect(missed).toEqual([]);
  });
});
