// The demo gallery: the See RNN examples (EX1–EX9) as training runs, and what to look for in each.
import type { Kind } from '@gradscope/capture';

export type Cell = 'lstm' | 'gru' | 'simpleRNN';

/**
 * How a gallery entry opens the viewer. `layer` is an index into the model's layers here (0: the
 * returnSequences layer, 1: the last-step layer); the run's metadata carries the layer's name instead.
 */
export interface GalleryView {
  view: '0d' | '1d' | '2d' | 'flow';
  layer: number | string;
  kind: Kind;
  iterations: number[];
  /** One sample only (1D), else all samples. */
  sample?: number;
  /** Manual symmetric colour norm (-norm, norm); auto when absent. */
  norm?: number;
  rows?: number;
  reflectHalf?: boolean;
  /** For weights: which part, e.g. 'forward/kernel/i'. */
  part?: string;
}

export interface GalleryEntry {
  id: string;
  title: string;
  /** What the figure shows and what to look for in it. */
  lookFor: string;
  view: GalleryView;
}

export interface DemoRun {
  name: string;
  cell: Cell;
  units: number;
  bidirectional: boolean;
  capture: Kind[];
  gallery: GalleryEntry[];
}

export interface DemoSize {
  name: 'tiny' | 'default' | 'full';
  timesteps: number;
  samples: number;
  /** Units of the 6-unit See RNN examples (EX1–3, 6, 8). */
  small: number;
  /** Units of the "many units" examples (EX4, EX5, EX7). */
  wide: number;
  /** Units per direction of the bidirectional LSTM of EX9. */
  weights: number;
  iterations: number;
  /** Record every N iterations besides 20, 200 and 400. */
  every: number;
  /** Fresh training data every N iterations, as in See RNN. */
  freshEvery: number;
}

/**
 * Sizes. tfjs's pure-JS RNNs are bound by per-op overhead: a training step costs about 4 ms per timestep
 * per layer on the wasm backend here, whatever the unit count up to ~32, so the default demo shortens the
 * sequences rather than the training; `full` is the See RNN README's configuration.
 */
export const SIZES: Record<DemoSize['name'], DemoSize> = {
  tiny: {
    name: 'tiny',
    timesteps: 6,
    samples: 4,
    small: 3,
    wide: 4,
    weights: 2,
    iterations: 400,
    every: 100,
    freshEvery: 40,
  },
  default: {
    name: 'default',
    timesteps: 25,
    samples: 16,
    small: 6,
    wide: 16,
    weights: 4,
    iterations: 400,
    every: 20,
    freshEvery: 40,
  },
  full: {
    name: 'full',
    timesteps: 100,
    samples: 16,
    small: 6,
    wide: 256,
    weights: 16,
    iterations: 400,
    every: 20,
    freshEvery: 40,
  },
};

export function demoRuns(size: DemoSize): DemoRun[] {
  const { small, wide } = size;
  const T = size.timesteps;
  return [
    {
      name: `ex1-lstm${small}`,
      cell: 'lstm',
      units: small,
      bidirectional: false,
      capture: ['output-grad', 'output'],
      gallery: [
        {
          id: 'EX1',
          title: `One sample, uni-LSTM, ${small} units, 20 iterations (1D)`,
          lookFor:
            'Each panel is one channel: the gradient reaching the layer output at each timestep. It is largest at the last timesteps and fades going back in time — the network reads right to left and has not yet learned to use early timesteps.',
          view: { view: '1d', layer: 0, kind: 'output-grad', iterations: [20], sample: 0 },
        },
        {
          id: 'EX2',
          title: `All ${size.samples} samples, 20 iterations (1D and 2D)`,
          lookFor:
            'Every sample shows the same picture: gradient concentrated in the last few timesteps and near zero further back. In 2D (channels × timesteps per sample) this is a thin band of colour at the right edge.',
          view: { view: '2d', layer: 0, kind: 'output-grad', iterations: [20], rows: 4 },
        },
        {
          id: 'EX3',
          title: `All samples, 20 vs 200 vs 400 iterations`,
          lookFor:
            'Side by side on one colour scale: with training the band widens to the left — gradients reach further back, so the layer is learning longer-term dependencies. Compare the gradient-flow view for the memory horizon.',
          view: {
            view: '2d',
            layer: 0,
            kind: 'output-grad',
            iterations: [20, 200, 400],
            rows: 4,
          },
        },
        {
          id: 'EX6',
          title: 'returnSequences false (0D), 200 iterations',
          lookFor:
            'The last-step layer has one gradient per sample and channel (though derived from all timesteps). Channels are colour-graded; points far from the zero line mark the samples the loss pulls on hardest.',
          view: { view: '0d', layer: 1, kind: 'output-grad', iterations: [200] },
        },
        {
          id: 'EX8',
          title: `LSTM activations at 20 and 400 iterations`,
          lookFor:
            'The layer outputs themselves (tanh-bounded, in (−1, 1)). Saturated channels (deep red/blue everywhere) carry little gradient; compare with the gradients of EX3.',
          view: { view: '2d', layer: 0, kind: 'output', iterations: [20, 400], rows: 4 },
        },
      ],
    },
    {
      name: `ex4-lstm${wide}`,
      cell: 'lstm',
      units: wide,
      bidirectional: false,
      capture: ['output-grad'],
      gallery: [
        {
          id: 'EX4',
          title: `Uni-LSTM, ${wide} units, 200 iterations: 2D vs 1D`,
          lookFor: `With many channels the 1D view becomes a tangle; the 2D view of one sample (channels × ${T} timesteps) shows at a glance which channels carry gradient how far back. The norm is smaller than with 6 units: the same loss gradient is spread over more units.`,
          view: { view: '2d', layer: 0, kind: 'output-grad', iterations: [200], sample: 0 },
        },
        {
          id: 'EX7a',
          title: `LSTM, ${wide} units (EX7: LSTM vs GRU vs SimpleRNN)`,
          lookFor:
            'Compare with the GRU and SimpleRNN runs trained with the same settings: the gradient flow view shows how far back each cell type carries gradient.',
          view: { view: 'flow', layer: 0, kind: 'output-grad', iterations: [20, 200, 400] },
        },
      ],
    },
    {
      name: `ex5-bigru${wide}`,
      cell: 'gru',
      units: wide,
      bidirectional: true,
      capture: ['output-grad'],
      gallery: [
        {
          id: 'EX5',
          title: `Bidirectional GRU, ${wide} units per direction, 400 iterations (reflect_half)`,
          lookFor:
            'Top half: the forward direction, bottom half: the backward one (drawn mirrored), both in input time order. Both halves feed the next GRU, which reads left to right, so the gradient reaching either half is strongest near the end of the sequence; where the halves differ shows how the next layer uses each direction.',
          view: {
            view: '2d',
            layer: 0,
            kind: 'output-grad',
            iterations: [400],
            sample: 0,
            reflectHalf: true,
          },
        },
      ],
    },
    {
      name: `ex7-gru${wide}`,
      cell: 'gru',
      units: wide,
      bidirectional: false,
      capture: ['output-grad'],
      gallery: [
        {
          id: 'EX7b',
          title: `GRU, ${wide} units (EX7)`,
          lookFor: 'Same task and settings as the LSTM and SimpleRNN runs.',
          view: { view: 'flow', layer: 0, kind: 'output-grad', iterations: [20, 200, 400] },
        },
      ],
    },
    {
      name: `ex7-simplernn${wide}`,
      cell: 'simpleRNN',
      units: wide,
      bidirectional: false,
      capture: ['output-grad'],
      gallery: [
        {
          id: 'EX7c',
          title: `SimpleRNN, ${wide} units (EX7)`,
          lookFor:
            'The plain RNN has no gates: its gradient typically dies within a few timesteps — the classic vanishing gradient, visible as a short memory horizon.',
          view: { view: 'flow', layer: 0, kind: 'output-grad', iterations: [20, 200, 400] },
        },
      ],
    },
    {
      name: `ex9-bilstm${size.weights}-weights`,
      cell: 'lstm',
      units: size.weights,
      bidirectional: true,
      capture: ['output-grad', 'weight', 'weight-grad'],
      gallery: [
        {
          id: 'EX9',
          title: `Bidirectional LSTM weights per gate (${size.weights} units per direction)`,
          lookFor:
            'Kernel, recurrent kernel and bias of each direction split into the input, forget, cell and output gates. The non-finite detector counts NaN/Inf in every snapshot and flags the run when weights or gradients blow up.',
          view: { view: '2d', layer: 0, kind: 'weight', iterations: [20, 400], part: 'forward/kernel/f' },
        },
      ],
    },
  ];
}
