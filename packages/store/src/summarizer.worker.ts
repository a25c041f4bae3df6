// The summarizer thread (see summarizer.ts): jobs from the training thread, results to the writer thread.
import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { serveSummaries } from './summarizer.js';

const { out, control } = workerData as { out: MessagePort; control: Int32Array };
serveSummaries(parentPort!, out, control);
