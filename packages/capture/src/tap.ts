// Taps on layer outputs: an identity with a custom gradient that keeps the layer's output and the
// gradient flowing back into it (dL/d output), without changing either.
import * as tf from '@tensorflow/tfjs';
import type { Layer, TapPoint } from './layers.js';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

interface Installed {
  point: TapPoint;
  hadOwnCall: boolean;
  previous: CallFn;
}

export interface TapOptions {
  /** Keep the layer's output value. */
  output: boolean;
  /** Keep the gradient of the loss w.r.t. the layer's output. */
  grad: boolean;
  /** Only record calls made with `training: true` (the real training step of `fit`). */
  trainingOnly: boolean;
}

/**
 * Wraps the `call` of each tap point. While `armed`, every call's first output passes through an
 * identity whose gradient function keeps `dy`; both kept tensors live outside any tidy until
 * `take()` hands them over. Unarmed, the wrapper only forwards.
 */
export class Taps {
  armed = false;
  private readonly installed: Installed[] = [];
  private outputs = new Map<TapPoint, tf.Tensor>();
  private grads = new Map<TapPoint, tf.Tensor>();
  /** Shape of each point's last output: a gradient that never arrives is zeros of this shape. */
  readonly shapes = new Map<TapPoint, number[]>();

  constructor(
    private readonly points: TapPoint[],
    private readonly options: TapOptions,
  ) {}

  install(): void {
    if (this.installed.length > 0) return;
    for (const point of this.points) {
      const layer = point.layer as Layer & { call: CallFn };
      const hadOwnCall = Object.hasOwn(layer, 'call');
      const previous = layer.call;
      const taps = this;
      layer.call = function tappedCall(this: Layer, inputs, kwargs) {
        const out = previous.call(this, inputs, kwargs);
        if (!taps.armed || (taps.options.trainingOnly && kwargs?.training !== true)) return out;
        return taps.record(point, out);
      };
      this.installed.push({ point, hadOwnCall, previous });
    }
  }

  /** Restores every wrapped `call`; the original usually lives on the prototype. */
  remove(): void {
    for (const { point, hadOwnCall, previous } of this.installed.splice(0)) {
      const layer = point.layer as Layer & { call: CallFn };
      if (hadOwnCall) layer.call = previous;
      else delete (layer as Partial<typeof layer>).call;
    }
    this.armed = false;
  }

  /** Hands over what was kept since the last take; the caller disposes it. */
  take(): { outputs: Map<TapPoint, tf.Tensor>; grads: Map<TapPoint, tf.Tensor> } {
    const taken = { outputs: this.outputs, grads: this.grads };
    this.outputs = new Map();
    this.grads = new Map();
    return taken;
  }

  /** Drops anything kept (e.g. after a failed pass). */
  discard(): void {
    const { outputs, grads } = this.take();
    tf.dispose([...outputs.values(), ...grads.values()]);
  }

  private record(point: TapPoint, out: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    // RNN layers with returnState return [output, ...states]: the output is what we record.
    const y = Array.isArray(out) ? out[0] : out;
    if (y === undefined) return out;
    this.shapes.set(point, y.shape);
    if (this.options.output) replace(this.outputs, point, tf.keep(y.clone()));
    if (!this.options.grad) return out;
    const tapped = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: (args[0] as tf.Tensor).clone(),
      gradFunc: (dy: tf.Tensor) => {
        // A layer called at several nodes gets one dy per call: their sum is dL/d output.
        const previous = this.grads.get(point);
        const total = previous === undefined ? dy.clone() : tf.add(previous, dy);
        this.grads.set(point, tf.keep(total));
        previous?.dispose();
        return dy;
      },
    }))(y) as tf.Tensor;
    return Array.isArray(out) ? [tapped, ...out.slice(1)] : tapped;
  }
}

function replace(map: Map<TapPoint, tf.Tensor>, key: TapPoint, value: tf.Tensor): void {
  map.get(key)?.dispose();
  map.set(key, value);
}

interface OptimizerLike {
  applyGradients(grads: tf.NamedTensorMap | { name: string; tensor: tf.Tensor }[]): void;
}

/**
 * Keeps the weight gradients of a real training step by wrapping the optimizer's `applyGradients`,
 * which `fit` calls with the gradients it has already computed: no extra backward pass.
 */
export class OptimizerTap {
  armed = false;
  private grads = new Map<string, tf.Tensor>();
  private hadOwn = false;
  private previous: OptimizerLike['applyGradients'] | undefined;

  constructor(
    private readonly optimizer: OptimizerLike,
    private readonly names: Set<string>,
  ) {}

  install(): void {
    if (this.previous !== undefined) return;
    const optimizer = this.optimizer;
    this.hadOwn = Object.hasOwn(optimizer, 'applyGradients');
    const previous = optimizer.applyGradients;
    this.previous = previous;
    optimizer.applyGradients = (grads) => {
      if (this.armed) {
        const list = Array.isArray(grads)
          ? grads
          : Object.entries(grads).map(([name, tensor]) => ({ name, tensor }));
        for (const { name, tensor } of list) {
          if (!this.names.has(name)) continue;
          this.grads.get(name)?.dispose();
          this.grads.set(name, tf.keep(tensor.clone()));
        }
      }
      return previous.call(optimizer, grads);
    };
  }

  remove(): void {
    if (this.previous === undefined) return;
    if (this.hadOwn) this.optimizer.applyGradients = this.previous;
    else delete (this.optimizer as Partial<OptimizerLike>).applyGradients;
    this.previous = undefined;
    this.armed = false;
  }

  take(): Map<string, tf.Tensor> {
    const taken = this.grads;
    this.grads = new Map();
    return taken;
  }
}
