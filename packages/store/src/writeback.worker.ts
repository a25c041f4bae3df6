// The writeback thread (see writeback.ts): started by the db thread with the writer connection's descriptor.
// Its own small file, so that it starts in milliseconds (it loads node:fs and nothing of SQLite or Arrow).
import { fdatasyncSync } from 'node:fs';
import { workerData } from 'node:worker_threads';
import { runWriteback, WRITEBACK_INTERVAL_MS } from './writeback.js';

const { fd, control } = workerData as { fd: number; control: Int32Array };
// Fault injection for the tests (writeback.test.ts): after this many syncs, each one fails as a disk error would.
const failAfter = Number(process.env.GRADSCOPE_TEST_WRITEBACK_EIO_AFTER ?? Number.NaN);
let syncs = 0;
const sync = Number.isInteger(failAfter)
  ? (n: number) => {
      if (++syncs > failAfter) throw Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' });
      fdatasyncSync(n);
    }
  : fdatasyncSync;
runWriteback(fd, control, WRITEBACK_INTERVAL_MS, sync);
