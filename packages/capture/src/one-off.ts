// getLayerGradients: the one-off capture, no training (the See RNN `get_rnn_gradients`).
import { checkOptions, type OptionKeys } from '@gradscope/format';
import type * as tf from '@tensorflow/tfjs';
import { type Batch, checkBatch, probePass, toSnapshots } from './capture.js';
import { GradscopeError } from './errors.js';
import { coreModel, type Layer, type Model, makeTarget, resolveLayers } from './layers.js';
import { KINDS, type Kind, type Snapshot } from './types.js';

export interface LayerGradientsArgs extends Batch {
  /** The layer: a name, an index into `model.layers`, or the Layer itself. */
  layer: string | number | Layer;
  /** What to compute. Default 'output-grad'. */
  kind?: Kind;
}

/** LayerGradientsArgs' keys: anything else given to getLayerGradients is an error. */
const LAYER_GRADIENTS_OPTIONS = {
  x: true,
  y: true,
  sampleWeight: true,
  layer: true,
  kind: true,
} as const satisfies OptionKeys<LayerGradientsArgs>;

/**
 * Computes one layer's snapshot(s) on a batch without training: the gradient of the compiled loss
 * w.r.t. the layer's output at every timestep by default. Returns one Snapshot, two for a
 * bidirectional layer with a non-concat merge (forward and backward, both in input time order),
 * three for 'input-grad' of a bidirectional layer (the whole, then each direction's share), and one
 * per weight and gate for 'weight-grad' / 'weight'.
 *
 * ```ts
 * const [grads] = await getLayerGradients(model, { x, y, layer: 'lstm_1' });
 * grads.shape; // [samples, timesteps, units]
 * ```
 */
export async function getLayerGradients(
  model: tf.LayersModel,
  args: LayerGradientsArgs,
): Promise<Snapshot[]> {
  checkOptions(
    args ?? null,
    LAYER_GRADIENTS_OPTIONS,
    'getLayerGradients',
    (message) => new GradscopeError(message),
  );
  const kind = args.kind ?? 'output-grad';
  if (!KINDS.includes(kind)) {
    throw new GradscopeError(
      `kind: unknown kind ${JSON.stringify(kind)}; expected one of ${KINDS.join(', ')}`,
    );
  }
  const m = model as Model;
  if (!(coreModel(m) as unknown as { lossFunctions?: unknown }).lossFunctions) {
    throw new GradscopeError(
      `model '${m.name}' is not compiled: call model.compile({ optimizer, loss }) first`,
    );
  }
  checkBatch(m, args, 'getLayerGradients');
  const targets = resolveLayers(m, [args.layer]).map(makeTarget);
  const kinds = new Set([kind]);
  const kept = probePass(m, targets, args, kinds);
  return toSnapshots(targets, kept, kinds, { run: '', iteration: 0, epoch: 0, batch: 0, time: Date.now() });
}
