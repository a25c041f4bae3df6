// The labelled benchmark: trains the full-size runs of apps/demo/src/labelled (delayed recall at known lags;
// truth = the lag and the measured outcome, never the cell) into one store, diagnoses every run with the
// store's diagnoseReader, and reports the confusion table (truth × verdict) and one line per run; also the
// cost of the new default capture's probe pass ÷ the old default's. The store is kept at
// bench-results/labelled.gradscope (open it with `gradscope serve` or `gradscope doctor`).
// Run alone: pnpm bench --only diagnosis [--write], or node scripts/bench/diagnosis.mjs [--quick | --tiny]
// [--runs=a,b] [--no-cost] [--report-only: diagnose the store of the last run again, without training].
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FULL_RUNS,
  LEARNED_BELOW,
  NOT_LEARNED_ABOVE,
  TINY_RUNS,
  trainLabelled,
  truthOf,
} from '../../apps/demo/dist/labelled/runs.js';
import { gradientCallback, MemorySink } from '../../packages/capture/dist/index.js';
import * as store from '../../packages/store/dist/index.js';
import { median } from './lib/numbers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const VERDICTS = ['learning-long', 'learning-short', 'not-learning', 'insufficient-data'];
const LAGS = [0, 1, 2, 4, 8, 16, 32];

const fmt = (v, digits = 2) =>
  v === null || v === undefined
    ? '–'
    : typeof v !== 'number'
      ? String(v)
      : !Number.isFinite(v)
        ? String(v)
        : v !== 0 && (Math.abs(v) >= 1000 || Math.abs(v) < 0.01)
          ? v.toExponential(1)
          : Number(v.toFixed(digits)).toString();

/**
 * Per-timestep norm of `kind` at the run's last captured iteration, as decades below its peak at lags
 * 0, 1, 2, 4, 8, 16, 32 and T − 1 (lag counted back from the last timestep). One entry per part for a
 * bidirectional layer (forward: lag from T − 1; backward: lag from 0, its own last step).
 */
export function decayProfile(reader, runId, info, kind) {
  const parts = info.kinds[kind];
  if (parts === undefined) return null;
  const out = [];
  let lags = null;
  let iteration = null;
  for (const part of parts) {
    const flow = reader.flowMatrix({ run: runId, layer: info.layer, kind, part }, { maxRows: 1000 });
    const T = flow.timesteps;
    const row = flow.iterations.length - 1;
    if (row < 0) continue;
    lags = [...LAGS.filter((l) => l < T - 1), T - 1];
    iteration = flow.iterations[row];
    const r = Array.from(flow.norms.subarray(row * T, (row + 1) * T));
    const peak = Math.max(...r.filter(Number.isFinite));
    const decades = lags.map((l) => {
      const v = r[part === 'backward' ? l : T - 1 - l];
      if (!Number.isFinite(v) || !(peak > 0)) return null;
      return v > 0 ? Math.log10(peak / v) : Number.POSITIVE_INFINITY;
    });
    out.push({ part, decades });
  }
  return out.length === 0 ? null : { iteration, lags, parts: out };
}

const profileText = (p) =>
  p === null
    ? '–'
    : p.parts
        .map(
          (q) =>
            `${q.part ? `${q.part[0]}: ` : ''}${q.decades.map((d) => (d === null ? '·' : d === Number.POSITIVE_INFINITY ? '∞' : fmt(d, 1))).join(' ')}`,
        )
        .join('; ');

const NEW_DEFAULT = ['output-grad', 'input-grad', 'jacobian'];
const OLD_DEFAULT = ['output-grad'];

/**
 * The cost of the new default capture ÷ the old default's, per capture: the callback's wait on a due step
 * (the probe pass, its read-back, the hand-off to a MemorySink), every step due; fit's own steps are not
 * counted. On one LSTM-64 over the capture bench's 16×100×8 probe, last step only (the most common model,
 * where the old default's output-grad needs no backpropagation through time) and returning sequences; and
 * on the last-step model, input-grad and jacobian each added alone, to say where the cost is.
 */
export async function captureCost({ quick, log }) {
  const [n, steps, features, units] = quick ? [8, 30, 8, 16] : [16, 100, 8, 64];
  const x = tf.randomNormal([n, steps, features], 0, 1, 'float32', 4);
  const build = (returnSequences) => {
    const model = tf.sequential();
    model.add(
      tf.layers.lstm({
        units,
        returnSequences,
        inputShape: [steps, features],
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
        recurrentInitializer: tf.initializers.glorotUniform({ seed: 2 }),
      }),
    );
    model.add(tf.layers.dense({ units: 1, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
    const y = tf.randomNormal(returnSequences ? [n, steps, 1] : [n, 1], 0, 1, 'float32', 5);
    return { model, y };
  };
  const captures = quick ? 3 : 5;
  const timeCaptures = async ({ model, y }, kinds) => {
    const cb = gradientCallback({
      every: 1,
      probe: { x, y },
      capture: kinds,
      sink: new MemorySink(),
      scalars: false,
      ...quietOption,
    });
    let spent = 0;
    const onBatchEnd = cb.onBatchEnd.bind(cb);
    cb.onBatchEnd = async (batch, logs) => {
      const t0 = performance.now();
      await onBatchEnd(batch, logs);
      spent += performance.now() - t0;
    };
    await model.fit(x, y, { epochs: captures, batchSize: n, shuffle: false, verbose: 0, callbacks: [cb] });
    return spent / captures;
  };
  const last = build(false);
  const seq = build(true);
  const work = {
    old: [last, OLD_DEFAULT],
    new: [last, NEW_DEFAULT],
    inputGrad: [last, ['output-grad', 'input-grad']],
    jacobian: [last, ['output-grad', 'jacobian']],
    seqOld: [seq, OLD_DEFAULT],
    seqNew: [seq, NEW_DEFAULT],
  };
  for (const [m, kinds] of Object.values(work)) await timeCaptures(m, kinds); // warm-up
  const reps = quick ? 2 : 5;
  const ms = Object.fromEntries(Object.keys(work).map((k) => [k, []]));
  const keys = Object.keys(work);
  // Interleaved, the order rotated each repetition.
  for (let i = 0; i < reps; i++)
    for (let j = 0; j < keys.length; j++) {
      const k = keys[(i + j) % keys.length];
      ms[k].push(await timeCaptures(...work[k]));
    }
  tf.dispose([x, last.y, seq.y]);
  last.model.dispose();
  seq.model.dispose();
  const shape = `${n}×${steps}×${features} probe, LSTM-${units}`;
  const row = (metric, a, b, aim, model) => {
    const r = ms[a].map((v, i) => v / ms[b][i]);
    log(`${metric}: ${median(r).toFixed(2)} (${median(ms[a]).toFixed(0)} vs ${median(ms[b]).toFixed(0)} ms)`);
    return {
      suite: 'diagnosis',
      metric,
      value: median(r),
      unit: 'ratio',
      aim,
      note: `${shape} ${model} → Dense(1), wasm; the callback's wait per capture (probe pass, read-back, MemorySink), mean of ${captures} a fit, median of ${reps} interleaved repetitions, range ${Math.min(...r).toFixed(2)}–${Math.max(...r).toFixed(2)}; ${median(ms[a]).toFixed(0)} vs ${median(ms[b]).toFixed(0)} ms`,
    };
  };
  return [
    row(
      "capture of the new default ['output-grad','input-grad','jacobian'] ÷ the old ['output-grad'], last-step model",
      'new',
      'old',
      '≤ 1.5',
      '(last step only)',
    ),
    row(
      "capture of ['output-grad','input-grad'] ÷ ['output-grad'], last-step model",
      'inputGrad',
      'old',
      'report',
      '(last step only)',
    ),
    row(
      "capture of ['output-grad','jacobian'] ÷ ['output-grad'], last-step model",
      'jacobian',
      'old',
      'report',
      '(last step only)',
    ),
    row(
      'capture of the new default ÷ the old, sequence model',
      'seqNew',
      'seqOld',
      '≤ 1.5',
      '(returnSequences: true)',
    ),
  ];
}

/** The callback prints its diagnosis when fit ends: silenced here (the bench prints its own tables). */
const quietOption = { verbose: 0 };

export async function run({
  quick = false,
  log = () => {},
  runs: only,
  tiny = false,
  cost = true,
  train = true,
} = {}) {
  await tf.setBackend('wasm');
  await tf.ready();
  const rows = [];
  if (cost) rows.push(...(await captureCost({ quick, log })));

  const runs = (tiny ? TINY_RUNS : FULL_RUNS).filter((r) => !only || only.includes(r.name));
  const dir = join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = join(
    dir,
    tiny ? 'labelled-tiny.gradscope' : quick ? 'labelled-quick.gradscope' : 'labelled.gradscope',
  );
  if (train) {
    for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
    const sink = await store.openStore(file);
    try {
      for (const r of runs) {
        const spec = quick ? { ...r, steps: Math.min(r.steps, 60), every: 30 } : r;
        const result = await trainLabelled(spec, sink, quietOption);
        log(
          `${r.name}: ratio ${fmt(result.initialRatio)} → ${fmt(result.ratio, 3)} (${result.truth}), ${(result.ms / 1000).toFixed(0)} s, load ${loadavg()[0].toFixed(1)}`,
        );
      }
    } finally {
      await sink.close();
    }
  }
  const { lines, trainSeconds } = await reportFrom(file);
  return {
    rows: [...rows, ...summaryRows(lines, trainSeconds)],
    section: section(lines, trainSeconds),
    lines,
  };
}

/** One line per labelled run and recurrent layer of the store: its truth (from its meta) and diagnosis. */
export async function reportFrom(file) {
  const reader = store.openReader(file);
  try {
    const runs = reader
      .listRuns()
      .filter((r) => r.meta?.labelled?.set === 'labelled' && r.meta.labelled.truth !== undefined)
      .sort((a, b) => a.startedAt - b.startedAt);
    const diagnosis = await store.diagnoseReader(
      reader,
      runs.map((r) => r.id),
    );
    const lines = [];
    let trainSeconds = 0;
    for (const record of runs) {
      const m = record.meta.labelled;
      const r = m.run;
      trainSeconds += m.seconds;
      const ratio = m.ratio ?? Number.NaN;
      const diag = diagnosis.runs.find((d) => d.id === record.id);
      for (const info of reader.listLayers(record.id)) {
        if (info.kinds.jacobian === undefined && info.kinds['input-grad'] === undefined) continue;
        const d = diag?.layers.find((l) => l.layer === info.layer);
        lines.push({
          run: r.name,
          layer: info.layer,
          cell: `${r.layout === 'bidirectional' ? 'Bi-' : ''}${r.cell}-${r.units}${r.layout === 'stacked' ? ' ×2' : ''}`,
          config: configText(r),
          lag: m.lag,
          T: r.task.timesteps,
          independent: r.task.independent === true,
          ratio,
          initialRatio: m.initialRatio,
          truth: truthOf(r.task, ratio),
          expectLearns: r.expect.learns,
          expectCauses: r.expect.causes,
          verdict: d?.verdict ?? null,
          causes: d?.causes ?? null,
          evidence: d?.evidence ?? null,
          summary: d?.summary ?? null,
          jacobian: decayProfile(reader, record.id, info, 'jacobian'),
          inputGrad: decayProfile(reader, record.id, info, 'input-grad'),
        });
      }
    }
    return { lines, trainSeconds };
  } finally {
    reader.close();
  }
}

/** What differs from the common settings: learning rate, steps, seed and the init options. */
function configText(r) {
  const parts = [`Adam ${r.learningRate}`, `${r.steps} steps`, `seed ${r.seed}`];
  if (r.keepBias !== undefined)
    parts.push(`${r.cell === 'lstm' ? 'forget' : 'update'}-gate bias ${r.keepBias}`);
  if (r.activation === 'relu') parts.push('ReLU');
  if (r.bias) parts.push(`bias ${r.bias}`);
  if (r.recurrentGain !== undefined) parts.push(`recurrent gain ${r.recurrentGain}`);
  if (r.initStddev) parts.push(`Normal(0, ${r.initStddev.kernel}) init`);
  return parts.join(', ');
}

/**
 * One line per run: its last recurrent layer, the one feeding the output, which any model that recalls the
 * value must pass it through (a stacked model's first layer may or may not carry it: listed, not judged).
 */
function judged(lines) {
  const byRun = new Map();
  for (const l of lines) byRun.set(l.run, l);
  return [...byRun.values()];
}

function summaryRows(lines, trainSeconds) {
  const last = judged(lines);
  const clear = last.filter((l) => l.truth !== 'unclear');
  const matched = last.filter(
    (l) => l.truth !== 'unclear' && (l.truth === 'not-learning') === !l.expectLearns,
  );
  const right = clear.filter((l) => l.verdict === l.truth);
  const wrong = clear.filter((l) => l.verdict !== l.truth).map((l) => `${l.run} (${l.truth} → ${l.verdict})`);
  return [
    {
      suite: 'diagnosis',
      metric: 'labelled runs whose measured outcome is the one they were chosen for',
      value: matched.length,
      unit: `of ${last.length}`,
      aim: `${last.length}`,
      note: `outcome = final probe MSE ÷ the constant predictor's (learned < ${LEARNED_BELOW}, not learned > ${NOT_LEARNED_ABOVE}); ${trainSeconds.toFixed(0)} s of training, capture included, on wasm`,
    },
    {
      suite: 'diagnosis',
      metric: 'labelled runs diagnosed right (verdict = truth)',
      value: right.length,
      unit: `of ${clear.length}`,
      aim: `${clear.length}`,
      note: `the verdict of each run's last recurrent layer against the truth of its lag and measured outcome; ${wrong.length ? `wrong: ${wrong.join(', ')}` : 'none wrong'}; confusion table and runs in the section below`,
    },
  ];
}

function section(lines, trainSeconds) {
  const last = judged(lines);
  const truths = ['learning-long', 'learning-short', 'not-learning', 'unclear'];
  const out = [
    '## Diagnosis: the labelled benchmark',
    '',
    `Training runs on delayed recall whose truth is known: a value in (−1, 1) shown once (its own channel, flagged by a marker) among noise in (−1, 1), to be output after the last timestep. The truth is the task's lag together with the measured outcome, the final probe MSE ÷ the constant predictor's on the same probe (< ${LEARNED_BELOW} learned, > ${NOT_LEARNED_ABOVE} not learned), never the cell type: learned at a lag ≥ 40 is \`learning-long\`, at a lag ≤ 3 \`learning-short\`; targets independent of the inputs, and diverged runs, are \`not-learning\`. The runs are apps/demo/src/labelled/runs.ts (FULL_RUNS; every initializer, the data and the probe seeded, Adam, \`shuffle: false\`); the store is left at bench-results/labelled.gradscope. ${last.length} runs, ${trainSeconds.toFixed(0)} s of training (capture included) on the wasm backend.`,
    '',
    "Confusion (rows: truth; columns: the verdict of the run's last recurrent layer):",
    '',
    `| truth ＼ verdict | ${VERDICTS.join(' | ')} |`,
    `| --- | ${VERDICTS.map(() => '---').join(' | ')} |`,
  ];
  for (const t of truths) {
    const these = last.filter((l) => l.truth === t);
    if (these.length > 0)
      out.push(`| ${t} | ${VERDICTS.map((c) => these.filter((l) => l.verdict === c).length).join(' | ')} |`);
  }
  out.push(
    '',
    'Per run and recurrent layer: the lag (timesteps from the cue to the last input; for the Bidirectional runs also to the first), the outcome ratio before → after training, truth, verdict (✓ right, ✗ wrong; a stacked model is judged on its last layer), causes found (expected in brackets), the key evidence (loss ÷ baseline; of the jacobian part reaching farthest: its largest norm beyond T/2 steps back ÷ its peak, the farthest lag ≥ 1% of the peak, decades lost per step), and the per-timestep norms of `jacobian` and `input-grad` at the last capture as decades below their peak at lags 0, 1, 2, 4, 8, 16, 32 and T − 1 (f:/b: the directions of a Bidirectional layer, each counted from its own last step).',
    '',
    '| run | layer | cell, training | lag | outcome ratio | truth | verdict | causes (expected) | key evidence | jacobian decades | input-grad decades |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  );
  const judgedLines = new Set(last);
  for (const l of lines) {
    const mark = l.verdict === null || !judgedLines.has(l) ? '' : l.verdict === l.truth ? ' ✓' : ' ✗';
    const lag = l.independent
      ? `none (independent targets; cue ${l.lag.min}–${l.lag.max})`
      : `${l.lag.min}–${l.lag.max}`;
    out.push(
      `| ${l.run} | ${l.layer} | ${l.cell}, ${l.config} | ${lag} | ${fmt(l.initialRatio)} → ${fmt(l.ratio, 3)} | ${l.truth} | ${l.verdict ?? '–'}${mark} | ${l.causes ? l.causes.join(', ') || 'none' : '–'} (${l.expectCauses.join(', ') || 'none'}) | ${evidenceText(l.evidence)} | ${profileText(l.jacobian)} | ${profileText(l.inputGrad)} |`,
    );
  }
  return out.join('\n');
}

/** The numbers a verdict rests on, compactly. */
function evidenceText(e) {
  if (!e) return '–';
  const parts = [`loss ${fmt(e.lossRatio)}× (from ${fmt(e.firstLossRatio)}×)`];
  const jac = e.reach.filter((r) => r.kind === 'jacobian');
  const pool = jac.length > 0 ? jac : e.reach;
  const best = pool.reduce((a, r) => (a === undefined || r.farRatio > a.farRatio ? r : a), undefined);
  if (best)
    parts.push(
      `${best.kind === 'jacobian' ? 'jac' : 'in-grad'}${best.part ? ` ${best.part[0]}` : ''} far ${fmt(best.farRatio)}, 1% reach ${best.reach1e2}/${best.timesteps - 1}, ${fmt(best.decadesPerStep, 3)} dec/step${best.growth !== null && best.growth > 1 ? `, growth ${fmt(best.growth)}` : ''}`,
    );
  if (e.nonFiniteTotal > 0) parts.push(`non-finite ${e.nonFiniteTotal}`);
  if (e.saturatedShare !== null) parts.push(`saturated ${fmt(e.saturatedShare)}`);
  if (e.deadUnits !== null) parts.push(`dead ${e.deadUnits}/${e.units}`);
  return parts.join('; ');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const runsArg = process.argv
    .find((a) => a.startsWith('--runs='))
    ?.slice('--runs='.length)
    .split(',');
  const { rows, section: md } = await run({
    quick: process.argv.includes('--quick'),
    tiny: process.argv.includes('--tiny'),
    cost: !process.argv.includes('--no-cost'),
    train: !process.argv.includes('--report-only'),
    log: console.error,
    runs: runsArg,
  });
  for (const row of rows) console.log(row);
  console.log(md);
}
