// What bounds a server's memory (README, Memory): the reader's page cache and no memory map, read back from
// SQLite itself.
import { describe, expect, it } from 'vitest';
import { buildServer } from './index.js';
import { RUN, storeWith } from './test-util/fixture.js';

type Pragma = { pragma(sql: string, options: { simple: true }): unknown };

describe("a server's memory bounds", () => {
  it('reads the file into a page cache of 16 MiB, without a memory map', async () => {
    const fx = await storeWith([1, 2]);
    const server = await buildServer({ db: fx.db, port: 0, ingest: false });
    try {
      const db = (server.reader as unknown as { c: { db: Pragma } }).c.db;
      // A negative cache_size is KiB.
      expect(db.pragma('cache_size', { simple: true })).toBe(-16 * 1024);
      expect(db.pragma('mmap_size', { simple: true })).toBe(0);
      // It still answers from the file.
      const res = await fetch(`${server.url}/api/runs`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }[]).map((r) => r.id)).toEqual([RUN.id]);
    } finally {
      await server.close();
      await fx.cleanup();
    }
  });
});
