// What the diagnosis reads, gathered from a store: the per-timestep norms of the `jacobian` and `input-grad`
// series (write-time summaries, no tensor read), each capture's probe loss and non-finite count, the
// `probe/baseline` scalar, the saturation of the layer output and per-unit weight-gradient norms of the
// latest captures. The rules themselves are @gradscope/format's `diagnose`, the same for every surface.
import {
  type DoctorReport,
  diagnose,
  type IterationObservation,
  type Kind,
  type LayerInfo,
  type LayerObservations,
  type RunDiagnosis,
  type RunObservations,
  saturatedShare,
  UnitGradNorms,
} from '@gradscope/format';
import type { RunReader } from './provider.js';

/** Captures read per series for the per-iteration verdicts (evenly spaced, the first and last among them). */
const REACH_ROWS = 64;
/** Latest captures whose output tensors are read for saturation, and weight-gradient summaries for dead units. */
const TENSOR_ROWS = 8;

const REACH_KINDS = ['jacobian', 'input-grad'] as const;

function partsOf(info: LayerInfo, kind: Kind): (string | null)[] {
  return info.kinds[kind] ?? [];
}

async function observeLayer(reader: RunReader, run: string, info: LayerInfo): Promise<LayerObservations> {
  const byIteration = new Map<number, IterationObservation>();
  const at = (iteration: number): IterationObservation => {
    let o = byIteration.get(iteration);
    if (o === undefined) {
      o = { iteration, loss: null, nonFinite: 0, profiles: [] };
      byIteration.set(iteration, o);
    }
    return o;
  };
  // Loss and non-finite counts from every series of the layer (one row per capture and part).
  for (const [kind, parts] of Object.entries(info.kinds) as [Kind, (string | null)[]][]) {
    for (const part of parts) {
      const index = await reader.seriesIndex({ run, layer: info.layer, kind, part }, { maxRows: REACH_ROWS });
      for (let i = 0; i < index.iterations.length; i++) {
        const o = at(index.iterations[i]!);
        const loss = index.loss[i]!;
        if (o.loss === null || Number.isNaN(o.loss)) o.loss = loss;
        o.nonFinite += index.nonFinite[i]!;
      }
    }
  }
  for (const kind of REACH_KINDS) {
    for (const part of partsOf(info, kind)) {
      const key = { run, layer: info.layer, kind, part };
      const flow = await reader.flowMatrix(key, { maxRows: REACH_ROWS });
      const T = flow.timesteps;
      flow.iterations.forEach((iteration, i) => {
        at(iteration).profiles.push({ kind, part, norms: flow.norms.subarray(i * T, (i + 1) * T) });
      });
    }
  }
  // Saturation: the share of the output at |h| ≥ 0.99, read from the latest captures' tensors.
  for (const part of partsOf(info, 'output')) {
    const index = await reader.seriesIndex({ run, layer: info.layer, kind: 'output', part }, {});
    const from = Math.max(0, index.ids.length - TENSOR_ROWS);
    for (let i = from; i < index.ids.length; i++) {
      const share = saturatedShare((await reader.readTensor(index.ids[i]!)).data);
      if (share === null) continue;
      const o = at(index.iterations[i]!);
      // Directions of a Bidirectional are separate snapshots: their mean.
      o.saturatedShare = o.saturatedShare === undefined ? share : (o.saturatedShare + share) / 2;
    }
  }
  // Dead units: each unit's weight-gradient norm, summed over the weights and gates of its direction.
  const unitNorms = new Map<number, UnitGradNorms>();
  for (const part of partsOf(info, 'weight-grad')) {
    if (part === null) continue;
    const index = await reader.seriesIndex({ run, layer: info.layer, kind: 'weight-grad', part }, {});
    for (let i = Math.max(0, index.ids.length - TENSOR_ROWS); i < index.ids.length; i++) {
      const norms = (await reader.getSummary(index.ids[i]!))?.channelNorms;
      if (!norms) continue;
      const iteration = index.iterations[i]!;
      const units = unitNorms.get(iteration) ?? new UnitGradNorms();
      units.add(part, norms);
      unitNorms.set(iteration, units);
    }
  }
  for (const [iteration, units] of unitNorms) at(iteration).unitGradNorms = units.result();
  return {
    layer: info.layer,
    layerClass: info.layerClass,
    iterations: [...byIteration.values()].sort((a, b) => a.iteration - b.iteration),
  };
}

/** Everything the diagnosis of one run (by id or name) reads from the store. */
export async function observeRun(reader: RunReader, run: string): Promise<RunObservations> {
  const details = await reader.requireRun(run);
  const baseline = (await reader.scalars(details.id, { names: ['probe/baseline'] }))[0]?.values[0];
  // Only recurrent layers are judged: a Dense layer recorded beside them has no recurrence to diagnose.
  const plain = new Set(details.model.layers.filter((l) => l.units === undefined).map((l) => l.name));
  const layers: LayerObservations[] = [];
  for (const info of await reader.listLayers(details.id)) {
    if (!plain.has(info.layer)) layers.push(await observeLayer(reader, details.id, info));
  }
  return {
    id: details.id,
    name: details.name,
    baseline: baseline !== undefined && Number.isFinite(baseline) ? baseline : null,
    layers,
  };
}

/** The diagnosis of one run (by id or name): a verdict, causes and evidence per recurrent layer. */
export async function diagnoseRun(reader: RunReader, run: string): Promise<RunDiagnosis> {
  return diagnose(await observeRun(reader, run));
}

/** The diagnosis of the given runs (ids or names), or of every run, newest first. */
export async function diagnoseReader(reader: RunReader, runs?: readonly string[]): Promise<DoctorReport> {
  const ids = runs ?? (await reader.listRuns()).map((r) => r.id);
  const report: DoctorReport = { runs: [] };
  for (const run of ids) report.runs.push(await diagnoseRun(reader, run));
  return report;
}
