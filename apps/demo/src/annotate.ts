// The gallery's words from the data: after a run has finished, every claim of its gallery entries is measured
// in the store (probe losses, stored memory horizons and summaries, tensors) and written into the run's
// metadata, so no text can contradict its figure. Runs during training carry the bare explanation only.
import type { RunDetails } from '@gradscope/format';
import { openReader, openStore, type Reader, type Store } from '@gradscope/store';
import type { Claim, DemoRun, GalleryEntry } from './examples.js';

/** What was measured for one run: printed by the demo, kept in `meta.findings`. */
export interface RunFindings {
  run: string;
  task: DemoRun['task'];
  lastIteration: number | null;
  /** Probe loss at every captured iteration, ascending. */
  probeLoss: { iteration: number; value: number }[];
  /** Adding problem: the mean predictor's MSE on the probe targets. */
  meanPredictorMse?: number;
  /** Adding problem: the input gradient at the last captured iteration. */
  inputGrad?: {
    iteration: number;
    timesteps: number;
    /** Stored memory horizon (earliest timestep with norm ≥ 1% of the peak). */
    horizon: number | null;
    /** max norm over the first-half timesteps / max norm over all timesteps. */
    firstHalfPeak: number;
    /** mean norm over the first-half timesteps / max norm over all timesteps. */
    firstHalfMean: number;
  };
}

/** A number in 2 significant digits, without exponent for the usual range. */
export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e-4 && a < 1e5) return String(Number(v.toPrecision(2)));
  return v.toExponential(1);
}

const pct = (v: number) => `${v >= 0.1 ? Math.round(v * 100) : Number((v * 100).toPrecision(1))}%`;

/** Timesteps of a snapshot (its 'timestep' axis), or undefined. */
function timestepsOf(shape: number[], dims: string[]): number | undefined {
  const i = dims.indexOf('timestep');
  return i < 0 ? undefined : shape[i];
}

function label(run: string): string {
  return run
    .replace(/^memory-/, '')
    .replace('simplernn', 'SimpleRNN')
    .replace(/^(lstm|gru)$/, (m) => m.toUpperCase());
}

/** max norm over the first-half timesteps / max norm over all timesteps (0 when all are 0). */
export function firstHalfPeak(norms: ArrayLike<number>): number {
  const all = Array.from(norms);
  const max = Math.max(...all);
  return max > 0 ? Math.max(...all.slice(0, Math.floor(all.length / 2))) / max : 0;
}

export class Annotator {
  private readonly reader: Reader;
  private readonly store: Store;
  private readonly findings = new Map<string, RunFindings>();
  private readonly done = new Set<string>();
  private readonly written = new Set<string>();

  constructor(
    db: string,
    private readonly runs: DemoRun[],
  ) {
    this.reader = openReader(db);
    this.store = openStore(db);
  }

  /** Findings of every annotated run, in the demo's order. */
  all(): RunFindings[] {
    return this.runs.flatMap((r) => this.findings.get(r.name) ?? []);
  }

  /**
   * A run has finished: measures every finished run whose entries can now be written (its own run and
   * every run it compares with are done), each once (updateRunMeta leaves the run's status and end time as
   * they were).
   */
  async runDone(name: string): Promise<void> {
    this.done.add(name);
    for (const r of this.runs) {
      if (!this.done.has(r.name) || this.written.has(r.name)) continue;
      const needs = r.gallery.flatMap((g) => g.claims.flatMap((c) => (c.type === 'memory' ? c.runs : [])));
      if (needs.every((n) => this.done.has(n) || !this.runs.some((x) => x.name === n)))
        await this.write(r.name);
    }
  }

  /** Writes the runs still waiting for others (stopped demos), then closes the connections. */
  async close(): Promise<void> {
    try {
      for (const r of this.runs)
        if (this.done.has(r.name) && !this.written.has(r.name)) await this.write(r.name);
    } finally {
      this.reader.close();
      await this.store.close();
    }
  }

  private async write(name: string): Promise<void> {
    this.written.add(name);
    // Every finished run is measured first, so comparisons see the others' findings.
    for (const n of this.done) if (!this.findings.has(n)) this.measureRun(n);
    await this.annotate(name);
  }

  private measureRun(name: string): void {
    const run = this.runs.find((r) => r.name === name);
    const details = this.reader.getRun(name);
    if (run && details) this.findings.set(name, this.measure(run, details));
  }

  private async annotate(name: string): Promise<void> {
    const run = this.runs.find((r) => r.name === name);
    const details = this.reader.getRun(name);
    if (!run || !details || (details.status !== 'finished' && details.status !== 'failed')) return;
    const findings = this.measure(run, details);
    this.findings.set(name, findings);
    const stored = (details.meta.gallery ?? []) as GalleryEntry[];
    const gallery = stored.map((entry) => {
      const explain = (entry as GalleryEntry & { explain?: string }).explain ?? entry.lookFor;
      const measured = entry.claims.map((c) => this.claim(entry, c, details, findings)).filter(Boolean);
      return { ...entry, explain, findings: measured, lookFor: [explain, ...measured].join(' ') };
    });
    // Only the run's metadata changes: its status, end time and model stay as recorded.
    await this.store.updateRunMeta(details.id, { gallery, findings });
  }

  private measure(run: DemoRun, details: RunDetails): RunFindings {
    const layer = details.layers[0];
    const byIteration = new Map<number, number>();
    if (layer !== undefined) {
      for (const s of this.reader.listSnapshots({ run: details.id, layer }))
        if (!byIteration.has(s.iteration)) byIteration.set(s.iteration, s.loss);
    }
    const findings: RunFindings = {
      run: run.name,
      task: run.task,
      lastIteration: details.lastIteration,
      probeLoss: [...byIteration].map(([iteration, value]) => ({ iteration, value })),
    };
    if (run.task !== 'adding') return findings;
    const mse = (details.meta.task as { meanPredictorMse?: number } | undefined)?.meanPredictorMse;
    if (typeof mse === 'number') findings.meanPredictorMse = mse;
    const last =
      layer && this.reader.listSnapshots({ run: details.id, layer, kind: 'input-grad', part: null }).at(-1);
    const norms = last ? this.reader.getSummary(last.id)?.timestepNorms : undefined;
    if (last && norms && norms.length > 1) {
      const half = Math.floor(norms.length / 2);
      const max = Math.max(...norms);
      const first = Array.from(norms.subarray(0, half));
      findings.inputGrad = {
        iteration: last.iteration,
        timesteps: norms.length,
        horizon: last.summary.horizon,
        firstHalfPeak: firstHalfPeak(norms),
        firstHalfMean: max > 0 ? first.reduce((a, b) => a + b, 0) / half / max : 0,
      };
    }
    return findings;
  }

  /** One entry's snapshot of its own layer and kind (whole layer) at an iteration. */
  private snapshot(entry: GalleryEntry, details: RunDetails, iteration: number) {
    return this.reader
      .listSnapshots({
        run: details.id,
        layer: String(entry.view.layer),
        kind: entry.view.kind,
        part: entry.view.part ?? null,
        iterations: [iteration],
      })
      .at(0);
  }

  private lossSentence(f: RunFindings): string {
    const losses = f.probeLoss;
    if (losses.length === 0) return 'No snapshot was recorded.';
    const first = losses[0]!;
    const last = losses.at(-1)!;
    if (f.task === 'adding' && f.meanPredictorMse !== undefined) {
      const ratio = last.value / f.meanPredictorMse;
      const verdict =
        ratio < 0.1
          ? 'it has learned to carry the first marked value to the end'
          : ratio < 0.5
            ? 'it has learned part of the task'
            : 'no better than predicting the mean';
      const verb = last.value < 0.9 * first.value ? 'fell from' : 'went from';
      return `Probe MSE ${verb} ${fmt(first.value)} at iteration ${first.iteration} to ${fmt(last.value)} at iteration ${last.iteration}: ${pct(ratio)} of the mean predictor's ${fmt(f.meanPredictorMse)}, ${verdict}.`;
    }
    const shown = losses.filter((l) => [20, 200, 400].includes(l.iteration) || l === last);
    return `Probe loss ${shown.map((l, i) => `${fmt(l.value)} at ${i === 0 ? 'iteration ' : ''}${l.iteration}`).join(', ')}.`;
  }

  private claim(entry: GalleryEntry, c: Claim, details: RunDetails, f: RunFindings): string {
    switch (c.type) {
      case 'loss':
        return this.lossSentence(f);
      case 'horizon': {
        const rows = c.iterations.flatMap((it) => this.snapshot(entry, details, it) ?? []);
        const T = rows[0] && timestepsOf(rows[0].shape, rows[0].dims);
        if (!rows.length || T === undefined) return '';
        const parts = rows.map(
          (s, i) => `${s.summary.horizon ?? '—'} at ${i === 0 ? 'iteration ' : ''}${s.iteration}`,
        );
        const last = rows.at(-1)!;
        const t0 =
          last.summary.t0Ratio === null
            ? ''
            : `; at iteration ${last.iteration} the norm at timestep 0 is ${pct(last.summary.t0Ratio)} of the peak`;
        return `Memory horizon (the earliest of timesteps 0–${T - 1} whose ${entry.view.kind} norm is ≥ 1% of the peak): timestep ${parts.join(', ')}${t0}.`;
      }
      case 'firstHalf': {
        const said = c.iterations.flatMap((it) => {
          const s = this.snapshot(entry, details, it);
          const norms = s && this.reader.getSummary(s.id)?.timestepNorms;
          if (!s || !norms || norms.length < 2) return [];
          return [`${pct(firstHalfPeak(norms))} at ${it}`];
        });
        if (said.length === 0) return '';
        said[0] = `${said[0]!.replace(' at ', ' at iteration ')}`;
        return `Largest ${entry.view.kind} norm over the first half, relative to the largest over all timesteps: ${said.join(', ')}.`;
      }
      case 'recent': {
        const s = this.snapshot(entry, details, c.iteration);
        const norms = s && this.reader.getSummary(s.id)?.timestepNorms;
        if (!s || !norms) return '';
        const T = norms.length;
        const peak = norms.indexOf(Math.max(...norms));
        const k = Math.max(1, Math.ceil(0.2 * T));
        const sq = Array.from(norms, (v) => v * v);
        const total = sq.reduce((a, b) => a + b, 0);
        const recent = sq.slice(T - k).reduce((a, b) => a + b, 0);
        return `At iteration ${s.iteration} the gradient norm over all ${s.shape[0]} probe samples peaks at timestep ${peak} of 0–${T - 1}; the last ${k} timesteps carry ${pct(total > 0 ? recent / total : 0)} of its square.`;
      }
      case 'channels': {
        const s = this.snapshot(entry, details, c.iteration);
        const norms = s && this.reader.getSummary(s.id)?.channelNorms;
        if (!s || !norms || norms.length === 0) return '';
        const sq = Array.from(norms, (v) => v * v);
        const total = sq.reduce((a, b) => a + b, 0);
        return `At iteration ${s.iteration} the per-channel gradient norms (all probe samples) range from ${fmt(Math.min(...norms))} to ${fmt(Math.max(...norms))}; the largest channel carries ${pct(total > 0 ? Math.max(...sq) / total : 0)} of the squared norm (an even spread: ${pct(1 / norms.length)}).`;
      }
      case 'parts': {
        const s = this.snapshot(entry, details, c.iteration);
        const parts = s && this.reader.getSummary(s.id)?.parts;
        if (!s || !parts) return '';
        const names = Object.keys(parts);
        const total = names.reduce((a, n) => a + parts[n]!.l2 ** 2, 0);
        const said = names.map((n) => {
          const norms = parts[n]!.timestepNorms;
          const peak = norms ? ` (peak at timestep ${norms.indexOf(Math.max(...norms))})` : '';
          return `the ${n} direction carries ${pct(total > 0 ? parts[n]!.l2 ** 2 / total : 0)}${peak}`;
        });
        return `At iteration ${s.iteration} ${said.join(', ')} of the squared gradient norm.`;
      }
      case 'range': {
        const s = this.snapshot(entry, details, c.iteration);
        if (!s) return '';
        return `At iteration ${s.iteration} the ${s.shape.join('×')} gradients range from ${fmt(s.summary.min)} to ${fmt(s.summary.max)} (mean ${fmt(s.summary.mean)}, std ${fmt(s.summary.std)}).`;
      }
      case 'saturation': {
        const shares = c.iterations.flatMap((it) => {
          const s = this.snapshot(entry, details, it);
          if (!s) return [];
          const { data } = this.reader.readTensor(s.id);
          let n = 0;
          for (let i = 0; i < data.length; i++) if (Math.abs(data[i]!) > 0.9) n++;
          return [`${pct(n / data.length)} at ${it}`];
        });
        return shares.length ? `Activations with |h| > 0.9: ${shares.join(', ')}.` : '';
      }
      case 'nonFinite': {
        const all = this.reader.listSnapshots({ run: details.id });
        const bad = all.filter((s) => s.nonFinite > 0).length;
        return bad === 0
          ? `None of the run's ${all.length} snapshots holds NaN or Inf.`
          : `${bad} of the run's ${all.length} snapshots hold NaN or Inf.`;
      }
      case 'memory': {
        const said = c.runs.map((name) => {
          const other = this.findings.get(name);
          if (!other) return `${label(name)}: not finished.`;
          const loss = other.probeLoss;
          const first = loss[0];
          const last = loss.at(-1);
          const mse = other.meanPredictorMse;
          const lossText =
            first && last && mse !== undefined
              ? `probe MSE ${fmt(first.value)} → ${fmt(last.value)} (${pct(last.value / mse)} of the mean predictor's ${fmt(mse)})`
              : 'no probe loss';
          const g = other.inputGrad;
          const gradText = g
            ? `at iteration ${g.iteration} its ${c.kind} over the first half (timesteps 0–${Math.floor(g.timesteps / 2) - 1}) reaches ${pct(g.firstHalfPeak)} of its peak, horizon timestep ${g.horizon ?? '—'}`
            : `no ${c.kind} recorded`;
          return `${label(name)}: ${lossText}; ${gradText}.`;
        });
        return said.join(' ');
      }
    }
  }
}
