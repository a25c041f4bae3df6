// A run's liveness on PostgreSQL is its writer's heartbeat alone: the servers and trainers writing to one
// database run on several hosts, so a process id (which the file store also checks on its own host) says
// nothing. A writer that is alive keeps its run 'running' past the staleness bound; one killed with SIGKILL
// leaves it 'interrupted' once its heartbeat is older than the bound, not before, and not at once.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { HEARTBEAT_MS } from '../liveness.js';
import { openReader } from '../reader.js';
import { createDatabase } from '../test-util/backends.js';
import { sleep } from '../test-util/fixtures.js';

describe('run liveness on PostgreSQL', () => {
  it('is the heartbeat: running while the writer beats, interrupted once it is older than the bound', async () => {
    const url = await createDatabase();
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL('../test-util/live-writer.mjs', import.meta.url)), url, 'beating'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d) => String(d).includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the writer exited (${code}) before it was ready`)));
      });
      // Two beats: a live writer's run stays running across the bound, with a beat to spare on a loaded machine.
      const staleAfterMs = 2 * HEARTBEAT_MS;
      const r = openReader(url, { staleAfterMs });
      const status = async () => (await r.requireRun('beating')).status;
      await sleep(staleAfterMs + 1000);
      expect(await status()).toBe('running');
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      // Dead, but its last beat is recent: still running (no process id is looked at).
      expect(await status()).toBe('running');
      await sleep(staleAfterMs + 500);
      expect(await status()).toBe('interrupted');
      await r.close();
    } finally {
      child.kill('SIGKILL');
    }
  });
});
