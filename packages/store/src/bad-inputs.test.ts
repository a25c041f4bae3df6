// Every bad input gives a clear error naming the file and the cause, and what was stored before stays readable.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { StoreError } from './errors.js';
import { openReader } from './reader.js';
import { SCHEMA_VERSION } from './schema.js';
import { openStore } from './store.js';
import { bytesOf, rejected, runInfo, snapshot, tempDir, thrown } from './test-util/fixtures.js';

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => {
  chmodSync(dir, 0o755);
  cleanup();
});

async function seed(db: string, n = 3) {
  const store = openStore(db);
  await store.startRun(runInfo());
  const written = [];
  for (let i = 0; i < n; i++) {
    const s = snapshot({ iteration: i * 10 });
    written.push(s);
    await store.write(s);
  }
  await store.close();
  return written;
}

function expectReadable(db: string, written: ReturnType<typeof snapshot>[]) {
  const r = openReader(db);
  const index = r.listSnapshots({ run: 'run-1' });
  expect(index.map((s) => s.iteration)).toEqual(written.map((s) => s.iteration));
  index.forEach((info, i) => {
    expect(bytesOf(r.readTensor(info.id).data).equals(bytesOf(written[i]!.data))).toBe(true);
  });
  r.close();
}

describe('path checks', () => {
  it('non-string, empty, directory and missing-directory paths give EPATH naming the value', async () => {
    expect(thrown(() => openStore(42 as never))).toMatchObject({
      code: 'EPATH',
      message: 'database path must be a string, got 42',
    });
    expect(thrown(() => openStore(''))).toMatchObject({
      code: 'EPATH',
      message: 'database path must not be empty',
    });
    const e = thrown(() => openStore(dir));
    expect(e.code).toBe('EPATH');
    expect(e.message).toBe(`${dir} is a directory; expected a database file such as ${dir}/runs.gradscope`);
    const missing = join(dir, 'no', 'such', 'x.gradscope');
    expect(thrown(() => openStore(missing)).message).toBe(
      `${missing}: directory ${join(dir, 'no', 'such')} does not exist`,
    );
    expect(thrown(() => openReader(join(dir, 'absent.gradscope')))).toMatchObject({
      code: 'ENOENT',
      message: `${join(dir, 'absent.gradscope')}: no such database file`,
    });
    expect(thrown(() => openReader(undefined as never)).code).toBe('EPATH');
  });
});

describe('foreign and newer files', () => {
  it('a file that is not SQLite is refused untouched by writer and reader', async () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'these are my notes, not a database\n'.repeat(20));
    const before = readFileSync(f);
    const e = thrown(() => openStore(f));
    expect(e.code).toBe('ENOTDB');
    expect(e.file).toBe(f);
    expect(e.message).toBe(
      `${f} is not a gradscope database: not an SQLite file (it starts with "these are my not")`,
    );
    expect(thrown(() => openReader(f)).code).toBe('ENOTDB');
    expect(readFileSync(f).equals(before)).toBe(true);
  });

  it('an SQLite database of another application is refused and left as it was', async () => {
    const f = join(dir, 'other.db');
    const raw = new Database(f);
    raw.exec(
      "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'ada')",
    );
    raw.close();
    const before = readFileSync(f);
    const e = thrown(() => openStore(f));
    expect(e.code).toBe('ENOTDB');
    expect(e.message).toMatch(
      new RegExp(
        `^${f.replaceAll('.', '\\.')} is not a gradscope database: SQLite application_id is 0x0 \\(gradscope writes 0x47725363\\), tables: customers$`,
      ),
    );
    expect(thrown(() => openReader(f)).message).toMatch(/is not a gradscope database/);
    expect(readFileSync(f).equals(before)).toBe(true);
  });

  it('a database of a newer schema version is refused by writer and reader; an older gradscope cannot damage it', async () => {
    const f = join(dir, 'future.gradscope');
    const written = await seed(f, 1);
    const raw = new Database(f);
    raw.pragma('user_version = 99');
    raw.close();
    const e = thrown(() => openStore(f));
    expect(e).toMatchObject({ code: 'ENEWER', file: f });
    expect(e.message).toBe(
      `${f} was written by a newer gradscope: schema version 99, this version reads up to ${SCHEMA_VERSION}; upgrade gradscope to open it`,
    );
    expect(thrown(() => openReader(f)).code).toBe('ENEWER');
    const fix = new Database(f);
    fix.pragma(`user_version = ${SCHEMA_VERSION}`);
    fix.close();
    expectReadable(f, written);
  });
});

describe('read-only paths', () => {
  it('a read-only file, and a file in a read-only directory, are refused for writing but stay readable', async () => {
    const ro = join(dir, 'ro');
    mkdirSync(ro);
    const f = join(ro, 'runs.gradscope');
    const written = await seed(f, 2);
    chmodSync(f, 0o444);
    chmodSync(ro, 0o555);
    chmodSync(dir, 0o755);
    const child = fileURLToPath(new URL('./test-util/open-child.mjs', import.meta.url));
    // Root ignores permission bits: run the attempt as an unprivileged user then.
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const run = (...args: string[]) => {
      const res = spawnSync(process.execPath, [child, ...args], {
        encoding: 'utf8',
        ...asUser,
        timeout: 30_000,
      });
      expect(res.stderr).toBe('');
      return JSON.parse(res.stdout.trim()) as { ok: boolean; code?: string; message?: string; runs?: number };
    };
    expect(run(f)).toEqual({
      ok: false,
      code: 'EREADONLY',
      message: `${f}: cannot write: the file is read-only`,
    });
    const fresh = join(ro, 'new.gradscope');
    const r2 = run(fresh);
    expect(r2.code).toBe('EREADONLY');
    expect(r2.message).toBe(
      `${fresh}: cannot write: directory ${ro} is read-only (SQLite creates the database there, and its -journal at each commit)`,
    );
    chmodSync(ro, 0o755);
    expectReadable(f, written);
  });
});

describe('full disk', () => {
  it('reports SQLITE_FULL with the file, never crashes the caller, and keeps what was stored', async () => {
    const f = join(dir, 'full.gradscope');
    const errors: StoreError[] = [];
    const store = openStore(f, { maxPageCount: 40, onError: (e) => errors.push(e) });
    await store.startRun(runInfo());
    const small = [0, 1, 2].map((i) => snapshot({ iteration: i }));
    for (const s of small) await store.write(s);
    await store.flush();

    // 2 MB does not fit in 40 pages of 32 KiB: accepted, then the commit fails.
    const big = snapshot({ iteration: 3, shape: [8, 256, 256] });
    await store.write(big);
    const e = await rejected(() => store.flush());
    expect(e.code).toBe('EFULL');
    expect(e.file).toBe(f);
    expect(e.message).toBe(
      `${f}: writing snapshot lstm_1 output-grad iteration 3 failed: database or disk is full (free disk space; what was stored before stays readable)`,
    );
    expect(errors.map((x) => x.message)).toEqual([e.message]);

    // Without a flush, the failure surfaces on the next write(), which stores nothing.
    await store.write(snapshot({ iteration: 4, shape: [8, 256, 256] }));
    while (store.stats().failed < 2) await new Promise((r) => setTimeout(r, 5));
    const next = snapshot({ iteration: 5 });
    expect((await rejected(() => store.write(next))).message).toMatch(
      /iteration 4 failed: database or disk is full/,
    );
    // The store keeps working once there is room.
    const after = snapshot({ iteration: 6 });
    await store.write(after);
    await store.close();
    expect(errors).toHaveLength(2);
    expectReadable(f, [...small, after]);
  });
});

describe('damaged payloads', () => {
  it('a truncated or overwritten BLOB is detected on read, naming file and snapshot; the others stay readable', async () => {
    const f = join(dir, 'damaged.gradscope');
    const written = await seed(f, 3);
    const raw = new Database(f);
    raw.prepare('UPDATE payloads SET ipc = substr(ipc, 1, 100) WHERE snapshot_id = 2').run();
    raw.prepare('UPDATE payloads SET ipc = zeroblob(length(ipc)) WHERE snapshot_id = 3').run();
    raw.close();
    const r = openReader(f);
    const full = r.listSnapshots({ run: 'run-1' })[1]!.payloadBytes;
    const e = thrown(() => r.readTensor(2));
    expect(e).toMatchObject({ code: 'ECORRUPT', file: f });
    expect(e.message).toBe(
      `${f} snapshot 2: damaged tensor payload: 100 bytes stored, ${full} written (truncated)`,
    );
    const e3 = thrown(() => r.readTensor(3));
    expect(e3.code).toBe('ECORRUPT');
    expect(e3.message).toMatch(
      new RegExp(`^${f.replaceAll('.', '\\.')} snapshot 3: damaged tensor payload: `),
    );
    expect(bytesOf(r.readTensor(1).data).equals(bytesOf(written[0]!.data))).toBe(true);
    expect(thrown(() => r.getTensor(99))).toMatchObject({
      code: 'ENOTFOUND',
      message: `${f}: no snapshot with id 99`,
    });
    expect(r.integrityCheck()).toBe('ok');
    r.close();
  });
});
