import { describe, expect, it } from 'vitest';
import type { SnapshotInfo } from './api';
import { type PageContext, seriesName, viewContext } from './context';
import type { DataCache } from './data';
import type { Series } from './resolve';
import { defaultState } from './state';

function snap(iteration: number, channelParts: string[] | null): SnapshotInfo {
  return { iteration, channelParts } as unknown as SnapshotInfo;
}
function series(kind: Series['key']['kind'], snapshots: SnapshotInfo[], iterations: number[]): Series {
  return { key: { layer: 'lstm_1', kind, part: null }, snapshots, iterations } as unknown as Series;
}
const page = (): PageContext => ({
  state: { ...defaultState(), view: 'flow' },
  width: 800,
  lossPoints: 1600,
  data: {} as DataCache,
  upTo: 40,
  current: () => true,
  set: () => {},
});

describe('the one context every view takes', () => {
  it('carries the render (state, width, data, bound, current, set), the series and its name, and collects charts', () => {
    const p = page();
    const s = series('jacobian', [snap(0, null), snap(20, null)], [20]);
    const ctx = viewContext(s, p);
    expect(ctx.series).toBe(s);
    expect(ctx.seriesName).toBe('lstm_1 · jacobian');
    expect([ctx.state, ctx.width, ctx.data, ctx.upTo, ctx.current, ctx.set]).toEqual([
      p.state,
      800,
      p.data,
      40,
      p.current,
      p.set,
    ]);
    expect(ctx.lossPoints).toBe(1600);
    expect(ctx.charts).toEqual([]);
    expect('channelParts' in ctx).toBe(false);
    expect(seriesName({ key: { layer: 'gru', kind: 'weight', part: 'forward/kernel/z' } })).toBe(
      'gru · weight · forward/kernel/z',
    );
  });

  it('takes the channel parts of the first compared snapshot, else of any snapshot of the series', () => {
    const both = ['forward', 'backward'];
    expect(viewContext(series('output-grad', [snap(0, both)], [0]), page()).channelParts).toEqual(both);
    // A weight's compared snapshot has none (its columns are gates): none, even if another snapshot had some.
    expect(
      viewContext(series('output-grad', [snap(0, null), snap(5, both)], [0]), page()).channelParts,
    ).toBeUndefined();
    // Nothing compared yet: any snapshot's.
    expect(
      viewContext(series('output-grad', [snap(0, null), snap(5, both)], []), page()).channelParts,
    ).toEqual(both);
  });
});
