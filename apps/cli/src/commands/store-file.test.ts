// The management commands (runs rename/delete, compact, vacuum) on damaged files, run as a user would
// (dist/main.js): one line naming the file, exit code 1, and not one byte of the file changed.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import type { RunInfo } from '@gradscope/format';
import { openStore } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const PAGE = 32768;
let dir: string;
let whole: string;

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function runInfo(id: string): RunInfo {
  return {
    id,
    name: `run ${id}`,
    startedAt: 1_764_000_000_000,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['output-grad'], layers: ['gru_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-cli-damaged-'));
  whole = join(dir, 'whole.gradscope');
  // Two runs of 20 snapshots of 192 KiB: each payload spans several pages.
  const store = openStore(whole);
  for (const run of ['a', 'b']) {
    await store.startRun(runInfo(run));
    for (let iteration = 0; iteration < 20; iteration++) {
      await store.write({
        run,
        iteration,
        epoch: 0,
        batch: iteration,
        layer: 'gru_1',
        layerClass: 'GRU',
        kind: 'output-grad',
        shape: [64, 48, 16],
        dims: ['sample', 'timestep', 'channel'],
        data: Float32Array.from({ length: 64 * 48 * 16 }, (_, k) => Math.sin(k + iteration)),
        loss: 1,
        time: 1_764_000_000_000 + iteration,
        nonFinite: 0,
      });
    }
  }
  await store.close();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the whole file, damaged by `damage`. */
function damaged(name: string, damage: (file: string) => void): string {
  const file = join(dir, name);
  copyFileSync(whole, file);
  damage(file);
  return file;
}

/** Two pages 60% of the way into the file zeroed, as a bad disk leaves them: inside a payload's pages. */
function zeroPages(file: string): void {
  const pages = statSync(file).size / PAGE;
  const fd = openSync(file, 'r+');
  for (const page of [Math.floor(pages * 0.6), Math.floor(pages * 0.6) + 1])
    writeSync(fd, Buffer.alloc(PAGE), 0, PAGE, (page - 1) * PAGE);
  closeSync(fd);
}

/** better-sqlite3 as the store resolves it (the CLI does not depend on it): to damage a file on purpose. */
const Database = createRequire(import.meta.resolve('@gradscope/store'))('better-sqlite3') as new (
  file: string,
) => { exec(sql: string): void; close(): void };

function dropTable(table: string) {
  return (file: string) => {
    const db = new Database(file);
    db.exec(`DROP TABLE ${table}`);
    db.close();
  };
}

const COMMANDS: [string[], string][] = [
  [['runs', 'delete', '{}', 'a'], 'deleting a run'],
  [['runs', 'rename', '{}', 'a', 'renamed'], 'renaming a run'],
  [['compact', '{}', '--keep-every', '2'], 'compacting'],
  [['vacuum', '{}'], 'vacuuming'],
];

describe('management commands on a damaged file', () => {
  const cases: [string, (file: string) => void, RegExp][] = [
    ['zeroed pages', zeroPages, /SQLite quick_check: [^\n]+/],
    ['a dropped table', dropTable('scalars'), /missing index scalars_series, table scalars/],
    ['a dropped table others reference', dropTable('summaries'), /missing table summaries/],
  ];
  for (const [what, damage, problem] of cases) {
    it(`refuse ${what} in one line naming the file, exit 1, and change no byte`, () => {
      const file = damaged(`${what.replaceAll(' ', '-')}.gradscope`, damage);
      const before = readFileSync(file);
      for (const [args, doing] of COMMANDS) {
        const r = cli(...args.map((a) => (a === '{}' ? file : a)));
        expect(r.code).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr.split('\n')).toEqual([
          expect.stringMatching(
            new RegExp(
              `^gradscope: ${file.replaceAll('.', '\\.')}: the file is damaged \\(${problem.source}\\); ${doing} refused, nothing was changed$`,
            ),
          ),
          '',
        ]);
        expect(readFileSync(file).equals(before)).toBe(true);
      }
    });
  }

  it('a whole file of schema version 1 is migrated, then changed; a damaged one is refused unchanged', () => {
    // The store's fixture: a file written by the store of an earlier version (schema 1).
    const v1 = gunzipSync(
      readFileSync(
        new URL('../../../../packages/store/src/test-util/fixtures/v1.gradscope.gz', import.meta.url),
      ),
    );
    const file = join(dir, 'v1.gradscope');
    writeFileSync(file, v1);
    const broken = damaged('v1-zeroed.gradscope', (f) => {
      writeFileSync(f, v1);
      zeroPages(f);
    });
    const before = readFileSync(broken);
    const r = cli('vacuum', broken);
    expect([r.code, r.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^gradscope: .*v1-zeroed\.gradscope: the file is damaged \(SQLite quick_check: [^\n]+\); vacuuming refused, nothing was changed\n$/,
      ),
    ]);
    expect(readFileSync(broken).equals(before)).toBe(true);
    expect(cli('vacuum', file)).toMatchObject({ code: 0, stderr: '' });
    expect(cli('list', file)).toMatchObject({ code: 0, stdout: expect.stringContaining('v1-run') });
  });
});
