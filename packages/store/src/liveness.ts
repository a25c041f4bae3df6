// Is the process that left a run 'running' still alive? Each writer records who it is ('host pid start') and
// beats a heartbeat into the runs it writes; a reader derives 'interrupted' from a dead process on this host,
// or from a heartbeat gone stale on any host.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/** How often a writer refreshes `runs.heartbeat_at` of the runs it holds open, ms. */
export const HEARTBEAT_MS = 5_000;
/** A heartbeat older than this means the writer is gone, whatever its host, ms. */
export const STALE_AFTER_MS = 30_000;

/** Linux: the start time (clock ticks since boot) of process `pid`, which tells a reused pid apart. */
function startTime(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    // Field 22; the command name (field 2) may hold spaces, so count from its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '-';
  } catch {
    return '-';
  }
}

/** 'host pid start' of this process. */
export function writerIdentity(): string {
  return `${hostname()} ${process.pid} ${startTime(process.pid)}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Whether the writer of a 'running' run is gone. `lastSign` is the newest of the heartbeat, the run's start
 * and its last snapshot (ms since the epoch); `writer` is null in files written before heartbeats existed.
 */
export function writerGone(
  writer: string | null,
  lastSign: number,
  now = Date.now(),
  staleAfterMs = STALE_AFTER_MS,
): boolean {
  if (writer !== null) {
    const [host, pidText, start] = writer.split(' ');
    const pid = Number(pidText);
    if (host === hostname() && Number.isInteger(pid) && pid > 0) {
      if (pid === process.pid) return false;
      if (!processAlive(pid)) return true;
      const started = startTime(pid);
      // Alive with the start time recorded: the very process; a different start time: the pid was reused.
      if (start !== undefined && start !== '-' && started !== '-') return start !== started;
    }
  }
  return now - lastSign > staleAfterMs;
}
