// Independent references for the tests: a float64 MSE computed in JS from model.predict, and
// central finite differences of it w.r.t. a layer's output, a layer's input or a weight.
import * as tf from '@tensorflow/tfjs';
import { type JacobianDirection, lastState, rademacher } from '../jacobian.js';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

/** Seeded initializers so that every test model is the same on every run. */
export function seeded(seed: number) {
  return {
    kernelInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed }),
    recurrentInitializer: tf.initializers.randomNormal({ mean: 0, stddev: 0.6, seed: seed + 1 }),
    biasInitializer: tf.initializers.randomUniform({ minval: -0.3, maxval: 0.3, seed: seed + 2 }),
  };
}

export function randn(shape: number[], seed: number): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed);
}

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/**
 * Mean squared error summed over outputs, in float64, with optional per-sample weights: the loss
 * tfjs trains on for `loss: 'meanSquaredError'` (mean over every element, one weight per sample).
 */
export function mseLoss(
  model: tf.LayersModel,
  x: tf.Tensor | tf.Tensor[],
  y: tf.Tensor | tf.Tensor[],
  sampleWeight?: number[],
): number {
  const preds = list(model.predict(x) as tf.Tensor | tf.Tensor[]);
  const ys = list(y);
  let total = 0;
  preds.forEach((p, i) => {
    const pd = p.dataSync();
    const yd = ys[i]!.dataSync();
    const n = p.shape[0]!;
    const per = pd.length / n;
    for (let s = 0; s < n; s++) {
      const w = sampleWeight?.[s] ?? 1;
      for (let k = 0; k < per; k++) {
        const d = pd[s * per + k]! - yd[s * per + k]!;
        total += (w * d * d) / pd.length;
      }
    }
    p.dispose();
  });
  return total;
}

/** Runs `fn` while `layer`'s first output has `delta` (same shape, row-major) added to it. */
function withOutputShift<T>(layer: tf.layers.Layer, delta: tf.Tensor, fn: () => T): T {
  const target = layer as tf.layers.Layer & { call: CallFn };
  const original = target.call;
  target.call = function shifted(this: tf.layers.Layer, inputs, kwargs) {
    const out = original.call(this, inputs, kwargs);
    const y = Array.isArray(out) ? out[0]! : out;
    const shifted = tf.add(y, delta.reshape(y.shape));
    return Array.isArray(out) ? [shifted, ...out.slice(1)] : shifted;
  };
  try {
    return fn();
  } finally {
    delete (target as Partial<typeof target>).call;
  }
}

/** Runs `fn` while `layer`'s first input has `delta` (same shape, row-major) added to it. */
function withInputShift<T>(layer: tf.layers.Layer, delta: tf.Tensor, fn: () => T): T {
  const target = layer as tf.layers.Layer & { call: CallFn };
  const original = target.call;
  target.call = function shifted(this: tf.layers.Layer, inputs, kwargs) {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    const moved = tf.add(x, delta.reshape(x.shape));
    return original.call(this, Array.isArray(inputs) ? [moved, ...inputs.slice(1)] : moved, kwargs);
  };
  try {
    return fn();
  } finally {
    delete (target as Partial<typeof target>).call;
  }
}

/** Picks up to `max` coordinates of an array of `size`, spread evenly, always including 0 and size-1. */
export function coordinates(size: number, max = 48): number[] {
  if (size <= max) return Array.from({ length: size }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.round((i * (size - 1)) / (max - 1)));
}

/**
 * Central finite differences of `loss` w.r.t. a tensor of `shape` that `shifted(delta, loss)` adds `delta`
 * to before evaluating `loss`, at the given coordinates; other coordinates are NaN.
 */
function fdShift(
  shape: number[],
  shifted: (delta: tf.Tensor, loss: () => number) => number,
  loss: () => number,
  coords: number[],
  eps: number,
): Float64Array {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size).fill(Number.NaN);
  for (const k of coords) {
    const at = (sign: number) => {
      const d = new Float32Array(size);
      d[k] = sign * eps;
      const delta = tf.tensor(d, shape);
      try {
        return shifted(delta, loss);
      } finally {
        delta.dispose();
      }
    };
    out[k] = (at(1) - at(-1)) / (2 * eps);
  }
  return out;
}

/**
 * Central finite differences of `loss` w.r.t. the (raw, processing-order) output of `layer`, at the
 * given coordinates; other coordinates are NaN.
 */
export function fdOutputGrad(
  layer: tf.layers.Layer,
  shape: number[],
  loss: () => number,
  coords: number[],
  eps = 1e-2,
): Float64Array {
  return fdShift(shape, (delta, f) => withOutputShift(layer, delta, f), loss, coords, eps);
}

/**
 * Central finite differences of `loss` w.r.t. the input of `layer` (as its `call` receives it), at the
 * given coordinates; other coordinates are NaN. For a direction of a Bidirectional (its forwardLayer or
 * backwardLayer) only that direction sees the shift: its contribution to the gradient.
 */
export function fdInputGrad(
  layer: tf.layers.Layer,
  shape: number[],
  loss: () => number,
  coords: number[],
  eps = 1e-2,
): Float64Array {
  return fdShift(shape, (delta, f) => withInputShift(layer, delta, f), loss, coords, eps);
}

/** Central finite differences of `loss` w.r.t. one weight variable, at the given coordinates. */
export function fdWeightGrad(
  variable: tf.LayerVariable,
  loss: () => number,
  coords: number[],
  eps = 1e-2,
): Float64Array {
  const original = variable.read().clone();
  const base = original.dataSync().slice();
  const out = new Float64Array(base.length).fill(Number.NaN);
  const at = (k: number, sign: number) => {
    const d = base.slice();
    d[k] = d[k]! + sign * eps;
    variable.write(tf.tensor(d, original.shape));
    return loss();
  };
  try {
    for (const k of coords) out[k] = (at(k, 1) - at(k, -1)) / (2 * eps);
  } finally {
    variable.write(original);
  }
  return out;
}

/** Relative error of `got` against the finite differences at the coordinates they cover. */
export function relativeError(got: Float32Array, fd: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < fd.length; i++) {
    if (Number.isNaN(fd[i]!)) continue;
    num += (got[i]! - fd[i]!) ** 2;
    den += fd[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

/** Reverses axis 1 of a row-major [n, T, c] array (processing order ↔ input order). */
export function reverseTime(data: Float64Array, shape: number[]): Float64Array {
  const [n, steps, c] = shape as [number, number, number];
  const out = new Float64Array(data.length);
  for (let s = 0; s < n; s++)
    for (let t = 0; t < steps; t++)
      for (let k = 0; k < c; k++) out[(s * steps + (steps - 1 - t)) * c + k] = data[(s * steps + t) * c + k]!;
  return out;
}

/**
 * v_sᵀ ∂h_T/∂x for every sample of `x` (the layer's input), one direction differentiated on its own (the
 * capture does all of them in the probe's backward pass). `v` defaults to the seeded Rademacher vectors;
 * unit vectors build the exact Jacobian.
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
