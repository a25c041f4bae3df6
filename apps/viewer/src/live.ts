// Live updates: one EventSource (the gallery listens to every run, a followed run to its own events), the
// caches dropped as snapshots arrive, and one re-render once a burst of them has settled.
import type { DataCache, SnapshotEvent } from './data';

/** Several snapshots arrive per iteration (one per layer, kind and part): render once they have settled. */
export const SETTLE_MS = 400;

export interface LiveTarget {
  /** The URL to listen to ('' for none). */
  url(): string;
  /** Whether this snapshot changes what is on screen. */
  shows(ev: SnapshotEvent): boolean;
  /** Re-render after a change. */
  refresh(): void;
}

export class LiveUpdates {
  private events: EventSource | null = null;
  private url = '';
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly data: DataCache,
    private readonly target: LiveTarget,
  ) {}

  /** Opens, keeps or closes the stream to match what the page shows now. */
  connect(): void {
    const url = this.target.url();
    if (url === this.url) return;
    this.events?.close();
    this.events = null;
    this.url = url;
    if (!url || typeof EventSource === 'undefined') return;
    const es = new EventSource(url);
    this.events = es;
    es.addEventListener('snapshot', (e) => this.onSnapshot(JSON.parse((e as MessageEvent).data)));
    es.addEventListener('run', () => {
      this.data.forgetRuns();
      this.schedule();
    });
  }

  private onSnapshot(ev: SnapshotEvent): void {
    this.data.forgetSnapshot(ev);
    if (this.target.shows(ev)) this.schedule();
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.target.refresh(), SETTLE_MS);
  }
}
