// Finding the layers to capture, describing them (the See RNN `rnn_summary`), and where to tap them.
import type * as tf from '@tensorflow/tfjs';
import { GradscopeError } from './errors.js';
import type { LayerSummary, ModelSummary } from './types.js';

// tfjs classes are reached through duck typing on public fields so that the user's tfjs instance
// (tfjs-node-gpu, wasm, ...) is the only one in play.
export type Layer = tf.layers.Layer;
export type Model = tf.LayersModel;

/** A LayerVariable as tfjs-layers exposes it (`layer.trainableWeights[i]`). */
export interface LayerVariable {
  name: string;
  shape: (number | null)[];
  trainable: boolean;
  read(): tf.Variable;
}

interface Cell {
  units: number;
  kernel?: LayerVariable;
  recurrentKernel?: LayerVariable;
  bias?: LayerVariable;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
}

interface RecurrentLayer extends Layer {
  cell: Cell;
  returnSequences: boolean;
  goBackwards: boolean;
}

interface BidirectionalLayer extends Layer {
  forwardLayer: RecurrentLayer;
  backwardLayer: RecurrentLayer;
  mergeMode: 'concat' | 'sum' | 'mul' | 'ave' | null;
  returnSequences: boolean;
}

export type LayerSpec = 'recurrent' | (string | number | Layer)[];

/**
 * A place whose `call` is recorded: a layer, or one direction of a Bidirectional; at its first output
 * (output, output-grad) or at its first input (input-grad).
 */
export interface TapPoint {
  /** The object whose `call` is wrapped. */
  layer: Layer;
  /** Which end of `call` is tapped. */
  at: 'output' | 'input';
  /** 'forward' | 'backward' for a direction of a Bidirectional. */
  part?: string;
  /** The output is in processing order (a goBackwards layer, the backward sublayer): flip it to input time order. */
  flipTime: boolean;
  channelParts?: string[];
}

/** One weight tensor and how to cut it into gates. */
export interface WeightPiece {
  variable: LayerVariable;
  /** 'kernel' | 'recurrent_kernel' | 'bias', prefixed with the direction for a Bidirectional. */
  part: string;
  /** Gate letters along the last axis ('' = do not split). */
  gates: string;
  /** Units per gate. */
  units: number;
}

/** A layer chosen for capture, with everything needed to record it. */
export interface Target {
  layer: Layer;
  name: string;
  className: string;
  /** Where output and output-grad are read (one point, or one per direction). */
  points: TapPoint[];
  /** Where input-grad is read: the layer's input, then (Bidirectional) each direction's contribution to it. */
  inputPoints: TapPoint[];
  weights: WeightPiece[];
  /** Names of the axes of a layer input or output of this rank (ConvLSTM2D has rows and columns). */
  dims(rank: number): string[];
}

const RECURRENT_CLASSES = new Set(['SimpleRNN', 'LSTM', 'GRU', 'RNN', 'ConvLSTM2D']);

export function className(layer: Layer): string {
  return layer.getClassName();
}

function isBidirectional(layer: Layer): layer is BidirectionalLayer {
  return className(layer) === 'Bidirectional' && 'forwardLayer' in layer;
}

function isRecurrentLayer(layer: Layer): layer is RecurrentLayer {
  return RECURRENT_CLASSES.has(className(layer)) || ('cell' in layer && 'returnSequences' in layer);
}

export function isRecurrent(layer: Layer): boolean {
  return isRecurrentLayer(layer) || (isBidirectional(layer) && isRecurrentLayer(layer.forwardLayer));
}

/**
 * The layers as the user sees them. A Sequential's callbacks receive its inner LayersModel, whose
 * layer list starts with an InputLayer named `<first layer>_input` that `sequential.layers` omits.
 */
export function userLayers(model: Model): Layer[] {
  const layers = model.layers;
  const first = layers[0];
  const second = layers[1];
  if (
    first !== undefined &&
    second !== undefined &&
    className(first) === 'InputLayer' &&
    first.name === `${second.name}_input` &&
    model.name.endsWith('_model')
  ) {
    return layers.slice(1);
  }
  return layers;
}

/** The LayersModel that owns the compiled loss: a Sequential wraps one as `.model`. */
export function coreModel(model: Model): Model {
  const inner = (model as unknown as { model?: Model }).model;
  return inner !== undefined && 'lossFunctions' in inner ? inner : model;
}

function layerList(model: Model): string {
  return userLayers(model)
    .map((l, i) => `  ${i}: ${l.name} (${className(l)})`)
    .join('\n');
}

/** Resolves a `layers` option to layer objects; errors name the model's layers. */
export function resolveLayers(model: Model, spec: LayerSpec): Layer[] {
  const layers = userLayers(model);
  if (spec === 'recurrent') {
    const found = layers.filter(isRecurrent);
    if (found.length === 0) {
      throw new GradscopeError(
        `layers: 'recurrent' matched no layer: model '${model.name}' has no SimpleRNN, LSTM, GRU or Bidirectional layer. Its layers are:\n${layerList(model)}`,
      );
    }
    return found;
  }
  const chosen: Layer[] = [];
  for (const item of spec) {
    let layer: Layer | undefined;
    if (typeof item === 'number') {
      layer = layers[item];
      if (!Number.isInteger(item) || layer === undefined) {
        throw new GradscopeError(
          `layers: index ${item} is out of range: model '${model.name}' has ${layers.length} layers (0..${layers.length - 1}):\n${layerList(model)}`,
        );
      }
    } else if (typeof item === 'string') {
      const exact = layers.filter((l) => l.name === item);
      const matches = exact.length > 0 ? exact : layers.filter((l) => l.name.includes(item));
      if (matches.length === 0) {
        throw new GradscopeError(
          `layers: no layer named '${item}' in model '${model.name}'. Its layers are:\n${layerList(model)}`,
        );
      }
      if (matches.length > 1) {
        throw new GradscopeError(
          `layers: '${item}' matches ${matches.length} layers (${matches.map((l) => `${layers.indexOf(l)}: ${l.name}`).join(', ')}); give the full name or the index`,
        );
      }
      layer = matches[0];
    } else {
      layer = layers.find((l) => l === item);
      if (layer === undefined) {
        throw new GradscopeError(
          `layers: layer object '${(item as Layer).name}' is not part of model '${model.name}'. Its layers are:\n${layerList(model)}`,
        );
      }
    }
    if (layer !== undefined && !chosen.includes(layer)) chosen.push(layer);
  }
  if (chosen.length === 0) throw new GradscopeError('layers: the list is empty; give at least one layer');
  return chosen;
}

/** Gate letters of a cell, read from its class and config. */
export function gateLayout(cell: Cell): string {
  switch (cell.getClassName()) {
    case 'LSTMCell':
      return 'ifco';
    case 'GRUCell':
      return 'zrh';
    default:
      return '';
  }
}

function cellWeights(cell: Cell, prefix: string): WeightPiece[] {
  const gates = gateLayout(cell);
  const pieces: [LayerVariable | undefined, string][] = [
    [cell.kernel, 'kernel'],
    [cell.recurrentKernel, 'recurrent_kernel'],
    [cell.bias, 'bias'],
  ];
  return pieces
    .filter((p): p is [LayerVariable, string] => p[0] !== undefined)
    .map(([variable, part]) => ({ variable, part: prefix + part, gates, units: cell.units }));
}

function shortName(variable: LayerVariable): string {
  return variable.name.slice(variable.name.lastIndexOf('/') + 1);
}

function plainDims(rank: number): string[] {
  if (rank === 2) return ['sample', 'channel'];
  if (rank === 3) return ['sample', 'timestep', 'channel'];
  return ['sample', ...Array.from({ length: rank - 2 }, (_, k) => `axis${k + 1}`), 'channel'];
}

/** ConvLSTM2D (channels last): (sample, timestep, row, col, channel), or without the time axis. */
function convDims(rank: number): string[] {
  if (rank === 5) return ['sample', 'timestep', 'row', 'col', 'channel'];
  if (rank === 4) return ['sample', 'row', 'col', 'channel'];
  return plainDims(rank);
}

function dimsOf(layer: Layer): (rank: number) => string[] {
  const inner = isBidirectional(layer) ? layer.forwardLayer : layer;
  return className(inner) === 'ConvLSTM2D' ? convDims : plainDims;
}

/** Builds the capture plan for one layer. */
export function makeTarget(layer: Layer): Target {
  const base = { layer, name: layer.name, className: className(layer), dims: dimsOf(layer) };
  if (isBidirectional(layer)) {
    const weights = [
      ...cellWeights(layer.forwardLayer.cell, 'forward/'),
      ...cellWeights(layer.backwardLayer.cell, 'backward/'),
    ];
    // Both directions read the Bidirectional's own input tensor (the backward one reverses it inside),
    // so each direction's input gradient is in input time order and the two sum to the whole.
    const inputPoints: TapPoint[] = [
      { layer, at: 'input', flipTime: false },
      { layer: layer.forwardLayer, at: 'input', part: 'forward', flipTime: false },
      { layer: layer.backwardLayer, at: 'input', part: 'backward', flipTime: false },
    ];
    if (layer.mergeMode === 'concat') {
      return {
        ...base,
        weights,
        inputPoints,
        points: [{ layer, at: 'output', flipTime: false, channelParts: ['forward', 'backward'] }],
      };
    }
    return {
      ...base,
      weights,
      inputPoints,
      points: [
        { layer: layer.forwardLayer, at: 'output', part: 'forward', flipTime: false },
        // Bidirectional reverses the backward layer's sequence itself; we tap before that.
        { layer: layer.backwardLayer, at: 'output', part: 'backward', flipTime: layer.returnSequences },
      ],
    };
  }
  const inputPoints: TapPoint[] = [{ layer, at: 'input', flipTime: false }];
  if (isRecurrentLayer(layer)) {
    // A goBackwards layer emits its sequence in processing order (output t is input position T-1-t):
    // flipped, like the backward half of a Bidirectional, so that every time axis is in input order.
    const flipTime = layer.goBackwards === true && layer.returnSequences;
    return {
      ...base,
      points: [{ layer, at: 'output', flipTime }],
      inputPoints,
      weights: cellWeights(layer.cell, ''),
    };
  }
  const weights = (layer.trainableWeights as unknown as LayerVariable[]).map((variable) => ({
    variable,
    part: shortName(variable),
    gates: '',
    units: 0,
  }));
  return { ...base, points: [{ layer, at: 'output', flipTime: false }], inputPoints, weights };
}

/** Every variable the targets own (for a probe backward pass that reaches them all). */
export function targetVariables(targets: Target[]): LayerVariable[] {
  return targets.flatMap((t) => t.layer.trainableWeights as unknown as LayerVariable[]);
}

function summarizeLayer(layer: Layer, index: number, captured: boolean): LayerSummary {
  const summary: LayerSummary = {
    index,
    name: layer.name,
    className: className(layer),
    outputShape: layer.outputShape as LayerSummary['outputShape'],
    captured,
  };
  const rnn = isBidirectional(layer) ? layer.forwardLayer : isRecurrentLayer(layer) ? layer : undefined;
  if (isBidirectional(layer)) {
    summary.mergeMode = layer.mergeMode;
    summary.innerClassName = className(layer.forwardLayer);
  }
  if (rnn !== undefined) {
    summary.units = rnn.cell.units;
    summary.returnSequences = rnn.returnSequences;
    summary.gates = gateLayout(rnn.cell);
    if (rnn.cell.getClassName() === 'GRUCell') summary.resetAfter = rnn.cell.getConfig().resetAfter === true;
  }
  return summary;
}

export function describeModel(model: Model, captured: Layer[]): ModelSummary {
  const core = coreModel(model);
  const optimizer = (core as unknown as { optimizer?: { getClassName(): string } }).optimizer;
  return {
    name: model.name,
    className: className(model as unknown as Layer),
    layers: userLayers(model).map((l, i) => summarizeLayer(l, i, captured.includes(l))),
    inputShape: core.inputs.map((t) => t.shape),
    outputShape: core.outputs.map((t) => t.shape),
    losses: (core.lossFunctions ?? []).map((f) => f.name.replace(/\$\d+$/, '')),
    ...(optimizer ? { optimizer: optimizer.getClassName() } : {}),
  };
}
