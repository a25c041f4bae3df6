// Change polling for live updates, over a real store file and a reader on it: what a page hears when runs
// start, change or go away, and when snapshots land.
import { openReader } from '@gradscope/store';
import { afterEach, describe, expect, it } from 'vitest';
import { pollChanges } from './changes.js';
import { type Fixture, RUN, snapshot, storeWith } from './test-util/fixture.js';

let fx: Fixture | undefined;
afterEach(async () => {
  await fx?.cleanup();
  fx = undefined;
});

describe('pollChanges', () => {
  it('reports nothing at first, then new snapshots, renamed, finished and deleted runs', async () => {
    fx = await storeWith([20]);
    await fx.store.startRun({ ...RUN, id: 'other', name: 'other-run' });
    await fx.store.flush();
    const reader = openReader(fx.db);
    try {
      const poll = pollChanges(reader);
      expect(await poll()).toEqual([]); // the baseline
      expect(await poll()).toEqual([]); // nothing changed

      await fx.store.write(snapshot(40));
      await fx.store.renameRun('other', 'renamed');
      await fx.store.flush();
      const events = await poll();
      expect(events).toContainEqual({
        type: 'run',
        run: 'other',
        data: { id: 'other', name: 'renamed', status: 'running' },
      });
      expect(events).toContainEqual(
        expect.objectContaining({
          type: 'snapshot',
          run: RUN.id,
          data: expect.objectContaining({ iteration: 40 }),
        }),
      );

      await fx.store.deleteRun('other');
      await fx.store.flush();
      expect(await poll()).toEqual([
        { type: 'run', run: 'other', data: { id: 'other', name: 'renamed', deleted: true } },
      ]);
      expect(await poll()).toEqual([]); // said once
    } finally {
      reader.close();
    }
  });
});
