// Servers on one PostgreSQL database (issue 26): stateless, so that any of them ingests and any of them
// reads; live updates reach a viewer of one server whichever server ingested; a server killed during ingest
// loses nothing it acknowledged; the database restarted under a running server is reported (503 with a clear
// message, a logged error), retried and recovered from.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { encodeSnapshot } from '@gradscope/format';
import { openRunReader } from '@gradscope/store';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createDatabase } from '../../../scripts/test-stores.mjs';
import { buildServer, type RunningServer } from './index.js';
import { RUN, request, snapshot } from './test-util/fixture.js';

const ARROW = { 'content-type': 'application/vnd.apache.arrow.stream' };
const JSON_TYPE = { 'content-type': 'application/json' };

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function serve(db: string, logLines?: string[]): Promise<RunningServer> {
  const server = await buildServer({
    db,
    port: 0,
    ...(logLines ? { logger: { level: 'warn', stream: { write: (l: string) => logLines.push(l) } } } : {}),
  });
  cleanups.push(() => server.close());
  return server;
}

/** The events a viewer gets from GET /api/events until `until` is true of them (or the time runs out). */
async function events(url: string, until: (text: string) => boolean, ms = 15_000): Promise<string> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), ms);
  let text = '';
  try {
    const res = await fetch(`${url}/api/events`, { signal: ctl.signal });
    const reader = res.body!.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
      if (until(text)) break;
    }
  } catch {
    // aborted: the time ran out; what came is returned
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
  return text;
}

describe('several servers on one PostgreSQL database', () => {
  it('ingest through one, read through the other; a viewer of the other gets the live update', async () => {
    const db = await createDatabase(inject('postgresUrl'), 'server');
    const a = await serve(db);
    const b = await serve(db);
    expect(
      (
        await request(`${a.url}/api/ingest/runs`, {
          method: 'POST',
          headers: JSON_TYPE,
          body: JSON.stringify(RUN),
        })
      ).status,
    ).toBe(201);
    // A viewer of b listens; a trainer writes through a.
    const seen = events(b.url, (t) => t.includes('"iteration":7'));
    await new Promise((r) => setTimeout(r, 300)); // subscribed
    const sent = snapshot(7);
    const posted = await request(`${a.url}/api/ingest`, {
      method: 'POST',
      headers: ARROW,
      body: encodeSnapshot(sent),
    });
    expect(posted.status).toBe(201);
    const text = await seen;
    expect(text).toContain('event: snapshot');
    expect(text).toContain(`"run":"${RUN.id}"`);
    // b reads what a ingested: the run (running, by a's heartbeat), its tensor as sent.
    const runs = await request(`${b.url}/api/runs`);
    expect(runs.status).toBe(200);
    expect(runs.body.runs ?? runs.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: RUN.id, status: 'running', snapshots: 1 })]),
    );
    const [info] = await b.reader.listSnapshots({ run: RUN.id });
    const tensor = await b.reader.readTensor(info!.id);
    expect(Buffer.from(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)).toEqual(
      Buffer.from(sent.data.buffer, sent.data.byteOffset, sent.data.byteLength),
    );
  });

  it('a server killed (SIGKILL) during ingest loses nothing it acknowledged', async () => {
    const db = await createDatabase(inject('postgresUrl'), 'server');
    const child: ChildProcess = spawn(
      process.execPath,
      [fileURLToPath(new URL('./test-util/pg-server.mjs', import.meta.url)), db],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    cleanups.push(async () => child.kill('SIGKILL'));
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d) => {
        out += d;
        const m = /listening (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (code) => reject(new Error(`the server exited (${code}) before listening`)));
    });
    expect(
      (
        await request(`${url}/api/ingest/runs`, {
          method: 'POST',
          headers: JSON_TYPE,
          body: JSON.stringify(RUN),
        })
      ).status,
    ).toBe(201);
    // Four trainers post one snapshot after another; the server is killed once 40 are acknowledged.
    const acknowledged = new Map<number, Float32Array>();
    let next = 0;
    let killed = false;
    const trainer = async () => {
      while (!killed) {
        const s = snapshot(next++);
        try {
          const res = await fetch(`${url}/api/ingest`, {
            method: 'POST',
            headers: ARROW,
            body: encodeSnapshot(s),
          });
          await res.arrayBuffer();
          if (res.status === 201) acknowledged.set(s.iteration, s.data);
        } catch {
          // the connection died with the server: not acknowledged
        }
        if (acknowledged.size >= 40 && !killed) {
          killed = true;
          child.kill('SIGKILL');
        }
      }
    };
    await Promise.all([trainer(), trainer(), trainer(), trainer()]);
    await new Promise((r) =>
      child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
    );
    expect(acknowledged.size).toBeGreaterThanOrEqual(40);
    const reader = openRunReader(db);
    cleanups.push(async () => reader.close());
    const held = new Map((await reader.listSnapshots({ run: RUN.id })).map((s) => [s.iteration, s.id]));
    for (const [iteration, data] of acknowledged) {
      const id = held.get(iteration);
      expect(id, `acknowledged iteration ${iteration}`).toBeDefined();
      const stored = (await reader.readTensor(id!)).data;
      expect(Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength)).toEqual(
        Buffer.from(data.buffer, data.byteOffset, data.byteLength),
      );
    }
    expect(await reader.integrityCheck()).toBe('ok');
  });

  it('the database restarted under a running server: 503 with a clear message and a logged error, then it recovers', async () => {
    // A cluster of this test's own: the restart must not disturb the other test files.
    const { startCluster } = (await import(
      new URL('../../../scripts/postgres.mjs', import.meta.url).href
    )) as {
      startCluster(): Promise<{
        url: string;
        down(): Promise<void>;
        up(): Promise<void>;
        stop(): Promise<void>;
      }>;
    };
    const pg = await startCluster();
    cleanups.push(() => pg.stop());
    const db = await createDatabase(pg.url, 'server');
    const log: string[] = [];
    const server = await serve(db, log);
    const post = (iteration: number) =>
      request(`${server.url}/api/ingest`, {
        method: 'POST',
        headers: ARROW,
        body: encodeSnapshot(snapshot(iteration)),
      });
    expect(
      (
        await request(`${server.url}/api/ingest/runs`, {
          method: 'POST',
          headers: JSON_TYPE,
          body: JSON.stringify(RUN),
        })
      ).status,
    ).toBe(201);
    expect((await post(1)).status).toBe(201);

    await pg.down();
    const down = await request(`${server.url}/api/runs`);
    expect(down.status).toBe(503);
    expect(down.body.message).toBe("the store's database server cannot be reached: retry in a moment");
    expect(down.text).not.toContain('127.0.0.1');
    const logged = log.map((l) => JSON.parse(l) as { msg?: string; statusCode?: number });
    expect(
      logged.some(
        (l) => l.statusCode === 503 && /cannot be reached|unreachable|ECONNREFUSED/.test(l.msg ?? ''),
      ),
    ).toBe(true);
    // A snapshot sent while the database is down waits for it (the writer retries) and is stored once it is up.
    const during = post(2);
    await new Promise((r) => setTimeout(r, 1500));
    await pg.up();
    expect((await during).status).toBe(201);
    expect((await post(3)).status).toBe(201);
    const runs = await request(`${server.url}/api/runs`);
    expect(runs.status).toBe(200);
    expect((await server.reader.listSnapshots({ run: RUN.id })).map((s) => s.iteration)).toEqual([1, 2, 3]);
  });
});
