// gradscope export when the export fails part way (issue 23): one line naming the file, exit code 1, no Node
// stack (a destroyed file stream used to throw ERR_STREAM_DESTROYED as an unhandled 'error' event), and no
// file left behind.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '@gradscope/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
let dir: string;
let db: string;

/** Renames the tensor extension in the last stored payload, so that reading it fails as damaged. */
function damageLastPayload(file: string): void {
  const bytes = readFileSync(file);
  const name = Buffer.from('arrow.fixed_shape_tensor');
  const at = bytes.lastIndexOf(name);
  expect(at).toBeGreaterThan(0);
  bytes.write('arrow.fixed_shape_tensoX', at, 'latin1');
  writeFileSync(file, bytes);
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-cli-export-'));
  db = join(dir, 'runs.gradscope');
  const store = openStore(db);
  await store.startRun({
    id: 'r',
    name: 'damaged',
    startedAt: 1_764_000_000_000,
    model: { name: 'm', className: 'Sequential', layers: [], inputShape: [], outputShape: [], losses: [] },
    options: { mode: 'probe', capture: ['output-grad'], layers: ['lstm_1'] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'h',
  });
  // Enough values that the first snapshots' rows are still being written when the last one fails.
  for (let i = 0; i < 4; i++) {
    const data = Float32Array.from({ length: 16 * 100 * 64 }, (_, k) => Math.sin(k + i));
    await store.write({
      run: 'r',
      iteration: i,
      epoch: 0,
      batch: i,
      layer: 'lstm_1',
      layerClass: 'LSTM',
      kind: 'output-grad',
      shape: [16, 100, 64],
      dims: ['sample', 'timestep', 'channel'],
      data,
      loss: 1,
      time: 1_764_000_000_000,
      nonFinite: 0,
    });
  }
  await store.close();
  damageLastPayload(db);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('gradscope export of a run with a damaged payload', () => {
  for (const [layout, file] of [
    ['long', 'out.arrow'],
    ['long', 'out.parquet'],
    ['tensor', 'out.arrows'],
  ] as const) {
    it(`--layout ${layout} to ${file}: one line naming the file and snapshot, exit 1, nothing written`, () => {
      const out = join(dir, file);
      const r = spawnSync(
        process.execPath,
        [MAIN, 'export', db, '--run', 'damaged', '--layout', layout, '--out', out],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      expect(r.stderr).not.toMatch(/\n\s+at |node:events|ERR_STREAM_DESTROYED/);
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(
        /^gradscope: .*runs\.gradscope snapshot 4: damaged tensor payload: no arrow\.fixed_shape_tensor column/,
      );
      expect(r.status).toBe(1);
      expect(readdirSync(dir).sort()).toEqual(['runs.gradscope']);
    });
  }
});
