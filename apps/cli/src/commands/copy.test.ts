// gradscope copy, as a user runs it: a store file made by real writes (several runs, layers, kinds, channel
// parts, non-finite values, scalars with NaN, a tagged and an ended run) copied into PostgreSQL and back into
// a new file; every tensor's stored bytes, every run record, snapshot index entry and scalar compared with the
// original's, and the series read through both files equal. Then the other commands on the database's URL.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kind, RunInfo, Snapshot } from '@gradscope/format';
import { openRunReader, openStore, type RunReader } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createDatabase, storeContents } from '../../../../scripts/test-stores.mjs';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
let dir: string;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runInfo(id: string, name: string): RunInfo {
  return {
    id,
    name,
    startedAt: 1_764_000_000_000 + id.length,
    model: {
      name: 'm',
      className: 'Sequential',
      layers: [],
      inputShape: [],
      outputShape: [],
      losses: ['mse'],
    },
    options: { mode: 'probe', capture: ['output-grad', 'input-grad'], layers: ['lstm_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
    meta: { note: 'copied' },
    group: 'g',
    params: { lr: 0.01, cell: 'LSTM' },
  };
}

function snap(
  run: string,
  iteration: number,
  kind: Kind,
  shape: number[],
  o: Partial<Snapshot> = {},
): Snapshot {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let x = (iteration * 2654435761 + n) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    data[i] = ((x / 2 ** 32 - 0.5) * 10 ** ((x % 7) - 4)) as number;
  }
  if (n > 5) {
    data[3] = Number.NaN;
    data[4] = -0;
  }
  return {
    run,
    iteration,
    epoch: Math.floor(iteration / 10),
    batch: iteration % 10,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind,
    shape,
    dims: shape.length === 3 ? ['sample', 'timestep', 'channel'] : ['input', 'unit'],
    data,
    loss: iteration === 4 ? Number.NaN : 1 / (iteration + 1),
    time: 1_764_000_000_000 + iteration * 1000,
    nonFinite: n > 5 ? 1 : 0,
    ...o,
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-copy-'));
  const store = openStore(join(dir, 'src.gradscope'));
  await store.startRun(runInfo('run-a', 'alpha'));
  await store.startRun(runInfo('run-bb', 'beta'));
  for (let it = 0; it < 60; it++) {
    const i = (it * 13) % 60; // out of order
    await store.write(snap('run-a', i, 'output-grad', [2, 8, 4], { channelParts: ['forward', 'backward'] }));
    await store.write(snap('run-a', i, 'input-grad', [2, 8, 3]));
    if (i % 5 === 0) await store.write(snap('run-a', i, 'weight-grad', [3, 4], { part: 'kernel' }));
    await store.write(snap('run-bb', i, 'output-grad', [1, 16, 2]));
  }
  await store.writeScalars(
    'run-a',
    Array.from({ length: 500 }, (_, i) => ({
      name: i % 3 === 0 ? 'acc' : 'loss',
      iteration: i,
      value: i % 41 === 0 ? Number.NaN : Math.cos(i),
      time: 1_764_000_000_000 + i,
    })),
  );
  await store.endRun('run-a', 'finished');
  await store.endRun('run-bb', 'failed');
  await store.tagRun('run-bb', { params: { lr: null, seed: 3 } });
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What both stores must hold alike: storeContents with the flows of lstm_1. */
const contents = (r: RunReader) =>
  storeContents(r, [
    ['lstm_1', 'output-grad', undefined],
    ['lstm_1', 'output-grad', 9],
    ['lstm_1', 'input-grad', 20],
  ]);

describe('gradscope copy', () => {
  it('copies a store file into PostgreSQL and back: every tensor byte-identical, runs and scalars equal', async () => {
    const src = join(dir, 'src.gradscope');
    const url = await createDatabase(inject('postgresUrl'), 'copy');
    const back = join(dir, 'back.gradscope');
    const there = cli('copy', src, url);
    expect(there.stderr).toBe('');
    expect(there.code).toBe(0);
    expect(there.stdout).toContain('alpha (run-a): 132 snapshots, 500 scalar points');
    expect(there.stdout).toContain('copied 2 runs into');
    const home = cli('copy', url, back);
    expect(home.code, home.stderr).toBe(0);

    const original = openRunReader(src);
    const inPostgres = openRunReader(url);
    const copied = openRunReader(back);
    const want = await contents(original);
    // The store is what it claims to be: both runs, ended, with tensors, scalars and a tag.
    expect((want as Record<string, { status: string }>)['run run-a']!.status).toBe('finished');
    expect((want as Record<string, unknown[]>)['tensors run-a']).toHaveLength(132);
    for (const r of [inPostgres, copied]) {
      const got = (await contents(r)) as Record<string, unknown>;
      expect(Object.keys(got)).toEqual(Object.keys(want as object));
      for (const [k, v] of Object.entries(want as object)) expect(got[k], `${r.path}: ${k}`).toEqual(v);
    }
    await original.close();
    await inPostgres.close();
    await copied.close();
  });

  it('copies selected runs, and refuses a run the destination already holds, naming it, before writing', async () => {
    const src = join(dir, 'src.gradscope');
    const dst = join(dir, 'one.gradscope');
    expect(cli('copy', src, dst, '--run', 'beta').code).toBe(0);
    const r = openRunReader(dst);
    expect((await r.listRuns()).map((x) => x.id)).toEqual(['run-bb']);
    await r.close();
    const again = cli('copy', src, dst);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`run 'beta' (run-bb) is already in ${dst}`);
    const after = openRunReader(dst);
    expect((await after.listRuns()).map((x) => x.id)).toEqual(['run-bb']);
    await after.close();
    const missing = cli('copy', src, dst, '--run', 'nope');
    expect(missing.stderr).toContain("--run: no run with id or name 'nope'");
  });

  it('list, doctor and serve take a postgres:// URL; a refused password or a database without a store is one line, no password in it', async () => {
    const url = await createDatabase(inject('postgresUrl'), 'copy');
    expect(cli('copy', join(dir, 'src.gradscope'), url, '--run', 'alpha').code).toBe(0);
    const list = cli('list', url);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^alpha\s+run-a\s+finished\s+132\s+59\s+lstm_1$/m);
    expect(cli('doctor', url, '--json').code).toBe(0);
    // A wrong password (the tests' cluster trusts every local login, so a wrong user stands for it).
    const wrong = new URL(url);
    wrong.username = 'nobody';
    wrong.password = 's3cret-pw';
    const refused = cli('list', wrong.toString());
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('role "nobody" does not exist');
    expect(refused.stderr).not.toContain('s3cret-pw');
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const empty = cli('list', await createDatabase(inject('postgresUrl'), 'copy'));
    expect(empty.code).toBe(1);
    expect(empty.stderr).toContain('no gradscope store in this database');
    // serve: the URL it prints, the run through the API.
    const child = spawn(process.execPath, [MAIN, 'serve', url, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const open = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          const m = /open (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${out}`)));
      });
      const runs = (await (await fetch(`${new URL(open).origin}/api/runs`)).json()) as {
        runs?: { id: string }[];
      };
      expect((runs.runs ?? (runs as unknown as { id: string }[])).map((r) => r.id)).toEqual(['run-a']);
    } finally {
      child.kill('SIGINT');
    }
  });
});
