import type { LayerInfo, RunDetails } from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import { horizonKeys } from './trainingStrip';

function layer(name: string, kinds: LayerInfo['kinds']): LayerInfo {
  return {
    layer: name,
    layerClass: 'LSTM',
    kinds,
    parts: [null],
    firstIteration: 0,
    lastIteration: 20,
    iterationCount: 2,
    snapshots: 2 * Object.keys(kinds).length,
  };
}

const model = {
  layers: [
    {
      index: 0,
      name: 'lstm_1',
      className: 'LSTM',
      returnSequences: true,
      outputShape: [null, 20, 8],
      captured: true,
    },
    {
      index: 1,
      name: 'lstm_2',
      className: 'LSTM',
      returnSequences: false,
      outputShape: [null, 8],
      captured: true,
    },
  ],
} as unknown as RunDetails['model'];

describe('the training strip’s horizon lines', () => {
  it('are the gradient kinds with a timestep axis: activations (output) and weights are left out', () => {
    const keys = horizonKeys({
      run: { model } as RunDetails,
      layers: [
        layer('lstm_1', {
          output: [null],
          'output-grad': [null],
          'input-grad': [null],
          weight: ['kernel/i'],
          'weight-grad': ['kernel/i'],
        }),
        // returnSequences false: the output and its gradient have no timestep axis; the input-grad has one.
        layer('lstm_2', { output: [null], 'output-grad': [null], 'input-grad': [null] }),
      ],
    });
    expect(keys).toEqual([
      { layer: 'lstm_1', kind: 'output-grad', part: null },
      { layer: 'lstm_1', kind: 'input-grad', part: null },
      { layer: 'lstm_2', kind: 'input-grad', part: null },
    ]);
  });

  it('are none for a run that records only activations', () => {
    const keys = horizonKeys({ run: { model } as RunDetails, layers: [layer('lstm_1', { output: [null] })] });
    expect(keys).toEqual([]);
  });

  it('take a direction when the whole output is not recorded, and stop at 8 lines', () => {
    const many = Array.from({ length: 6 }, (_, i) =>
      layer(`x${i}`, { 'output-grad': ['forward', 'backward'], 'input-grad': [null], output: [null] }),
    );
    const keys = horizonKeys({
      run: { model: { ...model, layers: [] } } as unknown as RunDetails,
      layers: many,
    });
    expect(keys).toHaveLength(8);
    expect(keys[0]).toEqual({ layer: 'x0', kind: 'output-grad', part: 'forward' });
    expect(keys.every((k) => k.kind !== 'output')).toBe(true);
  });
});
