// The built CLI (dist/main.js), run as a user would: output, files written, and one-line errors.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@gradscope/store';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let dir: string;
let db: string;
const data = (i: number) => Float32Array.from({ length: 2 * 4 * 3 }, (_, k) => (k - 12) * 0.125 + i);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-cli-'));
  db = join(dir, 'runs.gradscope');
  const store = openStore(db);
  await store.startRun({
    id: 'run-abc',
    name: 'lstm-demo',
    startedAt: 1_764_000_000_000,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
  });
  for (const iteration of [0, 20, 200, 400]) {
    await store.write({
      run: 'run-abc',
      iteration,
      epoch: 0,
      batch: iteration,
      layer: 'lstm_1',
      layerClass: 'LSTM',
      kind: 'output-grad',
      shape: [2, 4, 3],
      dims: ['sample', 'timestep', 'channel'],
      data: data(iteration),
      loss: 0.5,
      time: 1_764_000_000_000 + iteration,
      nonFinite: 0,
    });
  }
  await store.endRun('run-abc', 'finished');
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gradscope list', () => {
  it('prints runs with name, id, status, snapshot count and layers', () => {
    const r = cli('list', db);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]!.split(/\s{2,}/)).toEqual([
      'NAME',
      'ID',
      'STATUS',
      'SNAPSHOTS',
      'LAST ITERATION',
      'LAYERS',
    ]);
    expect(lines[1]!.split(/\s{2,}/)).toEqual(['lstm-demo', 'run-abc', 'finished', '4', '400', 'lstm_1']);
    const json = JSON.parse(cli('list', db, '--json').stdout);
    expect(json).toMatchObject([{ id: 'run-abc', snapshots: 4, layers: ['lstm_1'] }]);
  });
});

describe('gradscope export', () => {
  it('exports the chosen iterations of a run by name as an Arrow file', () => {
    const out = join(dir, 'grads.arrow');
    const r = cli(
      'export',
      db,
      '--run',
      'lstm-demo',
      '--layer',
      'lstm_1',
      '--iterations',
      '20,400',
      '--out',
      out,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/grads\.arrow {2}2 snapshots, 2 rows, /);
    const t = tableFromIPC(readFileSync(out));
    expect(Array.from(t.getChild('iteration')!.toArray() as Int32Array)).toEqual([20, 400]);
    const values = t.getChild('tensor')!.data[0]!.children[0]!.values as Float32Array;
    expect(Array.from(values.subarray(0, 24))).toEqual(Array.from(data(20)));
  });

  it('exports Parquet in the long layout into a directory', () => {
    const out = join(dir, 'pq');
    const r = cli('export', db, '--run', 'run-abc', '--out', out, '--format', 'parquet');
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['lstm_1__output-grad.parquet']);
    expect(readFileSync(join(out, 'lstm_1__output-grad.parquet')).subarray(0, 4).toString()).toBe('PAR1');
    expect(r.stdout).toMatch(/4 snapshots, 96 rows/);
  });

  it('user errors are one line naming the file or value, exit code 1, no stack trace', () => {
    const cases: [string[], RegExp][] = [
      [
        ['list', join(dir, 'missing.gradscope')],
        /^gradscope: .*missing\.gradscope: no such database file\n$/,
      ],
      [
        ['export', db, '--run', 'nope', '--out', join(dir, 'x')],
        /^gradscope: .*runs\.gradscope: no run with id or name "nope"\n$/,
      ],
      [
        ['export', db, '--run', 'run-abc', '--iterations', '20,x', '--out', join(dir, 'y')],
        /^gradscope: --iterations must be a comma-separated list of integers >= 0 \(e\.g\. 20,200,400\), got "20,x"\n$/,
      ],
      [
        [
          'export',
          db,
          '--run',
          'run-abc',
          '--format',
          'parquet',
          '--layout',
          'tensor',
          '--out',
          join(dir, 'z'),
        ],
        /^gradscope: Parquet exports use the long layout/,
      ],
      [
        ['export', db, '--run', 'run-abc', '--format', 'csv', '--out', join(dir, 'w')],
        /argument 'csv' is invalid\. Allowed choices are arrow, parquet/,
      ],
      [['export', db, '--out', join(dir, 'v')], /required option '--run <name\|id>' not specified/],
    ];
    for (const [args, pattern] of cases) {
      const r = cli(...args);
      expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(pattern)]);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    const notDb = join(dir, 'notes.txt');
    writeFileSync(notDb, 'hello, this is not a database at all');
    const r = cli('list', notDb);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `gradscope: ${notDb} is not a gradscope database: not an SQLite file (it starts with "hello, this is n")\n`,
    );
  });
});
