// Bytes to a Node Writable, waiting for 'drain' when it asks to, counting what went out. An error the
// Writable emits (a full disk, a client gone) is kept and thrown by the next write, never left unhandled.
import type { Writable } from 'node:stream';

export class ByteSink {
  bytes = 0;
  /** The first error the Writable emitted. */
  error: Error | undefined;
  constructor(readonly out: Writable) {
    out.on('error', (err) => {
      this.error ??= err;
    });
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.error) throw this.error;
    if (chunk.byteLength === 0) return;
    this.bytes += chunk.byteLength;
    if (this.out.destroyed) throw this.error ?? new Error('the export output was closed before the end');
    if (!this.out.write(chunk)) await this.drained();
  }

  /** 'drain', or the error or close that means none will come (a client gone mid-download). */
  private drained(): Promise<void> {
    const out = this.out;
    return new Promise((resolve, reject) => {
      const settle = () => {
        out.off('drain', onDrain);
        out.off('close', onClose);
      };
      const onDrain = () => {
        settle();
        resolve();
      };
      const onClose = () => {
        settle();
        reject(this.error ?? new Error('the export output was closed before the end'));
      };
      out.on('drain', onDrain);
      out.on('close', onClose);
    });
  }

  async writeAll(chunks: Uint8Array[]): Promise<void> {
    for (const c of chunks) await this.write(c);
  }
}
