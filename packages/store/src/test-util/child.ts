// Spawning writer-child.mjs and checking what it acknowledged.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Reader } from '../reader.js';

export const WRITER_CHILD = fileURLToPath(new URL('./writer-child.mjs', import.meta.url));

export interface Child {
  proc: ChildProcess;
  /** iteration → sha256 of each acknowledged snapshot. */
  acks: Map<number, string>;
  stderr: () => string;
  ready: Promise<void>;
  /** Resolves at the first acknowledgement (or exit). */
  firstAck: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startWriter(db: string, run: string, count: number, mode: 'flush' | 'durable'): Child {
  const args = [WRITER_CHILD, db, run, String(count), mode];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const acks = new Map<number, string>();
  let err = '';
  let buffered = '';
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  let onAck: () => void = () => {};
  const firstAck = new Promise<void>((resolve) => {
    onAck = resolve;
  });
  proc.stdout!.setEncoding('utf8');
  proc.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      if (line === 'ready') onReady();
      const m = /^ack (\d+) ([0-9a-f]{64})$/.exec(line);
      if (m) {
        acks.set(Number(m[1]), m[2]!);
        onAck();
      }
    }
  });
  proc.stderr!.setEncoding('utf8');
  proc.stderr!.on('data', (c: string) => {
    err += c;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.on('close', (code, signal) => {
      onReady();
      onAck();
      resolve({ code, signal });
    });
  });
  return { proc, acks, stderr: () => err, ready, firstAck, exited };
}

/** Checks that every acknowledged snapshot of `run` is stored byte-exact; returns how many were checked. */
export function verifyAcks(reader: Reader, run: string, acks: Map<number, string>): number {
  if (acks.size === 0) return 0;
  const stored = new Map(reader.listSnapshots({ run }).map((s) => [s.iteration, s.id]));
  for (const [iteration, hash] of acks) {
    const id = stored.get(iteration);
    if (id === undefined) throw new Error(`run ${run}: acknowledged iteration ${iteration} is missing`);
    const t = reader.readTensor(id);
    const got = createHash('sha256')
      .update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))
      .digest('hex');
    if (got !== hash)
      throw new Error(`run ${run}: iteration ${iteration} differs from what was acknowledged`);
  }
  return acks.size;
}
