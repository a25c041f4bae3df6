// One capture: the probe pass (forward + one backward for every target at once) and turning kept
// tensors into Snapshots (awaiting data(), splitting gates, restoring input time order).
import { countNonFinite } from '@gradscope/format';
import * as tf from '@tensorflow/tfjs';
import { GradscopeError } from './errors.js';
import { JACOBIAN_SEED, jacobianDirections, lastState, rademacher } from './jacobian.js';
import {
  coreModel,
  type Model,
  type TapPoint,
  type Target,
  targetVariables,
  type WeightPiece,
} from './layers.js';
import { Taps } from './tap.js';
import type { Kind, Snapshot } from './types.js';

/** Inputs, labels and optional per-sample weights of a pass. */
export interface Batch {
  x: tf.Tensor | tf.Tensor[];
  y: tf.Tensor | tf.Tensor[];
  sampleWeight?: tf.Tensor | number[];
}

/** What one pass kept, before it is read back. */
export interface Kept {
  /** The loss of the pass: a scalar still on the device, or a number already read. */
  loss: tf.Scalar | number;
  outputs: Map<TapPoint, tf.Tensor>;
  grads: Map<TapPoint, tf.Tensor>;
  shapes: Map<TapPoint, number[]>;
  /** Weight gradients by variable name. */
  weightGrads: Map<string, tf.Tensor>;
  /** The `jacobian` kind of each recurrent target: one tensor per direction. */
  jacobians?: Map<Target, { part?: string; grad: tf.Tensor }[]>;
}

export type SnapshotStamp = Pick<Snapshot, 'run' | 'iteration' | 'epoch' | 'batch' | 'time'>;

const list = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function describeShape(shape: (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'any' : d)).join(', ')}]`;
}

/** Checks that a batch fits the model's inputs and outputs; messages say expected vs got. */
export function checkBatch(model: Model, batch: Batch, what: string): void {
  const core = coreModel(model);
  const xs = list(batch.x);
  const ys = list(batch.y);
  const check = (tensors: tf.Tensor[], expected: tf.SymbolicTensor[], name: string) => {
    if (tensors.length !== expected.length) {
      throw new GradscopeError(
        `${what}.${name}: model '${model.name}' has ${expected.length} ${name === 'x' ? 'input' : 'output'}(s), got ${tensors.length} tensor(s)`,
      );
    }
    tensors.forEach((t, i) => {
      if (!(t instanceof tf.Tensor)) throw new GradscopeError(`${what}.${name}[${i}]: expected a tf.Tensor`);
      const want = expected[i]!.shape;
      const fits =
        t.shape.length === want.length && want.every((d, k) => k === 0 || d === null || d === t.shape[k]);
      if (!fits) {
        throw new GradscopeError(
          `${what}.${name}${tensors.length > 1 ? `[${i}]` : ''}: expected shape ${describeShape(want)} (any batch size), got ${describeShape(t.shape)}`,
        );
      }
    });
  };
  check(xs, core.inputs, 'x');
  check(ys, core.outputs, 'y');
  const n = xs[0]!.shape[0]!;
  for (const t of [...xs, ...ys]) {
    if (t.shape[0] !== n) {
      throw new GradscopeError(
        `${what}: x and y must have the same number of samples, got ${n} and ${t.shape[0]}`,
      );
    }
  }
  const sw = batch.sampleWeight;
  if (sw !== undefined) {
    const got = Array.isArray(sw) ? [sw.length] : sw.shape;
    if (got.length !== 1 || got[0] !== n) {
      throw new GradscopeError(
        `${what}.sampleWeight: expected shape [${n}] (one weight per sample), got [${got.join(', ')}]`,
      );
    }
  }
}

/**
 * The compiled training loss, as tfjs-layers' `makeTrainFunction` computes it: the per-sample losses
 * of every output (times the sample weights) summed, averaged, plus regularizer penalties.
 * (tfjs 4 has no loss weights.)
 */
export function compiledLoss(
  model: Model,
  outputs: tf.Tensor[],
  ys: tf.Tensor[],
  sampleWeight?: tf.Tensor,
): tf.Scalar {
  const core = coreModel(model);
  let total: tf.Tensor | undefined;
  core.lossFunctions.forEach((lossFn, i) => {
    let loss = lossFn(ys[i]!, outputs[i]!);
    if (sampleWeight !== undefined) {
      // One weight per sample, broadcast over the per-timestep losses of sequence outputs.
      const shape = [sampleWeight.shape[0]!, ...loss.shape.slice(1).map(() => 1)];
      loss = tf.mul(loss, tf.reshape(sampleWeight, shape));
    }
    total = total === undefined ? loss : tf.add(total, loss);
  });
  let result = tf.mean(total!) as tf.Scalar;
  for (const penalty of core.calculateLosses()) result = tf.add(result, penalty);
  return result;
}

/** The batch's sample weights as a tensor (the caller disposes it when it is not the batch's own). */
function sampleWeightOf(batch: Batch): tf.Tensor | undefined {
  const sw = batch.sampleWeight;
  return sw === undefined ? undefined : Array.isArray(sw) ? tf.tensor1d(sw) : sw;
}

/**
 * Runs the probe pass: a forward pass in inference mode (dropout off) and, when gradients are asked
 * for, one backward pass that goes only as deep as it must. For output-grad and input-grad alone it
 * differentiates w.r.t. a zero scalar fed into every gradient tap, so it stops at the earliest tap
 * (the layer's output for output-grad, its input for input-grad) and computes no weight gradient;
 * weight-grad extends the same single pass to the targets' own weights, crossing every tap.
 */
export function probePass(model: Model, targets: Target[], batch: Batch, kinds: Set<Kind>): Kept {
  if (kinds.has('jacobian')) {
    if (!kinds.has('weight-grad')) return jointPass(model, targets, batch, kinds);
    // The jacobian's rows would add to the weight gradients: weights in the plain pass, the jacobian alone
    // in the joint pass.
    const kept = probePass(model, targets, batch, new Set([...kinds].filter((k) => k !== 'jacobian')));
    const joint = jointPass(model, targets, batch, new Set(['jacobian']));
    if (typeof joint.loss !== 'number') joint.loss.dispose();
    return { ...kept, jacobians: joint.jacobians! };
  }
  const core = coreModel(model);
  const wantWeights = kinds.has('weight-grad');
  const wantTaps = kinds.has('output-grad') || kinds.has('input-grad');
  const variables = wantWeights ? targetVariables(targets).filter((v) => v.trainable) : [];
  if (wantWeights && variables.length === 0) {
    throw new GradscopeError(
      `layers ${targets.map((t) => `'${t.name}'`).join(', ')} have no trainable weights: weight gradients cannot be traced back to them (set layer.trainable = true)`,
    );
  }
  // The tap variable: zero, trainable so that variableGrads takes it, disposed after the pass.
  const zero = wantTaps ? tf.tidy(() => tf.variable(tf.scalar(0), true)) : undefined;
  const taps = new Taps(
    targets.flatMap((t) => [...t.points, ...t.inputPoints]),
    {
      output: kinds.has('output'),
      grad: kinds.has('output-grad'),
      inputGrad: kinds.has('input-grad'),
      trainingOnly: false,
      ...(zero !== undefined ? { anchor: zero } : {}),
    },
  );
  const sampleWeight = sampleWeightOf(batch);
  const lossOf = () => {
    const outputs = list(core.apply(batch.x, { training: false }) as tf.Tensor | tf.Tensor[]);
    const loss = compiledLoss(model, outputs, list(batch.y), sampleWeight);
    // Ties the tap variable to the loss (value unchanged): variableGrads refuses a variable that no
    // path reaches, which happens when no tapped tensor feeds the loss (gradients then are zeros).
    return zero === undefined ? loss : (tf.add(loss, tf.mul(zero, 0)) as tf.Scalar);
  };
  taps.install();
  taps.armed = true;
  try {
    const weightGrads = new Map<string, tf.Tensor>();
    let lossTensor: tf.Scalar;
    if (wantWeights || wantTaps) {
      const xs = [...(zero !== undefined ? [zero] : []), ...variables.map((v) => v.read())];
      const { value, grads } = tf.variableGrads(lossOf, xs);
      lossTensor = value;
      for (const [name, g] of Object.entries(grads)) {
        if (g !== null && wantWeights && name !== zero?.name) weightGrads.set(name, g);
        else g?.dispose();
      }
    } else {
      lossTensor = tf.tidy(lossOf);
    }
    return { loss: lossTensor, ...taps.take(), shapes: taps.shapes, weightGrads };
  } catch (err) {
    taps.discard();
    throw err;
  } finally {
    taps.remove();
    zero?.dispose();
    if (sampleWeight !== batch.sampleWeight) sampleWeight?.dispose();
  }
}

function weightDims(rank: number): string[] {
  if (rank === 1) return ['unit'];
  if (rank === 2) return ['input', 'unit'];
  return Array.from({ length: rank }, (_, k) => `axis${k}`);
}

/**
 * The state after each direction's last processing step, from one output point of the target as its layer
 * returned it: [direction index, state] pairs.
 */
function directionStates(target: Target, point: TapPoint, y: tf.Tensor): [number, tf.Tensor][] {
  const directions = jacobianDirections(target);
  if (directions.length === 0) return [];
  if (target.points.length === directions.length) {
    // A layer, or a Bidirectional with a merge other than concat: one output per direction, each as its
    // layer returned it (a backward direction in processing order: its last step is its last index).
    const d = target.points.indexOf(point);
    return d < 0 ? [] : [[d, lastState(y, directions[d]!.layer.returnSequences)]];
  }
  // A Bidirectional with merge 'concat': forward channels first, backward second, both in input time order
  // (the wrapper reverses the backward sequence), so the backward direction's last state is at step 0.
  const last = y.shape.length - 1;
  const width = y.shape[last]! / 2;
  const sequences = directions[0]!.layer.returnSequences;
  return [0, 1].map((d): [number, tf.Tensor] => {
    const half = tf.slice(
      y,
      y.shape.map((_, k) => (k === last ? d * width : 0)),
      y.shape.map((n, k) => (k === last ? width : n)),
    );
    if (!sequences) return [d, half];
    const step = d === 0 ? half.shape[1]! - 1 : 0;
    const begin = half.shape.map((_, k) => (k === 1 ? step : 0));
    const size = half.shape.map((n, k) => (k === 1 ? 1 : n));
    return [d, tf.squeeze(tf.slice(half, begin, size), [1])];
  });
}

/** The first `n` rows of a tensor (the loss's samples of the joint pass), or the rows after them. */
const rows = (t: tf.Tensor, n: number, second = false): tf.Tensor =>
  second ? tf.slice(t, n, t.shape[0]! - n) : tf.slice(t, 0, n);

/**
 * The probe pass with the loss-free `jacobian` in the same backward pass (no weight gradients asked for).
 * The probe runs twice in one batch: its first n rows give the loss, as the plain probe pass does; the
 * second n rows give Σ v_s · h_T of every target (h_T each direction's last state, v_s the seeded
 * Rademacher vectors of jacobian.ts). Samples are independent in inference mode, so the gradient at a
 * layer's input is d loss / d input on the first rows and v_s · ∂h_T/∂x on the second; each input tap
 * passes only the first rows further down, so a layer's jacobian rows hold its own state's projection and
 * nothing of the layers above. One forward and one backward pass of 2n rows instead of the probe pass plus
 * a forward and backward pass per direction: the RNNs' per-step cost hardly grows with the batch.
 */
function jointPass(model: Model, targets: Target[], batch: Batch, kinds: Set<Kind>): Kept {
  const core = coreModel(model);
  const n = list(batch.x)[0]!.shape[0]!;
  const zero = tf.tidy(() => tf.variable(tf.scalar(0), true));
  // Σ v_s · h_T of each direction, computed inside the layer's call (kept: the model's apply disposes its
  // intermediates when it returns) and added to the loss once the forward pass is done.
  const terms: tf.Scalar[] = [];
  const onOutput = (point: TapPoint, y: tf.Tensor) => {
    const k = targets.findIndex((t) => t.points.includes(point));
    if (k < 0) return;
    for (const [d, state] of directionStates(targets[k]!, point, y)) {
      const h = rows(state, n, true);
      terms.push(tf.keep(tf.sum(tf.mul(rademacher(h.shape, JACOBIAN_SEED + 2 * k + d), h))));
    }
  };
  const taps = new Taps(
    targets.flatMap((t) => [...t.points, ...t.inputPoints]),
    {
      output: kinds.has('output'),
      grad: kinds.has('output-grad'),
      inputGrad: true,
      onOutput,
      blockBelow: n,
      trainingOnly: false,
      anchor: zero,
    },
  );
  const sampleWeight = sampleWeightOf(batch);
  const doubled = list(batch.x).map((x) => tf.concat([x, x]));
  let loss: tf.Scalar | undefined;
  const objective = () => {
    const outputs = list(
      core.apply(doubled.length === 1 ? doubled[0]! : doubled, { training: false }) as
        | tf.Tensor
        | tf.Tensor[],
    );
    const probeLoss = compiledLoss(
      model,
      outputs.map((o) => rows(o, n)),
      list(batch.y),
      sampleWeight,
    );
    loss = tf.keep(probeLoss.clone());
    let total: tf.Scalar = tf.add(probeLoss, tf.mul(zero, 0));
    for (const term of terms) total = tf.add(total, term);
    return total;
  };
  taps.install();
  taps.armed = true;
  try {
    const { value, grads } = tf.variableGrads(objective, [zero]);
    value.dispose();
    for (const g of Object.values(grads)) g?.dispose();
    const taken = taps.take();
    const tidyRows = (t: tf.Tensor, second = false) => {
      const out = tf.keep(tf.tidy(() => rows(t, n, second)));
      return out;
    };
    const outputs = new Map([...taken.outputs].map(([p, t]) => [p, tidyRows(t)]));
    const grads2 = new Map<TapPoint, tf.Tensor>();
    for (const [p, t] of taken.grads)
      if (p.at === 'output' || kinds.has('input-grad')) grads2.set(p, tidyRows(t));
    const jacobianOf = new Map<Target, { part?: string; grad: tf.Tensor }[]>();
    for (const target of targets) {
      const directions = jacobianDirections(target);
      if (directions.length === 0) continue;
      // The layer's own input tap, or each direction's of a Bidirectional (inputPoints 1 and 2).
      const points = directions.length === 1 ? [target.inputPoints[0]!] : target.inputPoints.slice(1, 3);
      jacobianOf.set(
        target,
        directions.map((direction, d) => {
          const g = taken.grads.get(points[d]!);
          const shape = [n, ...(taps.shapes.get(points[d]!) ?? []).slice(1)];
          return {
            ...(direction.part !== undefined ? { part: direction.part } : {}),
            grad: g === undefined ? tf.zeros(shape) : tidyRows(g, true),
          };
        }),
      );
    }
    tf.dispose([...taken.outputs.values(), ...taken.grads.values()]);
    const shapes = new Map([...taps.shapes].map(([p, shape]) => [p, [n, ...shape.slice(1)]]));
    return { loss: loss!, outputs, grads: grads2, shapes, weightGrads: new Map(), jacobians: jacobianOf };
  } catch (err) {
    taps.discard();
    loss?.dispose();
    throw err;
  } finally {
    taps.remove();
    zero.dispose();
    tf.dispose([...doubled, ...terms]);
    if (sampleWeight !== batch.sampleWeight) sampleWeight?.dispose();
  }
}

/** Reverses axis 1 (time) of a row-major [n, T, ...] array. */
function flipTime(data: Float32Array, shape: number[]): Float32Array {
  const [n, steps] = shape as [number, number];
  const block = data.length / (n * steps);
  const out = new Float32Array(data.length);
  for (let s = 0; s < n; s++) {
    for (let t = 0; t < steps; t++) {
      const from = (s * steps + t) * block;
      out.set(data.subarray(from, from + block), (s * steps + (steps - 1 - t)) * block);
    }
  }
  return out;
}

/** Cuts the last axis into gates of `units` columns: one piece per gate, rows kept. */
function splitGates(data: Float32Array, shape: number[], gates: string, units: number) {
  const width = shape[shape.length - 1]!;
  if (gates === '' || gates.length * units !== width) return [{ gate: '', shape, data }];
  const rows = data.length / width;
  return [...gates].map((gate, g) => {
    const piece = new Float32Array(rows * units);
    for (let r = 0; r < rows; r++)
      piece.set(data.subarray(r * width + g * units, r * width + (g + 1) * units), r * units);
    return { gate, shape: [...shape.slice(0, -1), units], data: piece };
  });
}

/** A GRU with resetAfter keeps its input and recurrent biases as the two rows of a [2, 3u] bias. */
function splitBiasRows(piece: WeightPiece, data: Float32Array, shape: number[]) {
  if (!piece.part.endsWith('bias') || shape.length !== 2) return [{ part: piece.part, data, shape }];
  const width = shape[1]!;
  return ['input', 'recurrent'].map((row, r) => ({
    part: `${piece.part}/${row}`,
    data: data.slice(r * width, (r + 1) * width),
    shape: [width],
  }));
}

/**
 * Reads kept tensors back (await data(), never dataSync) into Snapshots and disposes them.
 * Every Snapshot owns its buffer: the cpu backend's data() returns the tensor's own storage.
 */
export async function toSnapshots(
  targets: Target[],
  kept: Kept,
  kinds: Set<Kind>,
  stamp: SnapshotStamp,
): Promise<Snapshot[]> {
  const snapshots: Snapshot[] = [];
  const loss = typeof kept.loss === 'number' ? kept.loss : (await kept.loss.data())[0]!;
  const push = (
    target: Target,
    kind: Kind,
    part: string | undefined,
    shape: number[],
    dims: string[],
    data: Float32Array,
    channelParts?: string[],
  ) => {
    snapshots.push({
      ...stamp,
      layer: target.name,
      layerClass: target.className,
      kind,
      ...(part !== undefined ? { part } : {}),
      ...(channelParts !== undefined ? { channelParts } : {}),
      shape,
      dims,
      data,
      loss,
      nonFinite: countNonFinite(data),
    });
  };
  try {
    for (const target of targets) {
      for (const kind of kinds) {
        if (kind === 'jacobian') {
          for (const { part, grad } of kept.jacobians?.get(target) ?? []) {
            const data = new Float32Array(await grad.data());
            push(target, kind, part, grad.shape, target.dims(grad.shape.length), data);
          }
        } else if (kind === 'output-grad' || kind === 'output' || kind === 'input-grad') {
          const source = kind === 'output' ? kept.outputs : kept.grads;
          for (const point of kind === 'input-grad' ? target.inputPoints : target.points) {
            const tensor = source.get(point);
            const shape = tensor?.shape ?? kept.shapes.get(point);
            if (shape === undefined) continue; // the layer was never called in this pass
            // No gradient reached the tap: the loss does not depend on this tensor.
            const raw =
              tensor === undefined ? new Float32Array(shape.reduce((a, b) => a * b, 1)) : await tensor.data();
            // One copy either way: the flip writes a new array, else copy out of the backend's storage.
            const data =
              point.flipTime && shape.length >= 3
                ? flipTime(raw as Float32Array, shape)
                : new Float32Array(raw);
            push(target, kind, point.part, shape, target.dims(shape.length), data, point.channelParts);
          }
        } else {
          for (const piece of target.weights) {
            const variable = piece.variable.read();
            const grad = kind === 'weight-grad' ? kept.weightGrads.get(variable.name) : variable;
            const shape = variable.shape;
            const raw =
              grad === undefined
                ? new Float32Array(variable.size)
                : ((await grad.data()) as Float32Array<ArrayBuffer>);
            for (const rows of splitBiasRows(piece, raw, shape)) {
              for (const { gate, shape: gateShape, data } of splitGates(
                rows.data,
                rows.shape,
                piece.gates,
                piece.units,
              )) {
                const owned = data === raw ? new Float32Array(data) : data;
                push(
                  target,
                  kind,
                  gate === '' ? rows.part : `${rows.part}/${gate}`,
                  gateShape,
                  weightDims(gateShape.length),
                  owned,
                );
              }
            }
          }
        }
      }
    }
  } finally {
    tf.dispose([...kept.outputs.values(), ...kept.grads.values(), ...kept.weightGrads.values()]);
    for (const grads of kept.jacobians?.values() ?? []) tf.dispose(grads.map((g) => g.grad));
    if (typeof kept.loss !== 'number') kept.loss.dispose();
  }
  return snapshots;
}
