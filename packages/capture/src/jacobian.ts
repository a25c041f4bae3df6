// The loss-free `jacobian` kind: how strongly a recurrent layer's last state depends on its input at each
// timestep, whatever the loss.
//
// For each sample s the capture keeps g_s = ∂(v_s · h_T)/∂x = v_sᵀ J_s, one backward pass for all samples
// (they are independent), where h_T is the state after the layer's last processing step and v_s a seeded
// Rademacher vector (entries ±1: unit variance). For one timestep t, E_v ‖v_sᵀ J_{s,t}‖² = ‖J_{s,t}‖²_F
// (Hutchinson), so the mean over samples of ‖g_{s,t}‖² estimates E_s ‖∂h_T/∂x_t‖²_F. Its variance for one
// sample is 2 Σ_{i≠j} (J Jᵀ)²_ij ≤ 2 ‖J‖⁴_F: the relative standard error of the mean over n samples is at
// most √(2/n) (0.18 for a 64-sample probe), smaller where J Jᵀ is close to diagonal. The probe pass computes
// it in its own backward pass (capture.ts, jointPass); jacobian.test.ts checks g against central differences
// and against each layer differentiated on its own, and the estimate against ‖J‖²_F within that error.
import * as tf from '@tensorflow/tfjs';
import { isRecurrent, type Layer, type Target } from './layers.js';

/** The seed of the first target's projection vectors; target k, direction d uses JACOBIAN_SEED + 2k + d. */
export const JACOBIAN_SEED = 7919;

interface RecurrentCall extends Layer {
  returnSequences: boolean;
  call(inputs: tf.Tensor, kwargs: Record<string, unknown>): tf.Tensor | tf.Tensor[];
}

/** One direction of a target whose last state is differentiated: the layer, or a Bidirectional's halves. */
export interface JacobianDirection {
  layer: RecurrentCall;
  /** 'forward' | 'backward' for a Bidirectional layer. */
  part?: string;
}

export function jacobianDirections(target: Target): JacobianDirection[] {
  if (!isRecurrent(target.layer)) return [];
  const bidi = target.layer as Layer & { forwardLayer?: RecurrentCall; backwardLayer?: RecurrentCall };
  if (bidi.forwardLayer !== undefined && bidi.backwardLayer !== undefined) {
    return [
      { layer: bidi.forwardLayer, part: 'forward' },
      { layer: bidi.backwardLayer, part: 'backward' },
    ];
  }
  return [{ layer: target.layer as RecurrentCall }];
}

/**
 * The state after the last processing step. A layer returning sequences emits them in processing order
 * (a goBackwards layer, a Bidirectional's backward half, too), so the last step is the last index on axis 1:
 * input step T−1 forward, input step 0 backward.
 */
export function lastState(y: tf.Tensor, returnSequences: boolean): tf.Tensor {
  if (!returnSequences) return y;
  const steps = y.shape[1]!;
  const begin = y.shape.map((_, k) => (k === 1 ? steps - 1 : 0));
  const size = y.shape.map((d, k) => (k === 1 ? 1 : d));
  return tf.squeeze(tf.slice(y, begin, size), [1]);
}

/** A seeded ±1 tensor (Rademacher: mean 0, variance 1). */
export function rademacher(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() =>
    tf.sub(tf.mul(tf.step(tf.sub(tf.randomUniform(shape, 0, 1, 'float32', seed), 0.5)), 2), 1),
  );
}
