// Change polling for live updates: what is new in the store since the last look (snapshots by id, runs by
// status), cheap when nothing changed (one data_version read).
import type { RunReader } from '@gradscope/store';
import type { LiveEvent } from './events.js';

/** A poll function for EventHub: its first call sets the baseline and reports nothing. */
export function pollChanges(reader: RunReader): () => Promise<LiveEvent[]> {
  let version = -1;
  let lastId = 0;
  let runs = new Map<string, string>();
  return async () => {
    const v = await reader.dataVersion();
    if (v === version) return [];
    version = v;
    const events: LiveEvent[] = [];
    const current = await reader.listRuns();
    const next = new Map(current.map((r) => [r.id, `${r.name}\0${r.status}`]));
    for (const r of current) {
      if (runs.get(r.id) !== next.get(r.id))
        events.push({ type: 'run', run: r.id, data: { id: r.id, name: r.name, status: r.status } });
    }
    // Gone since the last look (deleted, or compacted away): say so, so that open pages drop it.
    for (const [id, was] of runs) {
      if (!next.has(id))
        events.push({ type: 'run', run: id, data: { id, name: was.split('\0')[0], deleted: true } });
    }
    const first = lastId === 0 && runs.size === 0;
    runs = next;
    for (;;) {
      const batch = await reader.snapshotsAfter(lastId, 1000);
      if (batch.length === 0) break;
      lastId = batch[batch.length - 1]!.id;
      if (first) continue; // the baseline: only what lands from now on is news
      for (const s of batch) {
        events.push({
          type: 'snapshot',
          run: s.run,
          data: { id: s.id, run: s.run, layer: s.layer, kind: s.kind, part: s.part, iteration: s.iteration },
        });
      }
    }
    return first ? [] : events;
  };
}
