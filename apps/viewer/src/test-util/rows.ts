// Test helpers: runs-table rows built by hand, for the pure tests of the table and its outcome chart.
import type { LayerOutcome, RunOutcomeJson, Verdict } from '@gradscope/format';
import type { RunRow } from '../runRows';

/**
 * The row of a finished run `id` (its name and label too) diagnosed at iteration 200: one GRU layer's outcome
 * when `verdict` is given (its loss ÷ baseline `ratio` and `reach`, null when not given), none otherwise.
 */
export function outcomeRow(
  id: string,
  o: {
    verdict?: Verdict;
    ratio?: number | null;
    reach?: number;
    params?: Record<string, unknown>;
    group?: string;
  },
): RunRow {
  const verdicts: LayerOutcome[] =
    o.verdict === undefined
      ? []
      : [
          {
            layer: 'gru',
            layerClass: 'GRU',
            verdict: o.verdict,
            causes: [],
            iteration: 200,
            lossRatio: o.ratio ?? null,
            reachKind: 'jacobian',
            reach: o.reach ?? null,
            farRatio: null,
            timesteps: 20,
          },
        ];
  const run: RunOutcomeJson = {
    id,
    name: id,
    startedAt: 0,
    endedAt: 1,
    status: 'finished',
    backend: 'cpu',
    tfjsVersion: '4',
    host: 'h',
    snapshots: 1,
    lastIteration: 200,
    layers: ['gru'],
    meta: {},
    group: o.group ?? null,
    params: o.params ?? {},
    verdicts,
  };
  return { run, label: id, key: id };
}
