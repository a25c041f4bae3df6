// What openStore takes (StoreOptions, checked against STORE_OPTIONS' keys) and what Store.stats() answers.
import type { OptionKeys } from '@gradscope/format';
import type { StoreError } from './errors.js';

export interface StoreOptions {
  /** Bytes of snapshot data accepted but not yet committed before write() waits (default 256 MiB). */
  maxQueueBytes?: number;
  /** Snapshots accepted but not yet committed before write() waits (default 65,536). */
  maxQueueCount?: number;
  /**
   * false (default): write() resolves when the snapshot is accepted into the queue; use flush() to wait for
   * the commit. true: write() resolves only after the snapshot is committed (and rejects if that fails).
   */
  durable?: boolean;
  /**
   * SQLite synchronous level. Both fsync the file at each commit, so a commit survives the process being
   * killed at any moment and an OS crash or power loss; 'full' (default 'normal') also syncs the journal's
   * header, closing the small window in which a power loss mid-commit could damage the file on filesystems
   * that do not order writes.
   */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another process's lock before failing with EBUSY (default 10 000 ms). */
  busyTimeoutMs?: number;
  /** SQLite max_page_count for the writer connection: simulates a full disk in tests. */
  maxPageCount?: number;
  /** Where the one-time "queue full" warning goes (default: stderr). */
  onWarning?: (message: string) => void;
  /**
   * Called for every failed operation (a snapshot that could not be committed, a run that could not be
   * recorded, the writer dying). Without it, failures of accepted non-durable writes are printed to stderr
   * once per kind (StoreError code), and counted in stats().failed. Either way the failure also rejects the
   * next write(), flush() or close().
   */
  onError?: (error: StoreError) => void;
  /**
   * PostgreSQL only: how long a commit is retried while the database server cannot be reached (a restart,
   * a failover) before its operations fail with EUNAVAILABLE, ms (default 10 000).
   */
  unavailableMs?: number;
}

/** StoreOptions' keys: anything else given to openStore is an error. */
export const STORE_OPTIONS = {
  maxQueueBytes: true,
  maxQueueCount: true,
  durable: true,
  synchronous: true,
  busyTimeoutMs: true,
  maxPageCount: true,
  onWarning: true,
  onError: true,
  unavailableMs: true,
} as const satisfies OptionKeys<StoreOptions>;

export interface StoreStats {
  /** Snapshots accepted into the queue. */
  accepted: number;
  /** Snapshots committed. */
  committed: number;
  /**
   * Snapshots accepted (their write() resolved) that then failed to commit, or were lost when the writer
   * thread died: what a caller counting drops must add to the writes that rejected (Sink.stats). A
   * `durable: true` write settles at commit, so its failure rejects that write() and is not counted here.
   */
  failed: number;
  /** Snapshot bytes accepted and not yet committed or failed. */
  queuedBytes: number;
  /** Snapshots accepted and not yet committed or failed. */
  queuedCount: number;
  /** write() calls waiting for room in the queue. */
  waiting: number;
}
