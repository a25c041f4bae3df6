// A group's flow map: the geometric mean of its runs' norms, each run read at its iteration nearest the first's.
import { encodeMatrix, matrixValues } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import type { FlowResponse } from '../api';
import type { ComparedGroup, ComparedRun } from '../compareData';
import { groupFlow } from './compareBands';

function flow(iterations: number[], rows: number[][]): FlowResponse {
  const T = rows[0]!.length;
  return {
    count: iterations.length,
    ids: iterations.map((_, i) => i + 1),
    iterations,
    timesteps: T,
    norms: encodeMatrix(Float32Array.from(rows.flat()), [rows.length, T]),
    horizon: iterations.map(() => 0),
    t0Ratio: iterations.map(() => 1),
  };
}

const run = (f: FlowResponse | null) => ({ flow: f }) as unknown as ComparedRun;

describe('groupFlow', () => {
  it('geometric mean per iteration and timestep, runs aligned by nearest iteration, bad norms left out', () => {
    const a = flow(
      [0, 100],
      [
        [1, 100],
        [1e-4, 1],
      ],
    );
    // b recorded at 0 and 90: its 90 stands for 100; its NaN at (0, 1) leaves a alone there.
    const b = flow(
      [0, 90],
      [
        [100, Number.NaN],
        [1e-2, 4],
      ],
    );
    const g = { label: 'g', runs: [run(a), run(null), run(b)] } as unknown as ComparedGroup;
    const f = groupFlow(g)!;
    expect(f.iterations).toEqual([0, 100]);
    const m = matrixValues(f.norms);
    // sqrt(1 · 100) = 10; 100 alone; sqrt(1e-4 · 1e-2) = 1e-3; sqrt(1 · 4) = 2.
    expect(Array.from(m, (v) => Number(v.toPrecision(6)))).toEqual([10, 100, 0.001, 2]);
    expect(groupFlow({ label: 'none', runs: [run(null)] } as unknown as ComparedGroup)).toBeNull();
  });
});
