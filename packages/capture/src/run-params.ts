// What the callback reads of a run's parameters without being asked (RunInfo.params, the AUTO_PARAMS of
// @gradscope/format): from the model summary, the compiled optimizer and the fit's `params`.
import type { AutoParam } from '@gradscope/format';
import { coreModel, type Model } from './layers.js';
import type { ModelSummary } from './types.js';

/** The `params` tfjs hands callbacks at the start of `fit` (epochs, batchSize, …); absent keys are unknown. */
export type FitParams = Record<string, unknown> | undefined;

function learningRate(model: Model): number | undefined {
  const optimizer = (coreModel(model) as unknown as { optimizer?: { getConfig?(): Record<string, unknown> } })
    .optimizer;
  try {
    const lr = optimizer?.getConfig?.().learningRate;
    return typeof lr === 'number' && Number.isFinite(lr) ? lr : undefined;
  } catch {
    return undefined;
  }
}

const count = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;

/**
 * The parameters read from a model and its fit: cell, units, recurrentLayers, timesteps, optimizer, lr,
 * batchSize, epochs, loss; a key is left out when it cannot be read.
 */
export function autoParams(model: Model, summary: ModelSummary, fit: FitParams): Record<string, unknown> {
  const recurrent = summary.layers.filter((l) => l.units !== undefined);
  const cells = recurrent.map((l) =>
    l.innerClassName !== undefined ? `${l.className}(${l.innerClassName})` : l.className,
  );
  const units = recurrent.map((l) => l.units!);
  const losses = [...new Set(summary.losses)];
  const timesteps = summary.inputShape[0]?.[1];
  const out: Partial<Record<AutoParam, unknown>> = {
    ...(cells.length > 0 ? { cell: [...new Set(cells)].join('+') } : {}),
    ...(units.length > 0 ? { units: units.every((u) => u === units[0]) ? units[0] : units } : {}),
    ...(recurrent.length > 0 ? { recurrentLayers: recurrent.length } : {}),
    ...(count(timesteps) !== undefined ? { timesteps } : {}),
    ...(summary.optimizer !== undefined ? { optimizer: summary.optimizer } : {}),
    ...(learningRate(model) !== undefined ? { lr: learningRate(model) } : {}),
    ...(count(fit?.batchSize) !== undefined ? { batchSize: fit!.batchSize } : {}),
    ...(count(fit?.epochs) !== undefined ? { epochs: fit!.epochs } : {}),
    ...(losses.length > 0 ? { loss: losses.join('+') } : {}),
  };
  return out;
}
