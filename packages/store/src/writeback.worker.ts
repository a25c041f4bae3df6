// The writeback thread (see writeback.ts): started by the db thread with the writer connection's descriptor.
// Its own small file, so that it starts in milliseconds (it loads node:fs and nothing of SQLite or Arrow).
import { workerData } from 'node:worker_threads';
import { runWriteback } from './writeback.js';

const { fd, control } = workerData as { fd: number; control: Int32Array };
runWriteback(fd, control);
