// Change notifications of a PostgreSQL store: one connection of its own LISTENs on the channel every write
// transaction NOTIFYs (postgres/writer.ts), reconnecting (every second) after the server restarts.
import type pg from 'pg';
import { pgModule } from './modules.js';
import { CHANNEL } from './transaction.js';

export class Watchers {
  private readonly watchers = new Set<() => void>();
  private listener: pg.Client | undefined;
  private relisten: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly url: string) {}

  /** Calls `onChange` after every commit of any writer; returns the function that stops it. */
  watch(onChange: () => void): () => void {
    this.watchers.add(onChange);
    if (this.watchers.size === 1) void this.listen();
    return () => {
      this.watchers.delete(onChange);
      if (this.watchers.size === 0) this.unlisten();
    };
  }

  private async listen(): Promise<void> {
    if (this.closed || this.watchers.size === 0 || this.listener) return;
    const client = new (pgModule().Client)({
      connectionString: this.url,
      application_name: 'gradscope listener',
    });
    this.listener = client;
    const again = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      void client.end().catch(() => {});
      if (this.closed || this.watchers.size === 0) return;
      // What was committed while it was down is news too.
      for (const w of this.watchers) w();
      this.relisten = setTimeout(() => void this.listen(), 1000);
      this.relisten.unref();
    };
    client.on('error', again);
    client.on('end', again);
    client.on('notification', () => {
      for (const w of this.watchers) w();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
      // The socket alone must not keep a process alive.
      (
        client as unknown as { connection?: { stream?: { unref?: () => void } } }
      ).connection?.stream?.unref?.();
    } catch {
      again();
    }
  }

  private unlisten(): void {
    clearTimeout(this.relisten);
    const client = this.listener;
    this.listener = undefined;
    void client?.end().catch(() => {});
  }

  /** Stops listening for good. */
  close(): void {
    this.closed = true;
    this.watchers.clear();
    this.unlisten();
  }
}
