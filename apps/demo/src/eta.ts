// The demo's time left: measured from the first finished step on, so that the start (tfjs warming up, the
// models built, the first capture compiled) does not count as the pace of training.

/** A progress reading: steps done at a moment (ms). */
export interface Reading {
  at: number;
  done: number;
}

/**
 * Seconds left at `now` for `total` steps, from the pace between `first` (the first reading with a step done)
 * and `now`; null while there is no pace yet (one reading, or no step since it).
 */
export function etaSeconds(first: Reading | null, now: Reading, total: number): number | null {
  if (first === null || now.done <= first.done || now.at <= first.at) return null;
  const perStep = (now.at - first.at) / (now.done - first.done);
  return Math.max(0, Math.round((perStep * (total - now.done)) / 1000));
}

/** Keeps the first reading with a step done and answers the time left for later ones. */
export class Eta {
  private first: Reading | null = null;

  constructor(private readonly total: number) {}

  /** Seconds left, or null ("estimating") until the pace is measured. */
  update(now: Reading): number | null {
    if (this.first === null) {
      if (now.done > 0) this.first = now;
      return null;
    }
    return etaSeconds(this.first, now, this.total);
  }
}
