// Atomic file output: bytes go to `<path>.partial-<pid>` and are renamed over `path` only when complete.
import { once } from 'node:events';
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { finished } from 'node:stream/promises';
import { StoreError } from '@gradscope/store';
import { ByteSink } from './byte-sink.js';

/**
 * Runs `body` against a sink over a temporary file beside `path`, then renames it into place. On any error
 * the temporary file is removed and `path` is left as it was. Resolves to body's row count and the bytes.
 */
export async function writeAtomically(
  path: string,
  body: (sink: ByteSink) => Promise<number>,
): Promise<{ rows: number; bytes: number }> {
  const tmp = `${path}.partial-${process.pid}`;
  const stream = createWriteStream(tmp);
  try {
    await once(stream, 'open');
  } catch (err) {
    throw new StoreError('EPATH', `cannot write export file ${path}: ${(err as Error).message}`, {
      file: path,
      cause: err,
    });
  }
  const sink = new ByteSink(stream);
  try {
    const rows = await body(sink);
    stream.end();
    await finished(stream);
    renameSync(tmp, path);
    return { rows, bytes: sink.bytes };
  } catch (err) {
    // Writes still queued fail once the stream is destroyed: the sink keeps that error (no 'error' event
    // goes unhandled), and the file is removed once the descriptor is closed.
    if (!stream.closed) {
      const closed = once(stream, 'close').catch(() => {});
      stream.destroy();
      await closed;
    }
    rmSync(tmp, { force: true });
    if (err instanceof StoreError) throw err;
    throw new StoreError('EIO', `writing export file ${path} failed: ${(err as Error).message}`, {
      file: path,
      cause: err,
    });
  }
}
