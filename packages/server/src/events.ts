// Live updates over Server-Sent Events. Trainers in other processes write straight into the SQLite
// file, so the hub polls the store for rows newer than the last it saw and fans them out.
import type { FastifyReply } from 'fastify';

export interface LiveEvent {
  type: 'snapshot' | 'run';
  /** Run id, for ?run= filtering. */
  run: string;
  data: unknown;
}

interface Client {
  reply: FastifyReply;
  run: string | undefined;
}

export class EventHub {
  private readonly clients = new Set<Client>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private ping: ReturnType<typeof setInterval> | undefined;
  private polling = false;

  /** `poll` returns what changed since its previous call; it is called every `pollMs` while clients listen. */
  constructor(
    private readonly poll: () => Promise<LiveEvent[]>,
    private readonly pollMs = 500,
    private readonly pingMs = 15_000,
  ) {}

  /** Takes over the reply and streams events to it until the client goes away. */
  subscribe(reply: FastifyReply, run: string | undefined, headers: Record<string, string>): void {
    reply.hijack();
    reply.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.write(': connected\n\n');
    const client = { reply, run };
    this.clients.add(client);
    reply.raw.on('close', () => {
      this.clients.delete(client);
      if (this.clients.size === 0) this.idle();
    });
    this.start();
  }

  /** Sends events now (e.g. after a remote ingest), without waiting for the next poll. */
  publish(events: LiveEvent[]): void {
    for (const event of events) {
      const text = `event: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`;
      for (const client of this.clients) {
        if (client.run === undefined || client.run === event.run) client.reply.raw.write(text);
      }
    }
  }

  /** Polls now, when clients listen (the store said something was committed: RunReader.watch). */
  nudge(): void {
    if (this.timer !== undefined) this.tick(true);
  }

  close(): void {
    this.idle();
    for (const client of this.clients) client.reply.raw.end();
    this.clients.clear();
  }

  private start(): void {
    if (this.timer !== undefined) return;
    this.tick(false); // from now on, only what is new
    this.timer = setInterval(() => this.tick(true), this.pollMs);
    this.ping = setInterval(() => {
      for (const client of this.clients) client.reply.raw.write(': ping\n\n');
    }, this.pingMs);
    this.timer.unref();
    this.ping.unref();
  }

  /**
   * One poll at a time: a provider slower than pollMs skips ticks rather than stacking them. A failed poll
   * (e.g. the file locked beyond the busy timeout) is tried again at the next tick.
   */
  private tick(publish: boolean): void {
    if (this.polling) return;
    this.polling = true;
    this.poll()
      .then(
        (events) => publish && this.publish(events),
        () => {},
      )
      .finally(() => {
        this.polling = false;
      });
  }

  private idle(): void {
    clearInterval(this.timer);
    clearInterval(this.ping);
    this.timer = undefined;
    this.ping = undefined;
  }
}
