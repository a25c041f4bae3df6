// Bytes to a Node Writable, waiting for 'drain' when it asks to, counting what went out.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export class ByteSink {
  bytes = 0;
  constructor(readonly out: Writable) {}

  async write(chunk: Uint8Array): Promise<void> {
    if (chunk.byteLength === 0) return;
    this.bytes += chunk.byteLength;
    if (!this.out.write(chunk)) await once(this.out, 'drain');
  }

  async writeAll(chunks: Uint8Array[]): Promise<void> {
    for (const c of chunks) await this.write(c);
  }
}
