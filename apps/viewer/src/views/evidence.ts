// The evidence under each layer's verdict (views/verdict.ts), drawn from what the diagnosis read: the flow map of
// the kind the verdict rests on (the loss-free jacobian when recorded, else input-grad: @gradscope/format's
// `decisiveReach`), the per-timestep norm at the page's iterations with the diagnosis' decay fit (decades lost
// per timestep back, a Theil–Sen slope), and the loss the verdict compares against its baseline. Nothing is
// judged here: the numbers come from the diagnosis; the fit's intercept (which the diagnosis does not need) is
// the Theil–Sen one, the median of log10 norm + slope × lag, only to place the line.
import { decisiveReach, type LayerDiagnosis, type ReachEvidence, type RunDiagnosis } from '@gradscope/format';
import uPlot from 'uplot';
import type { FlowResponse, LayerInfo, SeriesKey } from '../api';
import { timestepLogAxes } from '../axes';
import { lut } from '../colormap';
import type { ViewContext } from '../context';
import { h } from '../dom';
import { flowMapPanel, leftMarginFor } from '../draw';
import { flowLabels } from '../flow';
import { matrixValues } from '../matrix';
import { iterationColor, logRange, nearestIndex, sharedLogNorms, timestepSplits } from '../scales';
import { formatNumber } from '../state';
import {
  BASELINE_COLOR,
  baselineCurve,
  decodeScalars,
  type LossCurve,
  legendLines,
  lossChart,
  lossName,
  pickLosses,
  runColor,
  wholePart,
} from '../training';
import { verdictAt } from './verdict';

/** Timesteps back from the state a profile is of (diagnosis.ts' lag): the last step, or step 0 backward. */
export function lagOf(t: number, timesteps: number, part: string | null): number {
  return part === 'backward' ? t : timesteps - 1 - t;
}

/**
 * The diagnosis' decay fit as norms per timestep (input order): 10^(a − d × lag), d its decades per step and a
 * the Theil–Sen intercept over the positive finite norms of the row. null without a slope or a positive norm.
 */
export function decayFitLine(
  norms: ArrayLike<number>,
  part: string | null,
  decadesPerStep: number | null,
): Float64Array | null {
  if (decadesPerStep === null || !Number.isFinite(decadesPerStep)) return null;
  const T = norms.length;
  const intercepts: number[] = [];
  for (let t = 0; t < T; t++) {
    const v = norms[t]!;
    if (v > 0 && v < Number.POSITIVE_INFINITY)
      intercepts.push(Math.log10(v) + decadesPerStep * lagOf(t, T, part));
  }
  if (intercepts.length === 0) return null;
  intercepts.sort((x, y) => x - y);
  const m = intercepts.length >> 1;
  const a = intercepts.length % 2 ? intercepts[m]! : (intercepts[m - 1]! + intercepts[m]!) / 2;
  const line = new Float64Array(T);
  for (let t = 0; t < T; t++) line[t] = 10 ** (a - decadesPerStep * lagOf(t, T, part));
  return line;
}

/** The kind and part a layer's evidence is drawn from: the verdict's own, else the first recorded of the two. */
export function evidenceSeries(
  layer: Pick<LayerDiagnosis, 'evidence'>,
  info: Pick<LayerInfo, 'kinds'> | undefined,
): { kind: 'jacobian' | 'input-grad'; part: string | null; reach: ReachEvidence | null } | null {
  const reach = decisiveReach(layer.evidence.reach) ?? null;
  if (reach) return { kind: reach.kind, part: reach.part, reach };
  const kind = info?.kinds.jacobian ? 'jacobian' : info?.kinds['input-grad'] ? 'input-grad' : null;
  return kind ? { kind, part: null, reach: null } : null;
}

/** The series each layer's evidence is drawn from (a direction stored as its own series by its part, one
 * stored as a channel part of the whole by the whole's key). */
export function evidenceKey(
  layer: Pick<LayerDiagnosis, 'layer' | 'evidence'>,
  info: Pick<LayerInfo, 'kinds'> | undefined,
): { key: SeriesKey; which: Which; own: boolean } | null {
  const which = evidenceSeries(layer, info);
  if (!which || !info) return null;
  const parts = info.kinds[which.kind] ?? [];
  const own = which.part !== null && parts.includes(which.part);
  return {
    key: { layer: layer.layer, kind: which.kind, part: own ? which.part : wholePart(parts) },
    which,
    own,
  };
}

/** Every layer's evidence series of a diagnosis. */
export function evidenceKeys(diagnosis: RunDiagnosis, layers: readonly LayerInfo[]): SeriesKey[] {
  const infos = new Map(layers.map((l) => [l.layer, l]));
  return diagnosis.layers.flatMap((l) => evidenceKey(l, infos.get(l.layer))?.key ?? []);
}

const HEIGHT = 170;
const GAP = 16;

/**
 * Fills every `.evidence[data-layer]` slot under `root`'s verdict rows with that layer's evidence of `diagnosis`,
 * as of the render's context (its width the row's; the page's iterations drawn and marked; the loss read at the
 * frame's point count, ctx.lossPoints, so the frame's read serves it; the loss ratio the verdict's as of the frame); resolves with the charts drawn (null when a newer render took over). A layer whose
 * series cannot be loaded says so.
 */
export async function renderEvidence(
  root: HTMLElement,
  ctx: ViewContext,
  diagnosis: RunDiagnosis,
): Promise<uPlot[] | null> {
  const run = ctx.series.run;
  const slots = [...root.querySelectorAll<HTMLElement>('.evidence[data-layer]')];
  const byLayer = new Map(diagnosis.layers.map((l) => [l.layer, l]));
  const infos = new Map(ctx.series.layers.map((l) => [l.layer, l]));
  const colWidth = Math.max(260, Math.floor((ctx.width - 2 * GAP) / 3));
  const jobs = slots.map(async (slot) => {
    const layer = byLayer.get(slot.dataset.layer ?? '');
    if (!layer) return null;
    const info = infos.get(layer.layer);
    const picked = evidenceKey(layer, info);
    if (!picked) return { slot, layer, which: evidenceSeries(layer, info), flow: null, matrix: null };
    // A direction stored as its own series is asked for by part; one stored as a channel part of the whole is
    // in the flow's `parts`.
    const { which, own, key } = picked;
    const flow = await ctx.data.flow(run.id, key).catch(() => null);
    const matrix = flow
      ? !own && which.part && flow.parts?.[which.part]
        ? matrixValues(flow.parts[which.part]!)
        : matrixValues(flow.norms)
      : null;
    return { slot, layer, which, flow, matrix };
  });
  const [scalars, drawn] = await Promise.all([
    ctx.data.scalars(run, ctx.lossPoints).catch(() => null),
    Promise.all(jobs),
  ]);
  if (!ctx.current()) return null;
  const losses = scalars ? pickLosses(decodeScalars(scalars)) : [];
  const charts: uPlot[] = [];
  for (const d of drawn) {
    if (!d) continue;
    const { slot, layer, which, flow, matrix } = d;
    slot.replaceChildren();
    const row = h('div', { class: 'evidence-row' });
    slot.append(row);
    if (!which || !flow || !matrix || flow.timesteps === 0 || flow.iterations.length === 0) {
      row.append(
        h(
          'p',
          { class: 'empty evidence-empty' },
          which
            ? `No per-timestep ${which.kind} of ${layer.layer} could be loaded: open the Flow view below.`
            : `Neither jacobian nor input-grad recorded for ${layer.layer}: the verdict rests on the loss alone.`,
        ),
      );
    } else if (!matrix.some((v) => v > 0 && v < Number.POSITIVE_INFINITY)) {
      // Nothing to map on a log scale: say what it means instead of drawing one flat colour.
      row.append(
        h(
          'p',
          { class: 'empty evidence-empty evidence-zero' },
          `${kindText(which)} of ${layer.layer} is zero (or not finite) at every timestep of every recorded iteration: ${
            which.kind === 'jacobian'
              ? 'its last state does not depend on its input at all'
              : 'no loss gradient reaches its input'
          }.`,
        ),
      );
    } else {
      row.append(flowBlock(layer, which, flow, matrix, colWidth, ctx));
      const norms = normBlock(layer, which, flow, matrix, colWidth, ctx.series.iterations);
      row.append(norms.block);
      charts.push(norms.chart);
    }
    const loss = lossBlock(layer, losses, colWidth, ctx.upTo);
    row.append(loss.block);
    if (loss.chart) charts.push(loss.chart);
  }
  return charts;
}

/** Two significant digits, never in exponent form for the ratios a verdict quotes (0.0099, not 1e-2). */
export function significant(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '—';
  return String(Number(x.toPrecision(2)));
}

/** A loss ratio as the diagnosis words it: "0.0099×". */
function times(x: number): string {
  return `${significant(x)}×`;
}

type Which = NonNullable<ReturnType<typeof evidenceSeries>>;

function kindText(which: Which): string {
  return `${which.kind}${which.part ? ` ${which.part}` : ''}`;
}

function flowBlock(
  layer: LayerDiagnosis,
  which: Which,
  flow: FlowResponse,
  matrix: Float32Array,
  width: number,
  ctx: ViewContext,
): HTMLElement {
  const T = flow.timesteps;
  const I = flow.iterations.length;
  const labels = flowLabels(which.kind);
  const block = h('section', { class: 'evidence-block evidence-flow', 'data-kind': which.kind });
  // The newest row it maps (the live-follow test reads it: every view of a frame ends at one iteration).
  block.dataset.lastIteration = String(flow.iterations[flow.iterations.length - 1] ?? '');
  block.style.width = `${width}px`;
  block.append(
    h(
      'h4',
      { class: 'block-title', 'data-png-text': '' },
      `${labels.noun.charAt(0).toUpperCase()}${labels.noun.slice(1)} — ${kindText(which)}: log10 ${labels.symbol}, iteration × timestep`,
    ),
  );
  const { logs, lo, hi } = sharedLogNorms([matrix]);
  const height = Math.min(HEIGHT, Math.max(90, I * 8));
  const left = leftMarginFor({ count: I, value: (k) => flow.iterations[k]! }, height);
  const gutter = 14;
  const rows = ctx.series.iterations.map((it) => nearestIndex(flow.iterations, it));
  block.append(
    flowMapPanel({
      log: logs[0]!,
      iterations: flow.iterations,
      T,
      lo,
      hi,
      table: lut(ctx.state.flowCmap),
      width: Math.max(120, width - left - gutter - 4),
      height,
      left,
      gutter,
      xTitle: which.part === 'backward' ? 'timestep (input order)' : 'timestep',
      label: `${layer.layer}: ${labels.noun} of ${kindText(which)}, log10 norm per timestep and iteration`,
      marks: rows.map((row, ci) => ({ row, color: iterationColor(ci) })),
      readout: (t, r) => [
        `iteration ${flow.iterations[r]}`,
        `timestep ${t}`,
        `norm ${formatNumber(matrix[r * T + t]!)}`,
      ],
    }),
    h(
      'p',
      { class: 'axis-note' },
      `colour: log10 norm from ${lo.toFixed(1)} to ${hi.toFixed(1)} · training goes down`,
    ),
  );
  return block;
}

function normBlock(
  layer: LayerDiagnosis,
  which: Which,
  flow: FlowResponse,
  matrix: Float32Array,
  width: number,
  chosen: readonly number[],
): { block: HTMLElement; chart: uPlot } {
  const T = flow.timesteps;
  const at = layer.evidence.iteration;
  // The page's iterations and the one the verdict is read at, in flow rows (the nearest when downsampled).
  const wanted = [...new Set([...chosen, ...(at === null ? [] : [at])])];
  const rows = [...new Set(wanted.map((it) => nearestIndex(flow.iterations, it)))].filter((r) => r >= 0);
  const lines = rows.map((r) => ({
    iteration: flow.iterations[r]!,
    norms: matrix.subarray(r * T, (r + 1) * T),
  }));
  const verdictRow = at === null ? -1 : nearestIndex(flow.iterations, at);
  const fitNorms = verdictRow >= 0 ? matrix.subarray(verdictRow * T, (verdictRow + 1) * T) : null;
  const fit = fitNorms && which.reach ? decayFitLine(fitNorms, which.part, which.reach.decadesPerStep) : null;
  const range = logRange(lines.map((l) => l.norms));
  const labels = flowLabels(which.kind);
  const block = h('section', { class: 'evidence-block evidence-norms' });
  block.style.width = `${width}px`;
  const d = which.reach?.decadesPerStep ?? null;
  block.append(
    h(
      'h4',
      { class: 'block-title', 'data-png-text': '' },
      `${labels.symbol} vs timestep${
        fit && d !== null
          ? ` — dashed: decay fit at iteration ${flow.iterations[verdictRow]}, ${significant(d)} decades per step back`
          : ''
      }`,
    ),
  );
  const xs = new Float64Array(T);
  for (let t = 0; t < T; t++) xs[t] = t;
  const series: uPlot.Series[] = [
    { label: 'timestep' },
    ...lines.map((l, k) => ({
      label: `iteration ${l.iteration}`,
      stroke: iterationColor(k),
      width: 1.5,
      points: { show: false },
      value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
    })),
  ];
  const data: (Float64Array | Float32Array)[] = [xs, ...lines.map((l) => l.norms)];
  if (fit) {
    series.push({
      label: `decay fit (${significant(d)} decades/step)`,
      stroke: '#111',
      width: 1.5,
      dash: [6, 4],
      points: { show: false },
      value: (_u: uPlot, v: number | null) => (v === null ? '—' : formatNumber(v)),
    });
    data.push(fit);
  }
  const chart = new uPlot(
    {
      width,
      height: HEIGHT,
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: [0, Math.max(1, T - 1)] },
        y: { distr: 3, range: [range.lo, range.hi] },
      },
      axes: timestepLogAxes(
        which.part === 'backward' ? 'timestep (input order)' : 'timestep',
        timestepSplits(T, width),
        range.splits,
      ),
      series,
    },
    data as unknown as uPlot.AlignedData,
    block,
  );
  chart.root.classList.add('evidence-norm-chart');
  legendLines(chart);
  chart.root.setAttribute('role', 'img');
  chart.root.setAttribute('aria-label', `${layer.layer}: ${kindText(which)} norm per timestep, log scale`);
  return { block, chart };
}

function lossBlock(
  layer: LayerDiagnosis,
  losses: ReturnType<typeof pickLosses>,
  width: number,
  upTo: number | null,
): { block: HTMLElement; chart: uPlot | null } {
  const e = layer.evidence;
  // The ratio of the verdict shown above (an earlier capture's while the page's frame lags the diagnosis).
  const at = verdictAt(layer, upTo);
  const block = h('section', { class: 'evidence-block evidence-loss' });
  block.style.width = `${width}px`;
  // The verdict compares the probe loss (the snapshots' loss) with the baseline: that curve first.
  const probe = losses.filter((l) => l.name === 'probe/loss');
  const shown = probe.length > 0 ? probe : losses.slice(0, 1);
  const ratio = at.lossRatio === null ? '' : `: ${times(at.lossRatio)} at iteration ${at.iteration}`;
  const against =
    e.baselineMethod === 'first-probe-loss'
      ? 'the first probe loss'
      : e.baseline === null
        ? 'no baseline'
        : 'the baseline (constant predictor)';
  if (shown.length === 0) {
    block.append(
      h('h4', { class: 'block-title' }, `Loss vs ${against}${ratio}`),
      h('p', { class: 'empty' }, 'No loss recorded as a training scalar for this run.'),
    );
    return { block, chart: null };
  }
  const curves: LossCurve[] = shown.map((l, i) => ({
    label: lossName(l.name),
    color: runColor(i + 1),
    iterations: l.iterations,
    values: l.values,
  }));
  const base = e.baseline === null ? null : baselineCurve(curves, e.baseline);
  if (base) {
    base.color = BASELINE_COLOR;
    base.label = e.baselineMethod === 'first-probe-loss' ? 'baseline (first probe loss)' : base.label;
  }
  const { chart } = lossChart(block, {
    title: `${curves.map((c) => c.label).join(', ')} vs ${against}${ratio}`,
    width,
    height: HEIGHT - 20,
    curves: base ? [...curves, base] : curves,
    smooth: 0,
    logY: false,
  });
  chart.root.classList.add('evidence-loss-chart');
  return { block, chart };
}

/** The evidence charts on the run page, destroyed on every redraw. */
export class EvidencePanel {
  private charts: uPlot[] = [];

  clear(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }

  async render(root: HTMLElement, ctx: ViewContext, diagnosis: RunDiagnosis): Promise<void> {
    const charts = await renderEvidence(root, ctx, diagnosis);
    if (!charts) return;
    this.clear();
    this.charts = charts;
  }
}
