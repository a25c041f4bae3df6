// Taps on layer outputs and inputs: an identity with a custom gradient that keeps the layer's output
// and the gradient flowing back into it (dL/d output, dL/d input), without changing either.
import * as tf from '@tensorflow/tfjs';
import type { Layer, TapPoint } from './layers.js';

type CallFn = (inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

interface Installed {
  point: TapPoint;
  hadOwnCall: boolean;
  previous: CallFn;
}

export interface TapOptions {
  /** Keep the output value of output points. */
  output: boolean;
  /** Keep the gradient of the loss w.r.t. the output of output points. */
  grad: boolean;
  /** Keep the gradient of the loss w.r.t. the input of input points. */
  inputGrad: boolean;
  /**
   * Called with each output point's output as the layer returned it, inside the layer's call: the joint
   * probe pass builds the jacobian's objective on it there (a model's apply disposes its intermediate
   * tensors when it returns).
   */
  onOutput?: (point: TapPoint, output: tf.Tensor) => void;
  /**
   * Input points pass only the first `blockBelow` rows of their gradient further down: the joint probe pass
   * puts the jacobian's samples after the loss's, and each layer's jacobian must stop at its own input.
   */
  blockBelow?: number;
  /** Only record calls made with `training: true` (the real training step of `fit`). */
  trainingOnly: boolean;
  /**
   * A tensor the backward pass differentiates with respect to. Every gradient tap takes it as a second
   * input (its value ignored, its gradient zeros), so the backward pass crosses every tap even where
   * nothing below the tap is differentiated: the probe's zero scalar, or a weight of the model in fit.
   */
  anchor?: tf.Tensor;
}

/**
 * Wraps the `call` of each tap point. While `armed`, a tapped call's first input or first output
 * passes through an identity whose gradient function keeps `dy`; kept tensors live outside any tidy
 * until `take()` hands them over. Unarmed, the wrapper only forwards.
 */
export class Taps {
  armed = false;
  private readonly installed: Installed[] = [];
  private outputs = new Map<TapPoint, tf.Tensor>();
  private grads = new Map<TapPoint, tf.Tensor>();
  /** Shape of each point's last tensor: a gradient that never arrives is zeros of this shape. */
  readonly shapes = new Map<TapPoint, number[]>();
  private readonly points: TapPoint[];

  constructor(
    points: TapPoint[],
    private readonly options: TapOptions,
  ) {
    // Only the points something is recorded at are wrapped.
    this.points = points.filter((p) =>
      p.at === 'input' ? options.inputGrad : options.output || options.grad || options.onOutput !== undefined,
    );
  }

  install(): void {
    if (this.installed.length > 0) return;
    for (const point of this.points) {
      // A layer can carry several points (its input and its output): each wraps the one before.
      const layer = point.layer as Layer & { call: CallFn };
      const hadOwnCall = Object.hasOwn(layer, 'call');
      const previous = layer.call;
      const taps = this;
      layer.call = function tappedCall(this: Layer, inputs, kwargs) {
        if (!taps.armed || (taps.options.trainingOnly && kwargs?.training !== true)) {
          return previous.call(this, inputs, kwargs);
        }
        if (point.at === 'input') return previous.call(this, taps.recordInput(point, inputs), kwargs);
        return taps.recordOutput(point, previous.call(this, inputs, kwargs));
      };
      this.installed.push({ point, hadOwnCall, previous });
    }
  }

  /** Restores every wrapped `call`, last wrapped first; the original usually lives on the prototype. */
  remove(): void {
    for (const { point, hadOwnCall, previous } of this.installed.splice(0).reverse()) {
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

  private recordInput(point: TapPoint, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    // An RNN called with initial states gets [input, ...states]: the sequence is what we record.
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (x === undefined) return inputs;
    this.shapes.set(point, x.shape);
    const tapped = this.gradTap(point, x);
    return Array.isArray(inputs) ? [tapped, ...inputs.slice(1)] : tapped;
  }

  private recordOutput(point: TapPoint, out: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
    // RNN layers with returnState return [output, ...states]: the output is what we record.
    const y = Array.isArray(out) ? out[0] : out;
    if (y === undefined) return out;
    this.shapes.set(point, y.shape);
    this.options.onOutput?.(point, y);
    if (this.options.output) replace(this.outputs, point, tf.keep(y.clone()));
    if (!this.options.grad) return out;
    const tapped = this.gradTap(point, y);
    return Array.isArray(out) ? [tapped, ...out.slice(1)] : tapped;
  }

  /** The identity whose gradient function keeps dy for `point`. */
  private gradTap(point: TapPoint, x: tf.Tensor): tf.Tensor {
    const anchor = this.options.anchor;
    const inputs = anchor === undefined ? [x] : [x, anchor];
    return tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
      value: (args[0] as tf.Tensor).clone(),
      gradFunc: (dy: tf.Tensor) => {
        // A layer called at several nodes gets one dy per call: their sum is dL/d tensor.
        const previous = this.grads.get(point);
        const total = previous === undefined ? dy.clone() : tf.add(previous, dy);
        this.grads.set(point, tf.keep(total));
        previous?.dispose();
        const block = this.options.blockBelow;
        const down =
          point.at === 'input' && block !== undefined && dy.shape[0]! > block
            ? tf.concat([tf.slice(dy, 0, block), tf.zerosLike(tf.slice(dy, block))])
            : dy;
        // The anchor's value never entered the result: its gradient is zero (adding it changes nothing).
        return anchor === undefined ? down : [down, tf.zerosLike(anchor)];
      },
    }))(...inputs) as tf.Tensor;
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
