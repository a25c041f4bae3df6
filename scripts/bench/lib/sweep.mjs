// A synthetic sweep written into a store, cheaply: cells × learning rates × units × seeds, one recurrent layer
// per run with its jacobian and input-grad at a few iterations (norms decaying back in time as exp(−lag / τ)),
// the probe loss at each capture, the constant predictor's baseline and a training loss every 10 steps. The
// outcome of each run is chosen here (learning-long, learning-short, not-learning) so that a table of 1,000
// of them has every verdict; `sweepRun(i)` says what run i is, for tests that compute their expectations.

export const SWEEP_CELLS = ['LSTM', 'GRU', 'SimpleRNN'];
export const SWEEP_LRS = [0.001, 0.003, 0.01, 0.03];
export const SWEEP_UNITS = [8, 16, 32];
/** Configurations before the seed: cells × learning rates × units. */
export const SWEEP_CONFIGS = SWEEP_CELLS.length * SWEEP_LRS.length * SWEEP_UNITS.length;
export const SWEEP_BASELINE = 0.25;
export const SWEEP_T = 20;
export const SWEEP_ITERATIONS = [0, 100, 200];
/** The training loss is recorded every this many steps, from 0 to the last iteration. */
export const SWEEP_LOSS_EVERY = 10;
const T0 = 1_764_379_200_000;

/** A deterministic number in [0, 1) for (i, salt). */
function unit(i, salt) {
  let x = (Math.imul(i + 1, 2654435761) ^ Math.imul(salt + 7, 40503)) >>> 0 || 1;
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  return (x >>> 0) / 4294967296;
}

/**
 * Run i of the sweep: its id, name, group, params, the decay τ of its gradients at the last iteration and its
 * loss ÷ baseline at each iteration (the verdict follows: ≤ 0.5 and τ ≥ 5 long, ≤ 0.5 and τ small short).
 */
export function sweepRun(i) {
  const config = i % SWEEP_CONFIGS;
  const seed = Math.floor(i / SWEEP_CONFIGS);
  const cell = SWEEP_CELLS[config % SWEEP_CELLS.length];
  const lr = SWEEP_LRS[Math.floor(config / SWEEP_CELLS.length) % SWEEP_LRS.length];
  const units = SWEEP_UNITS[Math.floor(config / (SWEEP_CELLS.length * SWEEP_LRS.length))];
  const jitter = unit(i, 1);
  // Gated cells learn long at lr ≤ 0.01; at 0.03 they diverge. A SimpleRNN learns short at one seed in two.
  const gated = cell !== 'SimpleRNN';
  const learns = gated ? lr <= 0.01 : unit(i, 2) < 0.5 && lr <= 0.01;
  const tau = gated && learns ? 6 + 10 * jitter : 1.2 + 0.6 * jitter;
  const finalRatio = learns
    ? gated
      ? 0.01 + 0.2 * jitter * lr * 30
      : 0.2 + 0.2 * jitter
    : 0.9 + 0.4 * jitter;
  const ratioAt = (it) => {
    const last = SWEEP_ITERATIONS.at(-1);
    return 1 + (finalRatio - 1) * (it / last);
  };
  const name = `${cell.toLowerCase()}-lr${lr}-u${units}-s${seed}`;
  return {
    id: `sweep-${String(i).padStart(4, '0')}`,
    name,
    group: `${cell} lr=${lr} u=${units}`,
    params: {
      cell,
      units,
      lr,
      seed,
      optimizer: 'Adam',
      batchSize: 32,
      epochs: 10,
      loss: 'meanSquaredError',
      timesteps: SWEEP_T,
    },
    layer: cell === 'SimpleRNN' ? 'simple_rnn' : cell.toLowerCase(),
    cell,
    tau,
    ratioAt,
    /** The training loss at a step (noisy around the probe loss). */
    lossAt: (it) => SWEEP_BASELINE * ratioAt(it) * (1 + 0.1 * Math.sin(it * 1.7 + i)),
    startedAt: T0 + i * 1000,
  };
}

/** The gradient norm profile of run r at an iteration: exp(−lag / τ(it)), τ growing to r.tau over training. */
export function sweepValue(r, kind, it, t, c) {
  const last = SWEEP_ITERATIONS.at(-1);
  const tau = 1 + (r.tau - 1) * (it / last);
  const lag = SWEEP_T - 1 - t;
  return (kind === 'input-grad' ? 0.5 : 1) * (c + 1) * 1e-2 * Math.exp(-lag / tau);
}

/** The RunInfo of run r (its model: one recurrent layer and a Dense head). */
export function sweepRunInfo(r) {
  return {
    id: r.id,
    name: r.name,
    startedAt: r.startedAt,
    group: r.group,
    params: r.params,
    model: {
      name: `${r.name}-model`,
      className: 'Sequential',
      layers: [
        {
          index: 0,
          name: r.layer,
          className: r.cell,
          units: r.params.units,
          returnSequences: true,
          outputShape: [null, SWEEP_T, 2],
          captured: true,
        },
        { index: 1, name: 'dense', className: 'Dense', outputShape: [null, 1], captured: false },
      ],
      inputShape: [[null, SWEEP_T, 1]],
      outputShape: [[null, 1]],
      losses: ['meanSquaredError'],
      optimizer: 'Adam',
    },
    options: { mode: 'probe', every: 100, capture: ['jacobian', 'input-grad'], layers: [r.layer] },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'sweep',
  };
}

/** Writes run r's captures (jacobian and input-grad at every iteration), its baseline and its training loss. */
export async function writeSweepRun(store, r) {
  for (const it of SWEEP_ITERATIONS)
    for (const kind of ['jacobian', 'input-grad']) {
      const data = new Float32Array(SWEEP_T * 2);
      for (let t = 0; t < SWEEP_T; t++)
        for (let c = 0; c < 2; c++) data[t * 2 + c] = sweepValue(r, kind, it, t, c);
      await store.write({
        run: r.id,
        iteration: it,
        epoch: 0,
        batch: it,
        layer: r.layer,
        layerClass: r.cell,
        kind,
        shape: [1, SWEEP_T, 2],
        dims: ['sample', 'timestep', 'channel'],
        data,
        loss: SWEEP_BASELINE * r.ratioAt(it),
        time: r.startedAt + it,
        nonFinite: 0,
      });
    }
  const points = [{ iteration: 0, name: 'probe/baseline', value: SWEEP_BASELINE, time: r.startedAt }];
  for (let it = 0; it <= SWEEP_ITERATIONS.at(-1); it += SWEEP_LOSS_EVERY)
    points.push({ iteration: it, name: 'loss', value: r.lossAt(it), time: r.startedAt + it });
  await store.writeScalars(r.id, points);
}

/**
 * Writes runs 0 … n−1 of the sweep into `store` (an open @gradscope/store Store); the last `running` of them
 * are left running. Returns sweepRun(i) of each.
 */
export async function writeSweep(store, n, { running = 0 } = {}) {
  const runs = [];
  for (let i = 0; i < n; i++) {
    const r = sweepRun(i);
    runs.push(r);
    await store.startRun(sweepRunInfo(r));
    await writeSweepRun(store, r);
    if (i < n - running) await store.endRun(r.id, 'finished');
  }
  await store.flush();
  return runs;
}
