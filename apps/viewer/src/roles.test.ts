import { describe, expect, it } from 'vitest';
import { hasTimeAxis, layerRoles, matchLayers, rolesOf } from './roles';

const model = (...layers: [string, string][]) =>
  layers.map(([name, className], index) => ({ index, name, className }));

const lstm = {
  model: model(['lstm_1', 'LSTM'], ['lstm_2', 'LSTM'], ['dense_1', 'Dense']),
  recorded: ['lstm_1', 'lstm_2', 'dense_1'],
};
const gru = {
  model: model(['gru_3', 'GRU'], ['gru_4', 'GRU'], ['dense_2', 'Dense']),
  recorded: ['gru_3', 'gru_4', 'dense_2'],
};
const rnn = {
  model: model(['simple_rnn', 'SimpleRNN'], ['dense', 'Dense']),
  recorded: ['simple_rnn', 'dense'],
};

describe('layer roles', () => {
  it('counts recurrent layers together whatever their cell, others per class, in model order', () => {
    const roles = layerRoles(
      model(
        ['emb', 'Embedding'],
        ['bidirectional', 'Bidirectional'],
        ['gru', 'GRU'],
        ['d1', 'Dense'],
        ['d2', 'Dense'],
      ),
      ['bidirectional', 'gru', 'd1', 'd2'],
    );
    expect([...roles.entries()]).toEqual([
      ['bidirectional', { role: 'recurrent:0', label: 'recurrent layer 1' }],
      ['gru', { role: 'recurrent:1', label: 'recurrent layer 2' }],
      ['d1', { role: 'Dense:0', label: 'Dense layer 1' }],
      ['d2', { role: 'Dense:1', label: 'Dense layer 2' }],
    ]);
  });

  it('matches the first recurrent layer by default when names differ', () => {
    expect(matchLayers([lstm, gru, rnn], null)).toEqual({
      role: 'recurrent:0',
      label: 'recurrent layer 1',
      names: ['lstm_1', 'gru_3', 'simple_rnn'],
      unknown: false,
    });
  });

  it('a name of any run picks its role in every run; a run without that role gets null', () => {
    expect(matchLayers([lstm, gru, rnn], 'gru_4').names).toEqual(['lstm_2', 'gru_4', null]);
    expect(matchLayers([lstm, gru, rnn], 'dense').names).toEqual(['dense_1', 'dense_2', 'dense']);
    expect(matchLayers([lstm, gru, rnn], 'recurrent:1')).toMatchObject({
      names: ['lstm_2', 'gru_4', null],
      label: 'recurrent layer 2',
    });
  });

  it('the same name in every run stays that name', () => {
    const a = { model: model(['lstm', 'LSTM']), recorded: ['lstm'] };
    expect(matchLayers([a, a], 'lstm').names).toEqual(['lstm', 'lstm']);
  });

  it('an unknown layer falls back to the first recurrent one and says so', () => {
    expect(matchLayers([lstm, gru], 'nope')).toMatchObject({ unknown: true, names: ['lstm_1', 'gru_3'] });
  });

  it('only recorded layers have roles; roles list recurrent ones first', () => {
    const partial = { model: lstm.model, recorded: ['lstm_2'] };
    expect(matchLayers([partial, gru], null).names).toEqual(['lstm_2', 'gru_3']);
    expect(rolesOf([lstm, rnn]).map((r) => r.role)).toEqual(['recurrent:0', 'recurrent:1', 'Dense:0']);
  });
});

describe('hasTimeAxis', () => {
  const layers = [
    { index: 0, name: 'lstm_1', className: 'LSTM', returnSequences: true, outputShape: [null, 20, 4] },
    { index: 1, name: 'lstm_2', className: 'LSTM', returnSequences: false, outputShape: [null, 4] },
    { index: 2, name: 'dense', className: 'Dense', outputShape: [null, 1] },
    { index: 3, name: 'td', className: 'TimeDistributed', outputShape: [[null, 20, 1]] },
  ];
  it('outputs of a sequence layer have one, of a last-step layer none; a recurrent input always has one', () => {
    expect(hasTimeAxis(layers, 'lstm_1', 'output-grad')).toBe(true);
    expect(hasTimeAxis(layers, 'lstm_2', 'output-grad')).toBe(false);
    expect(hasTimeAxis(layers, 'lstm_2', 'input-grad')).toBe(true);
    // The loss-free jacobian of a last-step layer is over its input timesteps (dims sample, timestep, channel).
    expect(hasTimeAxis(layers, 'lstm_2', 'jacobian')).toBe(true);
    expect(hasTimeAxis(layers, 'dense', 'input-grad')).toBe(false); // after a last-step LSTM
    expect(hasTimeAxis(layers, 'dense', 'output')).toBe(false);
    expect(hasTimeAxis(layers, 'td', 'output')).toBe(true); // one shape per output
    expect(hasTimeAxis(layers, 'unknown', 'output')).toBe(true);
  });
});
