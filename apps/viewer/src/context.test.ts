import { describe, expect, it } from 'vitest';
import type { SnapshotInfo } from './api';
import { seriesName, viewContext } from './context';
import { defaultState } from './state';

function snap(iteration: number, channelParts: string[] | null): SnapshotInfo {
  return { iteration, channelParts } as unknown as SnapshotInfo;
}

describe('the one context every view takes', () => {
  it('names the series, carries the state, width, kind, iterations and snapshots, and collects the charts', () => {
    const state = { ...defaultState(), view: 'flow' as const };
    const snapshots = [snap(0, null), snap(20, null)];
    const series = {
      key: { layer: 'lstm_1', kind: 'jacobian' as const, part: null },
      snapshots,
      iterations: [20],
    };
    const ctx = viewContext(series, state, 800);
    expect(ctx.seriesName).toBe('lstm_1 · jacobian');
    expect(ctx.kind).toBe('jacobian');
    expect(ctx.state).toBe(state);
    expect(ctx.width).toBe(800);
    expect(ctx.iterations).toEqual([20]);
    expect(ctx.snapshots).toBe(snapshots);
    expect(ctx.charts).toEqual([]);
    expect('channelParts' in ctx).toBe(false);
    expect(seriesName({ key: { layer: 'gru', kind: 'weight', part: 'forward/kernel/z' } })).toBe(
      'gru · weight · forward/kernel/z',
    );
  });

  it('takes the channel parts of the first compared snapshot, else of any snapshot of the series', () => {
    const key = { layer: 'bi', kind: 'output-grad' as const, part: null };
    const both = ['forward', 'backward'];
    expect(
      viewContext({ key, snapshots: [snap(0, both)], iterations: [0] }, defaultState(), 1).channelParts,
    ).toEqual(both);
    // A weight's compared snapshot has none (its columns are gates): none, even if another snapshot had some.
    expect(
      viewContext({ key, snapshots: [snap(0, null), snap(5, both)], iterations: [0] }, defaultState(), 1)
        .channelParts,
    ).toBeUndefined();
    // Nothing compared yet: any snapshot's.
    expect(
      viewContext({ key, snapshots: [snap(0, null), snap(5, both)], iterations: [] }, defaultState(), 1)
        .channelParts,
    ).toEqual(both);
  });
});
