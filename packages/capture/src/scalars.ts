// Training scalars (the fit logs of every step, the probe loss of every snapshot): kept on the device as
// they arrive, read back in batches (one stack and one await data() per batch, never a dataSync) and sent
// to the sink without training ever waiting for either.
import * as tf from '@tensorflow/tfjs';
import type { ScalarPoint } from './types.js';

/** Keys of the `fit` logs that are bookkeeping, not measurements. */
const NOT_SCALARS = new Set(['batch', 'size']);

interface Entry {
  iteration: number;
  name: string;
  time: number;
  /** A number already read, or a scalar tensor this recorder owns (a clone of the log's). */
  value: number | tf.Tensor;
}

/**
 * Collects scalar points and hands them over in batches. `add` and `addLogs` never wait; `flush` starts
 * reading a batch back and resolves with its points (one promise per batch, tracked by the caller).
 */
export class ScalarRecorder {
  private entries: Entry[] = [];

  /** Points collected and not yet flushed. */
  get size(): number {
    return this.entries.length;
  }

  add(iteration: number, name: string, value: unknown, time: number): void {
    if (typeof value === 'number') {
      this.entries.push({ iteration, name, time, value });
    } else if (value instanceof tf.Tensor && !value.isDisposed && value.size === 1) {
      // fit disposes its log tensors as soon as onBatchEnd returns: a clone shares the data, not the fate.
      this.entries.push({ iteration, name, time, value: tf.keep(value.clone()) });
    }
  }

  /** Every measurement in `logs` (in a tf.Callback subclass: scalar tensors), optionally only some keys. */
  addLogs(
    iteration: number,
    logs: tf.Logs | undefined,
    time: number,
    keep?: (name: string) => boolean,
  ): void {
    if (logs === undefined) return;
    for (const [name, value] of Object.entries(logs)) {
      if (NOT_SCALARS.has(name) || (keep !== undefined && !keep(name))) continue;
      this.add(iteration, name, value, time);
    }
  }

  /** Takes the collected points: their tensors are stacked into one and read back asynchronously. */
  flush(): Promise<ScalarPoint[]> {
    const entries = this.entries;
    this.entries = [];
    if (entries.length === 0) return Promise.resolve([]);
    const tensors = entries.flatMap((e) => (typeof e.value === 'number' ? [] : [e.value]));
    if (tensors.length === 0) return Promise.resolve(entries.map((e) => point(e, e.value as number)));
    let stacked: tf.Tensor;
    try {
      stacked = tf.tidy(() =>
        tf.stack(tensors.map((t) => (t.dtype === 'float32' ? t : tf.cast(t, 'float32')))),
      );
    } finally {
      tf.dispose(tensors);
    }
    return stacked.data().then(
      (values) => {
        stacked.dispose();
        let k = 0;
        return entries.map((e) => point(e, typeof e.value === 'number' ? e.value : values[k++]!));
      },
      (err: unknown) => {
        stacked.dispose();
        throw err;
      },
    );
  }

  /** Drops whatever was collected (the fit failed). */
  discard(): void {
    tf.dispose(this.entries.flatMap((e) => (typeof e.value === 'number' ? [] : [e.value])));
    this.entries = [];
  }
}

function point(e: Entry, value: number): ScalarPoint {
  return { iteration: e.iteration, name: e.name, value, time: e.time };
}
