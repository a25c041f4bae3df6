// The built CLI (dist/main.js), run as a user would: output, files written, and one-line errors.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ARROW_STREAM_TYPE, encodeSnapshot, type RunInfo, type Snapshot } from '@gradscope/format';
import { openReader, openStore } from '@gradscope/store';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../dist/main.js', import.meta.url));
let dir: string;
let db: string;
const data = (i: number) => Float32Array.from({ length: 2 * 4 * 3 }, (_, k) => (k - 12) * 0.125 + i);
/** The loss per step of run-abc and the probe loss at its snapshots. */
const SCALARS = [
  ...Array.from({ length: 10 }, (_, i) => ({
    iteration: i,
    name: 'loss',
    value: 2 / (i + 1),
    time: 1_764_000_000_000 + i,
  })),
  ...[0, 20].map((i) => ({
    iteration: i,
    name: 'probe/loss',
    value: 0.75 - i / 100,
    time: 1_764_000_000_000 + i,
  })),
];

/** A run started with what the CLI shows of it. */
function runInfo(id: string, name: string): RunInfo {
  return {
    id,
    name,
    startedAt: 1_764_000_000_000,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
  };
}

/** An lstm_1 output-grad snapshot of `run` at `iteration`. */
function snapshot(
  run: string,
  iteration: number,
  shape: number[],
  values: Float32Array,
  loss = 0.5,
): Snapshot {
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration,
    layer: 'lstm_1',
    layerClass: 'LSTM',
    kind: 'output-grad',
    shape,
    dims: ['sample', 'timestep', 'channel'],
    data: values,
    loss,
    time: 1_764_000_000_000 + iteration,
    nonFinite: 0,
  };
}

interface TestRun {
  id: string;
  name: string;
  iterations: number[];
}

/** A store file with the given runs, each with one [4, 50, 32] snapshot per iteration (25.6 KB each). */
async function makeStore(path: string, runs: TestRun[]): Promise<void> {
  const store = openStore(path);
  for (const run of runs) {
    await store.startRun(runInfo(run.id, run.name));
    for (const iteration of run.iterations) {
      const values = Float32Array.from({ length: 4 * 50 * 32 }, (_, k) => Math.sin(k + iteration));
      await store.write(snapshot(run.id, iteration, [4, 50, 32], values));
    }
    await store.endRun(run.id, 'finished');
  }
  await store.close();
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-cli-'));
  db = join(dir, 'runs.gradscope');
  const store = openStore(db);
  await store.startRun(runInfo('run-abc', 'lstm-demo'));
  for (const iteration of [0, 20, 200, 400])
    await store.write(snapshot('run-abc', iteration, [2, 4, 3], data(iteration)));
  await store.writeScalars('run-abc', SCALARS);
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
        ['export', db, '--run', 'run-abc', '--format', 'xlsx', '--out', join(dir, 'w')],
        /argument 'xlsx' is invalid\. Allowed choices are arrow, parquet, csv/,
      ],
      [
        ['export', db, '--run', 'run-abc', '--format', 'csv', '--out', join(dir, 'w')],
        /^gradscope: format 'csv' is for scalars only \(data 'scalars', gradscope export --scalars\); tensors export as 'arrow' or 'parquet'\n$/,
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

interface Served {
  url: string;
  proc: ChildProcess;
  /** Sends SIGINT and resolves with the exit code and all output once the process has ended. */
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** Starts `gradscope serve …` and resolves once it prints the URL to open. */
async function serve(...args: string[]): Promise<Served> {
  const proc = spawn(process.execPath, [MAIN, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = once(proc, 'exit');
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout}${stderr}`)), 30_000);
    const check = () => {
      const m = /open (http:\/\/\S+?)\/(\?|\n)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', () => reject(new Error(`serve exited: ${stdout}${stderr}`)));
  });
  return {
    url,
    proc,
    async stop() {
      proc.kill('SIGINT');
      const [code] = await exited;
      return { code: code as number | null, stdout, stderr };
    },
  };
}

/** A GET with headers fetch() would not send as given (Host). */
function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString();
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gradscope serve', () => {
  it('a missing file is an error naming it, and nothing is created, unless --create', () => {
    const typo = join(dir, 'typo.gradscope');
    const r = cli('serve', typo, '--port', '0');
    expect([r.code, r.stdout, r.stderr]).toEqual([
      1,
      '',
      `gradscope: ${typo} does not exist: check the path, or pass --create to start a new, empty store there (for trainers logging in over HTTP)\n`,
    ]);
    expect(existsSync(typo)).toBe(false);
  });

  it('a port already in use is an error naming it and what to do', async () => {
    const first = await serve(db, '--port', '0', '--log-level', 'silent');
    try {
      const port = new URL(first.url).port;
      const r = cli('serve', db, '--port', port, '--log-level', 'silent');
      expect([r.code, r.stderr]).toEqual([
        1,
        `gradscope: port ${port} on 127.0.0.1 is already in use: pick another with --port\n`,
      ]);
    } finally {
      expect((await first.stop()).code).toBe(0);
    }
  });

  it('listens by default on 6174, not TensorBoard 6006', () => {
    const help = cli('serve', '--help').stdout;
    expect(help).toMatch(/--port <port>\s+port to listen on \(0 = any free port\) \(default: "6174"\)/);
  });

  it('refuses a --host that is no address, naming the value (no resolver error)', () => {
    const cases: [string, string][] = [
      [
        '256.1.1.1',
        'gradscope: --host 256.1.1.1 is not an IPv4 address (four numbers 0-255, such as 127.0.0.1)\n',
      ],
      ['[::1', 'gradscope: --host [::1 is not an IPv6 address in brackets\n'],
    ];
    for (const [host, message] of cases) {
      const r = cli('serve', db, '--host', host, '--port', '0');
      expect([r.code, r.stderr]).toEqual([1, message]);
    }
  });

  it("binds --host '[::1]' as the IPv6 loopback and answers there", async () => {
    const s = await serve(db, '--host', '[::1]', '--port', '0', '--no-ingest', '--log-level', 'silent');
    try {
      expect(s.url).toMatch(/^http:\/\/\[::1\]:\d+$/);
      const res = await fetch(`${s.url}/api/runs`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }[]).map((r) => r.id)).toEqual(['run-abc']);
    } finally {
      const end = await s.stop();
      expect([end.code, end.stderr]).toEqual([0, '']);
    }
  });

  it('--cors ORIGIN (repeatable) answers those exact origins; --allowed-host NAME passes the Host check', async () => {
    const s = await serve(
      db,
      '--port',
      '0',
      '--no-ingest',
      '--cors',
      'http://localhost:5173',
      '--cors',
      'https://trainer.example.org',
      '--allowed-host',
      'gradscope.test',
    );
    try {
      const port = new URL(s.url).port;
      for (const origin of ['http://localhost:5173', 'https://trainer.example.org']) {
        const res = await fetch(`${s.url}/api/runs`, { headers: { origin } });
        expect([res.status, res.headers.get('access-control-allow-origin')]).toEqual([200, origin]);
      }
      const other = await fetch(`${s.url}/api/runs`, { headers: { origin: 'http://evil.example' } });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();
      const named = await rawGet(`${s.url}/api/runs`, { host: `gradscope.test:${port}` });
      expect(named.status).toBe(200);
      expect(JSON.parse(named.body).map((r: { id: string }) => r.id)).toEqual(['run-abc']);
      const rebound = await rawGet(`${s.url}/api/runs`, { host: `evil.example:${port}` });
      expect(rebound.status).toBe(403);
      expect(JSON.parse(rebound.body).message).toContain('does not answer to Host "evil.example"');
    } finally {
      expect((await s.stop()).code).toBe(0);
    }
  });

  it('refuses a --cors or --allowed-host value it cannot honour, naming the flag', () => {
    let r = cli('serve', db, '--port', '0', '--cors', '*');
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^gradscope: --cors must list exact origins: "\*" would let every website read this server\n$/,
      ),
    ]);
    r = cli('serve', db, '--port', '0', '--cors', 'http://localhost:5173/path');
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^gradscope: --cors must hold origins such as .*"http:\/\/localhost:5173\/path"\n$/,
      ),
    ]);
    r = cli('serve', db, '--port', '0', '--allowed-host', 'http://x.example');
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringMatching(/^gradscope: --allowed-host must hold host names .*"http:\/\/x\.example"\n$/),
    ]);
  });

  it('after Ctrl-C the .gradscope file alone holds what was ingested over HTTP (checkpointed)', async () => {
    const file = join(dir, 'ingest.gradscope');
    const s = await serve(file, '--create', '--port', '0');
    const run = runInfo('remote-1', 'from-afar');
    try {
      let res = await fetch(`${s.url}/api/ingest/runs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(run),
      });
      expect(res.status).toBeLessThan(300);
      for (const iteration of [20, 40, 60]) {
        res = await fetch(`${s.url}/api/ingest`, {
          method: 'POST',
          headers: { 'content-type': ARROW_STREAM_TYPE },
          body: Buffer.from(
            encodeSnapshot(snapshot('remote-1', iteration, [2, 4, 3], data(iteration), 0.25)),
          ),
        });
        expect(res.status).toBeLessThan(300);
      }
    } finally {
      expect((await s.stop()).code).toBe(0);
    }
    // The main file alone, as a user would copy it: no -wal beside it.
    const copy = join(dir, 'copied.gradscope');
    copyFileSync(file, copy);
    const r = cli('list', copy, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject([
      { id: 'remote-1', name: 'from-afar', snapshots: 3, lastIteration: 60 },
    ]);
    const out = join(dir, 'copied.arrow');
    expect(cli('export', copy, '--run', 'from-afar', '--out', out).code).toBe(0);
    const values = tableFromIPC(readFileSync(out)).getChild('tensor')!.data[0]!.children[0]!
      .values as Float32Array;
    expect(Array.from(values.subarray(24, 48))).toEqual(Array.from(data(40)));
  });
});

describe('gradscope export --scalars', () => {
  it('writes every point of a run as CSV, by name then iteration', () => {
    const out = join(dir, 'scalars.csv');
    const r = cli('export', db, '--run', 'lstm-demo', '--scalars', '--out', out);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`${out}  12 points, ${statSync(out).size} B\n`);
    expect(readFileSync(out, 'utf8')).toBe(
      [
        'run,run_id,name,iteration,value,time',
        ...SCALARS.map((p) => `lstm-demo,run-abc,${p.name},${p.iteration},${p.value},${p.time}`),
        '',
      ].join('\n'),
    );
  });

  it('as Arrow into a directory, read back with apache-arrow', () => {
    const out = join(dir, 'scalars-dir');
    const r = cli('export', db, '--run', 'run-abc', '--scalars', '--out', out);
    expect(r.code).toBe(0);
    expect(readdirSync(out)).toEqual(['lstm-demo__scalars.arrow']);
    const t = tableFromIPC(readFileSync(join(out, 'lstm-demo__scalars.arrow')));
    expect(t.toArray().map((row) => ({ ...row.toJSON() }))).toEqual(
      SCALARS.map(({ name, iteration, value, time }) => ({
        run: 'lstm-demo',
        run_id: 'run-abc',
        name,
        iteration,
        value,
        time,
      })),
    );
  });

  it('refuses tensor selections with --scalars, naming the flag it takes', () => {
    const r = cli(
      'export',
      db,
      '--run',
      'run-abc',
      '--scalars',
      '--layer',
      'lstm_1',
      '--out',
      join(dir, 's.csv'),
    );
    expect([r.code, r.stderr]).toEqual([
      1,
      'gradscope: the scalars export takes the whole run: layer selects tensors, leave it out\n',
    ]);
  });
});

describe('gradscope runs rename|delete, vacuum', () => {
  it('renames a run by id or name; the id stays', async () => {
    const file = join(dir, 'rename.gradscope');
    await makeStore(file, [
      { id: 'r1', name: 'first', iterations: [0, 20] },
      { id: 'r2', name: 'second', iterations: [0] },
    ]);
    let r = cli('runs', 'rename', file, 'first', 'lstm-64-units');
    expect([r.code, r.stdout, r.stderr]).toEqual([0, 'renamed run r1 from "first" to "lstm-64-units"\n', '']);
    r = cli('runs', 'rename', file, 'r2', 'gru');
    expect(r.code).toBe(0);
    const runs = JSON.parse(cli('list', file, '--json').stdout) as {
      id: string;
      name: string;
      snapshots: number;
    }[];
    expect(runs.map((x) => [x.id, x.name, x.snapshots]).sort()).toEqual([
      ['r1', 'lstm-64-units', 2],
      ['r2', 'gru', 1],
    ]);
    r = cli('runs', 'rename', file, 'first', 'x');
    expect([r.code, r.stderr]).toEqual([1, `gradscope: ${file}: no run with id or name "first"\n`]);
  });

  it('deletes one run with everything it recorded; vacuum then shrinks the file', async () => {
    const file = join(dir, 'delete.gradscope');
    await makeStore(file, [
      { id: 'keep', name: 'kept', iterations: range(5) },
      { id: 'gone', name: 'deleted', iterations: range(40) },
    ]);
    const before = statSync(file).size;
    let r = cli('runs', 'delete', file, 'deleted');
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(
      `deleted run gone ("deleted", 40 snapshots); run \`gradscope vacuum ${file}\` to shrink the file\n`,
    );
    const reader = openReader(file);
    try {
      expect(reader.listRuns().map((x) => [x.id, x.snapshots])).toEqual([['keep', 5]]);
      expect(reader.integrityCheck()).toBe('ok');
      // The other run's tensors are intact.
      const first = reader.listSnapshots({ run: 'keep' })[0]!;
      expect(reader.readTensor(first.id).data[1]).toBeCloseTo(Math.sin(1), 6);
    } finally {
      reader.close();
    }
    r = cli('vacuum', file);
    expect([r.code, r.stderr]).toEqual([0, '']);
    const after = statSync(file).size;
    // 40 snapshots of 25.6 KB of float32 each are gone: at least 90% of those bytes leave the file.
    expect(before - after).toBeGreaterThan(0.9 * 40 * 4 * 50 * 32 * 4);
    expect(r.stdout).toMatch(
      new RegExp(
        `^${file.replaceAll('.', '\\.')}: \\d+\\.\\d (KiB|MiB) → ${(after / 1024).toFixed(1)} KiB\\n$`,
      ),
    );
    r = cli('runs', 'delete', file, 'deleted');
    expect([r.code, r.stderr]).toEqual([1, `gradscope: ${file}: no run with id or name "deleted"\n`]);
  });

  it('never creates a database file that is not there', () => {
    const missing = join(dir, 'nothing-here.gradscope');
    for (const args of [
      ['runs', 'delete', missing, 'x'],
      ['runs', 'rename', missing, 'x', 'y'],
      ['vacuum', missing],
      ['compact', missing, '--keep-every', '2'],
    ]) {
      const r = cli(...args);
      expect([r.code, r.stderr]).toEqual([1, `gradscope: ${missing}: no such database file\n`]);
    }
    expect(existsSync(missing)).toBe(false);
  });
});

describe('gradscope compact', () => {
  it('keeps the first K, every N-th after them, the last and the listed iterations; the file shrinks', async () => {
    const file = join(dir, 'compact.gradscope');
    await makeStore(file, [
      { id: 'long', name: 'long-run', iterations: range(20) },
      { id: 'short', name: 'short-run', iterations: [0, 1, 2] },
    ]);
    const before = statSync(file).size;
    const r = cli(
      'compact',
      file,
      '--keep-every',
      '5',
      '--keep-first',
      '2',
      '--keep-iterations',
      '13',
      '--run',
      'long-run',
    );
    expect([r.code, r.stderr]).toEqual([0, '']);
    // Indices 0, 1 (first two), then 2, 7, 12, 17 (every 5th after them), 19 (the last) and 13 (listed).
    const kept = [0, 1, 2, 7, 12, 13, 17, 19];
    const after = statSync(file).size;
    expect(r.stdout).toMatch(
      /^compacted 1 run: kept 8 snapshots, removed 12; \d+\.\d (KiB|MiB) → \d+\.\d KiB\n$/,
    );
    // 12 snapshots of 25.6 KB of float32 each are gone: at least 90% of those bytes leave the file.
    expect(before - after).toBeGreaterThan(0.9 * 12 * 4 * 50 * 32 * 4);
    const reader = openReader(file);
    try {
      expect(reader.listSnapshots({ run: 'long' }).map((x) => x.iteration)).toEqual(kept);
      expect(reader.listSnapshots({ run: 'short' }).map((x) => x.iteration)).toEqual([0, 1, 2]);
      expect(reader.integrityCheck()).toBe('ok');
      const s13 = reader.listSnapshots({ run: 'long', iterations: [13] })[0]!;
      expect(reader.readTensor(s13.id).data[5]).toBeCloseTo(Math.sin(18), 6);
    } finally {
      reader.close();
    }
  });

  it('refuses counts it cannot use, naming the flag and the value', () => {
    const cases: [string[], string][] = [
      [['--keep-every', '0'], '--keep-every must be an integer >= 1, got "0"'],
      [['--keep-every', '2', '--keep-first', '-1'], '--keep-first must be an integer >= 0, got "-1"'],
      [
        ['--keep-every', '2', '--keep-iterations', '5,a'],
        '--keep-iterations must be a comma-separated list of integers >= 0 (e.g. 20,200,400), got "5,a"',
      ],
      [['--keep-first', '1'], "required option '--keep-every <n>' not specified"],
    ];
    for (const [args, message] of cases) {
      const r = cli('compact', db, ...args);
      expect([r.code, r.stderr]).toEqual([1, expect.stringContaining(message)]);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
  });
});
