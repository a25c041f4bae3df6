// The `jacobian` kind against independent computations: central finite differences of v · h_T through the
// layer's own sub-model (the projection is exact), and the exact Jacobian built from unit vectors (the
// estimate of E‖∂h_T/∂x_t‖²_F is within the error the module states).
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { probePass, toSnapshots } from './capture.js';
import { getLayerGradients, type Kind, type Snapshot } from './index.js';
import { JACOBIAN_SEED, jacobianDirections, rademacher } from './jacobian.js';
import { makeTarget } from './layers.js';
import { jacobianProjection, randn, relativeError, seeded } from './test-util/reference.js';

const N = 3;
const T = 5;
const F = 2;
const U = 3;
const EPS = 1e-2;
// Central differences of float32 forward passes with eps 1e-2 agree with the analytic projection to ~1e-4
// relative; 1e-2 leaves room for float32 noise and O(eps²) truncation (as capture.test.ts).
const TOLERANCE = 1e-2;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Make = (args: Record<string, unknown>) => tf.layers.Layer;
const cells: [string, Make][] = [
  ['SimpleRNN', (a) => tf.layers.simpleRNN(a as never)],
  ['LSTM', (a) => tf.layers.lstm(a as never)],
  ['GRU', (a) => tf.layers.gru(a as never)],
];

/** input → [rnn rs=true →] layer → dense; `layer` is the one measured. */
function model(layer: tf.layers.Layer, below?: tf.layers.Layer) {
  const input = tf.input({ shape: [T, F] });
  const x = below ? (below.apply(input) as tf.SymbolicTensor) : input;
  const h = layer.apply(x) as tf.SymbolicTensor;
  const flat = h.shape.length === 3 ? (tf.layers.flatten().apply(h) as tf.SymbolicTensor) : h;
  const out = tf.layers
    .dense({ units: 1, kernelInitializer: tf.initializers.glorotNormal({ seed: 3 }) })
    .apply(flat) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  m.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  return { m, x, h };
}

/** The state after the last processing step of each direction, read from the layer's own output. */
function lastStates(h: tf.Tensor, returnSequences: boolean, bidirectional: boolean): tf.Tensor[] {
  return tf.tidy(() => {
    const width = h.shape.at(-1)!;
    const whole = (from: number, size: number, step: number) =>
      returnSequences
        ? tf.squeeze(tf.slice(h, [0, step, from], [-1, 1, size]), [1])
        : tf.slice(h, [0, from], [-1, size]);
    if (!bidirectional) return [whole(0, width, T - 1)];
    // Bidirectional (concat) returns the backward half in input time order: its last state is at step 0.
    return [whole(0, width / 2, T - 1), whole(width / 2, width / 2, 0)];
  });
}

/** Central differences of v_s · h_T(x) (float64 sums of float32 states) w.r.t. every x[s, t, f]. */
function fdProjection(
  stateModel: tf.LayersModel,
  input: tf.Tensor,
  v: tf.Tensor[],
  returnSequences: boolean,
  bidirectional: boolean,
): Float64Array[] {
  const xs = input.arraySync() as number[][][];
  const vs = v.map((t) => t.arraySync() as number[][]);
  const objective = (xv: number[][][], s: number): number[] => {
    const h = stateModel.predict(tf.tensor3d(xv)) as tf.Tensor;
    const states = lastStates(h, returnSequences, bidirectional).map((t) => t.arraySync() as number[][]);
    return states.map((st, d) => st[s]!.reduce((acc, hv, k) => acc + hv * vs[d]![s]![k]!, 0));
  };
  const out = v.map(() => new Float64Array(N * T * F));
  for (let s = 0; s < N; s++)
    for (let t = 0; t < T; t++)
      for (let f = 0; f < F; f++) {
        const plus = structuredClone(xs);
        const minus = structuredClone(xs);
        plus[s]![t]![f]! += EPS;
        minus[s]![t]![f]! -= EPS;
        const [p, q] = [objective(plus, s), objective(minus, s)];
        for (let d = 0; d < v.length; d++) out[d]![(s * T + t) * F + f] = (p[d]! - q[d]!) / (2 * EPS);
      }
  return out;
}

describe.each(cells)('jacobian of %s equals central differences of v · h_T', (_name, make) => {
  for (const returnSequences of [false, true]) {
    it(`returnSequences ${returnSequences}`, async () => {
      const layer = make({ units: U, returnSequences, ...seeded(11) });
      const { m, h } = model(layer);
      const x = randn([N, T, F], 5);
      const [snapshot, ...rest] = await getLayerGradients(m, {
        x,
        y: tf.zeros([N, 1]),
        layer: layer.name,
        kind: 'jacobian',
      });
      expect(rest).toHaveLength(0);
      expect(snapshot!.kind).toBe('jacobian');
      expect(snapshot!.shape).toEqual([N, T, F]);
      expect(snapshot!.dims).toEqual(['sample', 'timestep', 'channel']);
      const v = rademacher([N, U], JACOBIAN_SEED);
      const fd = fdProjection(tf.model({ inputs: m.inputs, outputs: h }), x, [v], returnSequences, false);
      expect(relativeError(snapshot!.data, fd[0]!)).toBeLessThan(TOLERANCE);
      // The projection is of the last state: it reaches back to t = 0 with a non-zero gradient.
      expect(Math.abs(snapshot!.data[0]!)).toBeGreaterThan(0);
    });
  }
});

describe('jacobian of a Bidirectional layer', () => {
  for (const returnSequences of [false, true]) {
    it(`one part per direction, each from its own last state, in input time order (returnSequences ${returnSequences})`, async () => {
      const layer = tf.layers.bidirectional({
        layer: tf.layers.gru({ units: U, returnSequences, ...seeded(21) }) as never,
        mergeMode: 'concat',
      });
      const { m, h } = model(layer);
      const x = randn([N, T, F], 6);
      const snapshots = await getLayerGradients(m, {
        x,
        y: tf.zeros([N, 1]),
        layer: layer.name,
        kind: 'jacobian',
      });
      expect(snapshots.map((s) => s.part)).toEqual(['forward', 'backward']);
      const v = [rademacher([N, U], JACOBIAN_SEED), rademacher([N, U], JACOBIAN_SEED + 1)];
      const fd = fdProjection(tf.model({ inputs: m.inputs, outputs: h }), x, v, returnSequences, true);
      expect(relativeError(snapshots[0]!.data, fd[0]!)).toBeLessThan(TOLERANCE);
      expect(relativeError(snapshots[1]!.data, fd[1]!)).toBeLessThan(TOLERANCE);
    });
  }
});

describe('jacobian of a stacked layer', () => {
  it('is of the upper layer w.r.t. its own input (the lower layer output), not the model input', async () => {
    const below = tf.layers.lstm({ units: 4, returnSequences: true, ...seeded(31) });
    const layer = tf.layers.simpleRNN({ units: U, ...seeded(33) });
    const { m, x: layerInput, h } = model(layer, below);
    const x = randn([N, T, F], 7);
    const [snapshot] = await getLayerGradients(m, {
      x,
      y: tf.zeros([N, 1]),
      layer: layer.name,
      kind: 'jacobian',
    });
    expect(snapshot!.shape).toEqual([N, T, 4]);
    // Independent: feed the lower layer's output into the upper layer alone and difference that.
    const lowerOut = tf
      .model({ inputs: m.inputs, outputs: layerInput as tf.SymbolicTensor })
      .predict(x) as tf.Tensor;
    const upperInput = tf.input({ shape: [T, 4] });
    const upper = tf.model({ inputs: upperInput, outputs: layer.apply(upperInput) as tf.SymbolicTensor });
    const v = rademacher([N, U], JACOBIAN_SEED);
    const xs = lowerOut.arraySync() as number[][][];
    const vs = v.arraySync() as number[][];
    const fd = new Float64Array(N * T * 4);
    for (let s = 0; s < N; s++)
      for (let t = 0; t < T; t++)
        for (let c = 0; c < 4; c++) {
          const at = (delta: number) => {
            const moved = structuredClone(xs);
            moved[s]![t]![c]! += delta;
            const hT = (upper.predict(tf.tensor3d(moved)) as tf.Tensor).arraySync() as number[][];
            return hT[s]!.reduce((acc, hv, k) => acc + hv * vs[s]![k]!, 0);
          };
          fd[(s * T + t) * 4 + c] = (at(EPS) - at(-EPS)) / (2 * EPS);
        }
    expect(relativeError(snapshot!.data, fd)).toBeLessThan(TOLERANCE);
    expect(h).toBeDefined();
  });
});

describe('the estimate of E‖∂h_T/∂x_t‖²_F', () => {
  it('is within the stated error of the exact Jacobian built from unit vectors', () => {
    const n = 400;
    const layer = tf.layers.simpleRNN({ units: U, ...seeded(41) });
    const { m } = model(layer);
    const one = randn([1, T, F], 8);
    const x = tf.tile(one, [n, 1, 1]);
    const target = makeTarget(m.getLayer(layer.name));
    const [direction] = jacobianDirections(target);
    // Exact: row k of J_t is the projection on the unit vector e_k.
    const rows = Array.from({ length: U }, (_, k) => {
      const e = tf.oneHot(tf.tensor1d([k], 'int32'), U).toFloat();
      return jacobianProjection(direction!, one, 0, e).arraySync() as number[][][];
    });
    const estimate = jacobianProjection(direction!, x, JACOBIAN_SEED).arraySync() as number[][][];
    for (let t = 0; t < T; t++) {
      // J_t is U × F; A = J_t J_tᵀ.
      const J = rows.map((r) => r[0]![t]!);
      const A = J.map((ri) => J.map((rj) => ri.reduce((acc, v, f) => acc + v * rj[f]!, 0)));
      const exact = A.reduce((acc, row, i) => acc + row[i]!, 0);
      let offDiagonal = 0;
      for (let i = 0; i < U; i++) for (let j = 0; j < U; j++) if (i !== j) offDiagonal += A[i]![j]! ** 2;
      // Rademacher: Var(vᵀAv) = 2 Σ_{i≠j} A_ij²; the mean of n draws has a standard error √(that / n).
      const standardError = Math.sqrt((2 * offDiagonal) / n);
      const mean = estimate.reduce((acc, sample) => acc + sample[t]!.reduce((a, g) => a + g * g, 0), 0) / n;
      expect(Math.abs(mean - exact)).toBeLessThan(4 * standardError + 1e-6 * exact);
      // The stated bound: the relative standard error is at most √(2/n).
      expect(standardError / exact).toBeLessThanOrEqual(Math.sqrt(2 / n));
    }
  });
});

/** ‖got − want‖ / ‖want‖ over the snapshot's values. */
function relativeL2(got: Snapshot, want: Snapshot): number {
  let err = 0;
  let norm = 0;
  for (let i = 0; i < got.data.length; i++) {
    err += (got.data[i]! - want.data[i]!) ** 2;
    norm += want.data[i]! ** 2;
  }
  return Math.sqrt(err / Math.max(norm, 1e-30));
}

describe('the joint probe pass (loss and jacobian in one backward pass of the doubled probe)', () => {
  const models: [string, () => { m: tf.LayersModel; names: string[] }][] = [
    [
      'stacked LSTM → GRU',
      () => {
        const a = tf.layers.lstm({ units: 4, returnSequences: true, ...seeded(51) });
        const b = tf.layers.gru({ units: U, ...seeded(53) });
        const { m } = model(b, a);
        return { m, names: [a.name, b.name] };
      },
    ],
    [
      "Bidirectional 'sum' (one output per direction) over a goBackwards SimpleRNN",
      () => {
        const a = tf.layers.simpleRNN({ units: 4, returnSequences: true, goBackwards: true, ...seeded(61) });
        const b = tf.layers.bidirectional({
          layer: tf.layers.lstm({ units: U, returnSequences: true, ...seeded(63) }) as never,
          mergeMode: 'sum',
        });
        const { m } = model(b, a);
        return { m, names: [a.name, b.name] };
      },
    ],
    [
      "Bidirectional 'concat' returning sequences",
      () => {
        const b = tf.layers.bidirectional({
          layer: tf.layers.gru({ units: U, returnSequences: true, ...seeded(71) }) as never,
          mergeMode: 'concat',
        });
        const { m } = model(b);
        return { m, names: [b.name] };
      },
    ],
  ];

  it.each(models)('%s: every kind equals the separate passes', async (_name, make) => {
    const { m, names } = make();
    const targets = names.map((name) => makeTarget(m.getLayer(name)));
    const x = randn([N, T, F], 9);
    const y = randn([N, 1], 10);
    const stamp = { run: 'r', iteration: 0, epoch: 0, batch: 0, time: 0 };
    const snapshots = async (kinds: Kind[]) =>
      toSnapshots(targets, probePass(m, targets, { x, y }, new Set(kinds)), new Set(kinds), stamp);
    const joint = await snapshots(['output-grad', 'output', 'input-grad', 'jacobian']);
    // The plain probe pass for the loss kinds; each layer's direction differentiated on its own at the layer's
    // input (read through a sub-model) for the jacobian.
    const plain = await snapshots(['output-grad', 'output', 'input-grad']);
    const separate = targets.flatMap((target, k) => {
      const layer = m.getLayer(target.name);
      const input = layer.input as tf.SymbolicTensor;
      const at =
        input === m.inputs[0] ? x : (tf.model({ inputs: m.inputs, outputs: input }).predict(x) as tf.Tensor);
      return jacobianDirections(target).map((direction, d) => {
        const g = jacobianProjection(direction, at, JACOBIAN_SEED + 2 * k + d);
        return {
          layer: target.name,
          kind: 'jacobian',
          part: direction.part,
          shape: g.shape,
          data: g.dataSync() as Float32Array,
          loss: plain[0]!.loss,
        } as Snapshot;
      });
    });
    const key = (s: Snapshot) => `${s.layer}/${s.kind}/${s.part ?? ''}`;
    const want = new Map([...plain, ...separate].map((s) => [key(s), s]));
    // With weight-grad the jacobian has a pass of its own: the same values.
    const withWeights = (await snapshots(['jacobian', 'weight-grad'])).filter((s) => s.kind === 'jacobian');
    expect(withWeights.map(key)).toEqual(joint.filter((s) => s.kind === 'jacobian').map(key));
    for (const s of withWeights) expect(relativeL2(s, want.get(key(s))!), key(s)).toBeLessThan(1e-5);
    expect(joint.map(key).sort()).toEqual([...want.keys()].sort());
    expect(joint.filter((s) => s.kind === 'jacobian').length).toBeGreaterThanOrEqual(names.length);
    for (const s of joint) {
      const w = want.get(key(s))!;
      expect(s.shape, key(s)).toEqual(w.shape);
      expect(s.loss).toBeCloseTo(w.loss, 6);
      expect(relativeL2(s, w), key(s)).toBeLessThan(1e-5);
    }
  });
});
