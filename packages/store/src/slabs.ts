// Shared memory for payloads in flight. The training thread encodes a snapshot's payload straight into a
// slab of shared memory, and the writer thread reads it there: no ArrayBuffer is allocated,
// transferred or collected per snapshot, and the memory stays mapped from one snapshot to the next (fresh
// buffers cost page faults on every first touch). Without slabs the training thread's time per snapshot
// rises on a trainer's large snapshots (docs/benchmarks.md, store-parts).
//
// A slab is filled front to back; each payload in it is released when its write is acknowledged (committed
// or failed: no thread reads it after that), and a slab whose payloads are all released is reused from the
// start. A payload larger than a quarter slab gets a shared buffer of its own (a slab of one), kept for a
// later payload of about its size once released, up to BIG_KEPT_BYTES of them. In shared memory, a large
// payload can be summarized by the summarizer thread while the writer thread holds it too (summarizer.ts).

/** Bytes of one slab. */
export const SLAB_BYTES = 16 * 2 ** 20;
/** Emptied slabs kept for reuse (beyond them an emptied slab is left to the garbage collector). */
export const SLABS_KEPT = 4;
/** Bytes of released buffers of large payloads kept for reuse. */
export const BIG_KEPT_BYTES = 64 * 2 ** 20;
/** Buffers of large payloads are sized in steps of this many bytes. */
const BIG_STEP = 64 * 2 ** 10;

export interface Slab {
  readonly memory: SharedArrayBuffer;
  /** Where the next payload goes. */
  at: number;
  /** Payloads in this slab not yet released. */
  live: number;
  /** A buffer of one large payload. */
  readonly big?: true;
}

export class Slabs {
  private current: Slab | undefined;
  private readonly free: Slab[] = [];
  private readonly bigFree: Slab[] = [];
  private bigKept = 0;

  constructor(
    private readonly slabBytes = SLAB_BYTES,
    private readonly kept = SLABS_KEPT,
    private readonly bigKeptBytes = BIG_KEPT_BYTES,
  ) {}

  /** `size` bytes of shared memory (16-byte aligned) and their slab: a buffer of its own above a quarter slab. */
  alloc(size: number): { bytes: Uint8Array; slab: Slab } {
    if (size > this.slabBytes / 4) return this.allocBig(size);
    let slab = this.current;
    if (!slab || slab.at + size > this.slabBytes) {
      if (slab && slab.live === 0) slab.at = 0;
      else {
        slab = this.free.pop() ?? { memory: new SharedArrayBuffer(this.slabBytes), at: 0, live: 0 };
        this.current = slab;
      }
    }
    const bytes = new Uint8Array(slab.memory, slab.at, size);
    slab.at = (slab.at + size + 15) & ~15;
    slab.live++;
    return { bytes, slab };
  }

  /** A kept buffer that fits `size` and is at most twice it (the smallest such), or a new one. */
  private allocBig(size: number): { bytes: Uint8Array; slab: Slab } {
    let best: Slab | undefined;
    for (const s of this.bigFree) {
      const cap = s.memory.byteLength;
      if (cap >= size && cap <= 2 * size && (!best || cap < best.memory.byteLength)) best = s;
    }
    let slab: Slab;
    if (best) {
      this.bigFree.splice(this.bigFree.indexOf(best), 1);
      this.bigKept -= best.memory.byteLength;
      slab = best;
    } else {
      slab = {
        memory: new SharedArrayBuffer(Math.ceil(size / BIG_STEP) * BIG_STEP),
        at: 0,
        live: 0,
        big: true,
      };
    }
    slab.live = 1;
    return { bytes: new Uint8Array(slab.memory, 0, size), slab };
  }

  /** The payload's readers are done with it. */
  release(slab: Slab): void {
    slab.live--;
    if (slab.big) {
      const cap = slab.memory.byteLength;
      if (this.bigKept + cap > this.bigKeptBytes) return;
      this.bigFree.push(slab);
      this.bigKept += cap;
      return;
    }
    if (slab.live > 0 || slab === this.current) return;
    slab.at = 0;
    if (this.free.length < this.kept) this.free.push(slab);
  }
}
