// The summaries of large snapshots, on a thread of their own, while the writer thread commits:
//
//   training thread ──► writer thread (commits) ──► acknowledgements
//         └──► summarizer thread (summaries of snapshots of ≥ SUMMARIZER_MIN_VALUES values) ──┘
//
// A large snapshot's summary pass is a good part of the writer thread's time on it (its insert and commit
// take the rest), and nothing else the writer does can overlap it.
// So the training thread hands a large payload to both: the summarizer starts on it at once, reading it where
// it is (shared memory, see slabs.ts), and the writer takes the result when it gets to that snapshot, having
// committed the ones before it meanwhile. Small snapshots stay on the writer thread: for them a second
// message would cost more than it overlaps (see writer.worker.ts).
//
// The summarizer only saves time. The writer never waits for it past a sign that it is gone: the training
// thread sets `gone` when the thread exits, and when no result has come for PATIENCE_MS the writer gives up
// on it. Either way the writer summarizes the payload itself (it still holds it: a payload is released at its
// acknowledgement), so a summarizer that crashes or hangs loses nothing. A late result is dropped.
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { type SerializedError, serializeError } from './errors.js';
import type { EncodedSnapshot, InMessage, Posted } from './operations.js';
import { payloadValues } from './payload.js';
import { summarize } from './summary.js';
import { decodeTensor, product } from './tensor.js';
import type { TensorSummary } from './types.js';

/** Snapshots of at least this many values (1 MiB of float32) are summarized by the summarizer thread. */
export const SUMMARIZER_MIN_VALUES = 1 << 18;
/** Without any result for this long, the writer stops waiting for the summarizer and summarizes itself. */
export const PATIENCE_MS = 5_000;
/** Slots of the shared control array: results posted so far, and 1 once the summarizer thread has exited. */
export const SLOT = { results: 0, gone: 1 } as const;

/** Training thread → summarizer thread: the write operation of a large snapshot, as the writer gets it too. */
export type SummaryJob = Posted<{ type: 'write'; snapshot: EncodedSnapshot }>;

/** Summarizer thread → writer thread. */
export type SummaryResult =
  | { seq: number; summaries: TensorSummary[] }
  | { seq: number; error: SerializedError };

/** The control array the training thread makes and both threads share. */
export function summarizerControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT));
}

/** The summaries of a snapshot, read from its payload in place (on the summarizer or the writer thread). */
export function summarizePayload(s: EncodedSnapshot): TensorSummary[] {
  const data = payloadValues(s.ipc, s.dataOffset, product(s.shape)) ?? decodeTensor(s.ipc, s.label).data;
  return summarize(data, s.shape, s.dims, s.meta.channelParts);
}

function summarizeJob(job: SummaryJob): SummaryResult {
  try {
    return { seq: job.seq, summaries: summarizePayload(job.op.snapshot) };
  } catch (err) {
    return { seq: job.seq, error: serializeError(err) };
  }
}

/** The summarizer thread's side: answers each job on `out`, then counts it in the control array. */
export function serveSummaries(jobs: MessagePort, out: MessagePort, control: Int32Array): void {
  jobs.on('message', (job: SummaryJob) => {
    out.postMessage(summarizeJob(job));
    Atomics.add(control, SLOT.results, 1);
    Atomics.notify(control, SLOT.results);
  });
}

/** The writer thread's side: takes the summarizer's results in the order it needs them. */
export class Summaries {
  private readonly results = new Map<number, SummaryResult>();
  private gone = false;

  constructor(
    private readonly port: MessagePort,
    private readonly control: Int32Array,
    private readonly patienceMs = PATIENCE_MS,
  ) {}

  /**
   * The result for `seq`, waiting for it while the summarizer is alive and answering; undefined when it is
   * gone or silent for patienceMs (the caller then summarizes the payload itself).
   */
  take(seq: number): SummaryResult | undefined {
    let seen = -1;
    let since = performance.now();
    while (!this.gone) {
      // Count first, then look: a result posted after the look changes the count, and the wait returns.
      const count = Atomics.load(this.control, SLOT.results);
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        const r = m.message as SummaryResult;
        if (r.seq >= seq) this.results.set(r.seq, r); // earlier ones were summarized here meanwhile
      }
      const r = this.results.get(seq);
      if (r) {
        this.results.delete(seq);
        return r;
      }
      if (Atomics.load(this.control, SLOT.gone) === 1) break;
      if (count !== seen) {
        seen = count;
        since = performance.now();
      }
      const left = this.patienceMs - (performance.now() - since);
      if (left <= 0) break;
      Atomics.wait(this.control, SLOT.results, count, left);
    }
    this.gone = true;
    this.results.clear();
    return undefined;
  }
}

/**
 * Starts the summarizer thread and introduces it to the writer thread (which takes its results from a port of
 * its own); undefined when it cannot start (the writer then summarizes everything). `exited` is called when
 * the thread is gone, after the writer thread has been told to stop waiting for it (SLOT.gone).
 */
export function startSummarizer(
  url: URL,
  writer: Worker,
  exited: () => void,
): { worker: Worker; control: Int32Array } | undefined {
  const control = summarizerControl();
  const { port1, port2 } = new MessageChannel();
  let worker: Worker;
  try {
    worker = new Worker(url, { workerData: { out: port1, control }, transferList: [port1] });
  } catch {
    return undefined;
  }
  worker.unref();
  // It only saves time: a failure or an exit only means the writer thread summarizes by itself.
  worker.on('error', () => {});
  worker.on('exit', () => {
    Atomics.store(control, SLOT.gone, 1);
    Atomics.notify(control, SLOT.results);
    exited();
  });
  writer.postMessage({ summarizer: { port: port2, control } } satisfies InMessage, [port2]);
  return { worker, control };
}
