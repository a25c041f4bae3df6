// gradscope runs tag, run as a user would on a real store file, and the same run read and tagged again
// through a real server's API (PATCH /api/runs/:run with the management token): one group and one set of
// params, whichever way they were set.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunInfo } from '@gradscope/format';
import { buildServer } from '@gradscope/server';
import { openReader, openStore } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseParam } from './runs.js';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const TOKEN = 'tag-token-1234';
let dir: string;
let db: string;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runInfo(id: string, name: string, params?: Record<string, unknown>): RunInfo {
  return {
    id,
    name,
    startedAt: 1_764_000_000_000,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['output-grad'], layers: ['gru_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
    ...(params ? { params } : {}),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-tag-'));
  db = join(dir, 'runs.gradscope');
  const store = openStore(db);
  await store.startRun(runInfo('r1', 'gru seed 1', { cell: 'GRU', units: 16, lr: 0.005 }));
  await store.endRun('r1', 'finished');
  await store.startRun(runInfo('r2', 'other'));
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parseParam', () => {
  it('JSON when the value parses, else text; the first = splits', () => {
    expect(parseParam('lr=0.005')).toEqual({ lr: 0.005 });
    expect(parseParam('cell=GRU')).toEqual({ cell: 'GRU' });
    expect(parseParam('seeds=[1,2]', { a: 1 })).toEqual({ a: 1, seeds: [1, 2] });
    expect(parseParam('on=true')).toEqual({ on: true });
    expect(parseParam('gone=null')).toEqual({ gone: null });
    expect(parseParam('name="007"')).toEqual({ name: '007' });
    expect(parseParam('expr=a=b')).toEqual({ expr: 'a=b' });
    expect(parseParam('empty=')).toEqual({ empty: '' });
    expect(() => parseParam('lr')).toThrow(
      '--param must be key=value (e.g. --param lr=0.005 or --param cell=GRU), got "lr"',
    );
    expect(() => parseParam('=1')).toThrow(/got "=1"/);
  });
});

describe('gradscope runs tag', () => {
  it('sets the group and params by name; the API returns them; a PATCH through the API is seen by the CLI', async () => {
    let r = cli(
      'runs',
      'tag',
      db,
      'gru seed 1',
      '--group',
      'gru-16',
      '--param',
      'seed=1',
      '--param',
      'lr=0.01',
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(
      'tagged run r1 ("gru seed 1"): group "gru-16"; params cell=GRU, units=16, lr=0.01, seed=1\n',
    );

    const server = await buildServer({ db, port: 0, token: TOKEN });
    try {
      const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
      const get = async (path: string) => (await fetch(`${server.url}${path}`, { headers: auth })).json();
      expect(await get('/api/runs/r1')).toMatchObject({
        group: 'gru-16',
        params: { cell: 'GRU', units: 16, lr: 0.01, seed: 1 },
      });
      const list = (await get('/api/runs')) as { id: string; group: string | null }[];
      expect(list.map((x) => [x.id, x.group])).toEqual([
        ['r2', null],
        ['r1', 'gru-16'],
      ]);
      const res = await fetch(`${server.url}/api/runs/r1`, {
        method: 'PATCH',
        headers: auth,
        body: JSON.stringify({ group: 'gru-16-lr0.01', params: { units: null, note: 'api' } }),
      });
      expect(res.status).toBe(200);
    } finally {
      await server.close();
    }

    const runs = JSON.parse(cli('list', db, '--json').stdout) as {
      id: string;
      group: string | null;
      params: Record<string, unknown>;
    }[];
    expect(runs.find((x) => x.id === 'r1')).toMatchObject({
      group: 'gru-16-lr0.01',
      params: { cell: 'GRU', lr: 0.01, seed: 1, note: 'api' },
    });
    expect(runs.find((x) => x.id === 'r1')!.params).not.toHaveProperty('units');

    r = cli('runs', 'tag', db, 'r1', '--ungroup', '--param', 'note=null');
    expect(r.stdout).toBe('tagged run r1 ("gru seed 1"): group (none); params cell=GRU, lr=0.01, seed=1\n');
    const reader = openReader(db);
    try {
      expect(reader.getRun('r1')).toMatchObject({ group: null, params: { cell: 'GRU', lr: 0.01, seed: 1 } });
      expect(reader.getRun('r2')).toMatchObject({ group: null, params: {} });
    } finally {
      reader.close();
    }
  });

  it('refuses, in one line, an empty tag, a bad param, a contradiction and an unknown run; the file unchanged', () => {
    const cases: [string[], string][] = [
      [['r2'], 'gradscope: runs tag: nothing to set: give --group, --ungroup or --param key=value\n'],
      [
        ['r2', '--param', 'lr'],
        'gradscope: --param must be key=value (e.g. --param lr=0.005 or --param cell=GRU), got "lr"\n',
      ],
      [
        ['r2', '--group', 'g', '--ungroup'],
        'gradscope: --group and --ungroup contradict each other: give one\n',
      ],
      [
        ['r2', '--group', ' '],
        'gradscope: group must be a non-empty string (e.g. the seed-free name of a configuration), got " "\n',
      ],
      [['nope', '--group', 'g'], `gradscope: ${db}: no run with id or name "nope"\n`],
    ];
    for (const [args, stderr] of cases) {
      const r = cli('runs', 'tag', db, ...args);
      expect([r.code, r.stdout, r.stderr]).toEqual([1, '', stderr]);
    }
    const reader = openReader(db);
    try {
      expect(reader.getRun('r2')).toMatchObject({ group: null, params: {} });
    } finally {
      reader.close();
    }
  });
});
