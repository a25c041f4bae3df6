// Early writeback: the disk writes a commit group's pages while the writer thread is still inserting.
//
// A rollback-journal commit ends with an fsync of the file, and the writer thread waits for it: on its
// own, a commit's CPU work and its disk work add up. The writer connection's page cache is smaller than a
// commit group (WRITER_CACHE_BYTES in sqlite.ts), so SQLite spills pages into the file while it builds the
// group, which is safe (the journal is synced first, as at a commit). While a commit is in progress, a
// writeback thread fdatasyncs the file every WRITEBACK_INTERVAL_MS, so that the disk writes those pages
// meanwhile, and the commit's own fsync finds little left to write (spilling alone, without the writeback
// thread, was no faster). What it gains is in docs/benchmarks.md (store-parts): the 8 MB snapshots' floor.
//
// The writeback thread uses the writer connection's own file descriptor, found in /proc/self/fd (Linux). It
// never opens or closes the file: closing any descriptor of a file drops every POSIX lock the process holds
// on it, SQLite's included (https://sqlite.org/howtocorrupt.html, section 2.2). Where there is no
// /proc/self/fd, the store runs without writeback.
//
// Errors: on Linux a write error is reported once per open file description, and this thread shares
// SQLite's, so an error it sees is one that SQLite's fsync would no longer see. It therefore records any
// failure, and the writer thread fails the commit in progress (see `settle`): nothing is acknowledged
// that the disk may not hold.
import { fdatasyncSync, fstatSync, readdirSync, statSync } from 'node:fs';

/** How often the writeback thread syncs the file while a commit is in progress. */
export const WRITEBACK_INTERVAL_MS = 2;

/** Slots of the shared control array. */
export const SLOT = { state: 0, syncing: 1, error: 2, stopped: 3, started: 4 } as const;
/** Values of the state slot. */
export const STATE = { idle: 0, busy: 1, stop: 2 } as const;

/** The descriptors of this process open on `file` (same device and inode), or null where /proc/self/fd is missing. */
export function descriptorsOf(file: string): Set<number> | null {
  let names: string[];
  let target: { dev: number; ino: number };
  try {
    names = readdirSync('/proc/self/fd');
    target = statSync(file);
  } catch {
    return null;
  }
  const fds = new Set<number>();
  for (const name of names) {
    const fd = Number(name);
    try {
      const s = fstatSync(fd);
      if (s.dev === target.dev && s.ino === target.ino) fds.add(fd);
    } catch {
      // closed meanwhile (the directory's own descriptor, or another thread's)
    }
  }
  return fds;
}

/**
 * Runs `open()` and returns its value with the descriptor it added on `file`: the one in the set after it that
 * was not in the set before it, or null when there is not exactly one (no /proc/self/fd, or SQLite reused a
 * descriptor it had kept).
 */
export function openedDescriptor<T>(file: string, open: () => T): { value: T; fd: number | null } {
  const before = descriptorsOf(file);
  const value = open();
  const after = descriptorsOf(file);
  if (!before || !after) return { value, fd: null };
  const added = [...after].filter((fd) => !before.has(fd));
  return { value, fd: added.length === 1 ? added[0]! : null };
}

/** The control array shared by the writer thread and the writeback thread. */
export function writebackControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(Object.keys(SLOT).length * Int32Array.BYTES_PER_ELEMENT));
}

/**
 * The writeback thread's loop: syncs `fd` every `intervalMs` while the state is BUSY, sleeps while IDLE,
 * returns at STOP. The first failure is recorded (ERROR = 1) and ends the loop; `sync` is fdatasync (a
 * parameter for the tests).
 */
export function runWriteback(
  fd: number,
  control: Int32Array,
  intervalMs = WRITEBACK_INTERVAL_MS,
  sync: (fd: number) => void = fdatasyncSync,
): void {
  Atomics.store(control, SLOT.started, 1);
  try {
    for (;;) {
      const state = Atomics.load(control, SLOT.state);
      if (state === STATE.stop) return;
      if (state === STATE.idle) {
        Atomics.wait(control, SLOT.state, STATE.idle);
        continue;
      }
      Atomics.store(control, SLOT.syncing, 1);
      try {
        // Only while a commit is in progress: the writer thread waits for this call to end before it
        // acknowledges the commit (settle).
        if (Atomics.load(control, SLOT.state) === STATE.busy) sync(fd);
      } catch {
        Atomics.store(control, SLOT.error, 1);
        return;
      } finally {
        Atomics.store(control, SLOT.syncing, 0);
        Atomics.notify(control, SLOT.syncing);
      }
      Atomics.wait(control, SLOT.state, STATE.busy, intervalMs);
    }
  } finally {
    Atomics.store(control, SLOT.stopped, 1);
    Atomics.notify(control, SLOT.stopped);
  }
}

/** The writer thread's side of the control array. */
export class Writeback {
  constructor(private readonly control: Int32Array) {}

  /** Waits (up to `ms`) until the writeback thread runs: its start-up then competes with no commit. */
  started(ms: number): boolean {
    const deadline = Date.now() + ms;
    while (Atomics.load(this.control, SLOT.started) === 0 && Date.now() < deadline) {
      Atomics.wait(this.control, SLOT.started, 0, 5);
    }
    return Atomics.load(this.control, SLOT.started) === 1;
  }

  /** A commit starts: sync meanwhile. */
  begin(): void {
    Atomics.store(this.control, SLOT.state, STATE.busy);
    Atomics.notify(this.control, SLOT.state);
  }

  /**
   * The commit ended: stops syncing, waits for a sync in progress to end, and tells whether the writeback
   * thread saw a write error (then the commit must not be acknowledged).
   */
  settle(): boolean {
    Atomics.store(this.control, SLOT.state, STATE.idle);
    while (Atomics.load(this.control, SLOT.syncing) === 1) Atomics.wait(this.control, SLOT.syncing, 1, 100);
    return Atomics.load(this.control, SLOT.error) === 1;
  }

  /**
   * Stops the writeback thread and waits (up to a second) until it no longer uses the descriptor. A thread
   * still starting up reads STOP first and never touches it: no wait.
   */
  stop(): void {
    Atomics.store(this.control, SLOT.state, STATE.stop);
    Atomics.notify(this.control, SLOT.state);
    if (Atomics.load(this.control, SLOT.started) === 0) return;
    const deadline = Date.now() + 1000;
    while (Atomics.load(this.control, SLOT.stopped) === 0 && Date.now() < deadline) {
      Atomics.wait(this.control, SLOT.stopped, 0, 10);
    }
  }
}
