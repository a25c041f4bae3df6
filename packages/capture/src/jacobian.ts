// The loss-free `jacobian` kind: how strongly a recurrent layer's last state depends on its input at each
// timestep, whatever the loss.
//
// For each sample s the capture keeps g_s = ∂(v_s · h_T)/∂x = v_sᵀ J_s, one backward pass for all samples
// (they are independent), where h_T is the state after the layer's last processing step and v_s a seeded
// Rademacher vector (entries ±1: unit variance). For one timestep t, E_v ‖v_sᵀ J_{s,t}‖² = ‖J_{s,t}‖²_F
// (Hutchinson), so the mean over samples of ‖g_{s,t}‖² estimates E_s ‖∂h_T/∂x_t‖²_F. Its variance for one
// sample is 2 Σ_{i≠j} (J Jᵀ)²_ij ≤ 2 ‖J‖⁴_F: the relative standard error of the mean over n samples is at
// most √(2/n) (0.18 for a 64-sample probe), smaller where J Jᵀ is close to diagonal. jacobian.test.ts
// checks g against the exact Jacobian and the estimate against ‖J‖²_F within that error.
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

/**
 * v_sᵀ ∂h_T/∂x for every sample of `x` (the layer's input), in input time order. `v` defaults to the seeded
 * Rademacher vectors; a caller may pass its own (the tests pass unit vectors to build the exact Jacobian).
 */
export function jacobianProjection(
  direction: JacobianDirection,
  x: tf.Tensor,
  seed: number,
  v?: tf.Tensor,
): tf.Tensor {
  return tf.tidy(() => {
    const state = (input: tf.Tensor): tf.Tensor => {
      // `call`, as Bidirectional.call does: its halves are built by the wrapper, never applied on their own.
      const out = direction.layer.call(input, { training: false });
      return lastState(Array.isArray(out) ? out[0]! : out, direction.layer.returnSequences);
    };
    let projection = v;
    const objective = (input: tf.Tensor): tf.Scalar => {
      const h = state(input);
      projection ??= rademacher(h.shape, seed);
      return tf.sum(tf.mul(projection, h));
    };
    return tf.grad(objective)(x);
  });
}

/**
 * The jacobian of every recurrent target at its recorded input (`inputs`: the layer's input kept by the
 * probe's forward pass). Targets without a recurrent cell get none.
 */
export function jacobians(
  targets: Target[],
  inputs: Map<Target, tf.Tensor>,
): Map<Target, { part?: string; grad: tf.Tensor }[]> {
  const result = new Map<Target, { part?: string; grad: tf.Tensor }[]>();
  targets.forEach((target, k) => {
    const x = inputs.get(target);
    if (x === undefined) return;
    const grads = jacobianDirections(target).map((direction, d) => ({
      ...(direction.part !== undefined ? { part: direction.part } : {}),
      grad: jacobianProjection(direction, x, JACOBIAN_SEED + 2 * k + d),
    }));
    if (grads.length > 0) result.set(target, grads);
  });
  return result;
}
