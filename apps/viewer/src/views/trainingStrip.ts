// The run page's training strip, above its figure: the loss curve (smoothing slider, log y, the captured
// iterations marked: a click shows that iteration) and the memory horizon over training of every recorded
// layer and gradient kind with a timestep axis, the loss-free jacobian included (activations, kind `output`,
// have no memory horizon: left out). Every loss is drawn, named by what it is, and the baseline as a line.
import type uPlot from 'uplot';
import type { FlowResponse } from '../api';
import type { ViewContext } from '../context';
import { smoothingSlider } from '../controls';
import { checkbox, h, select } from '../dom';
import { flowLabels } from '../flow';
import { isWeightKind, type Series } from '../resolve';
import { hasTimeAxis } from '../roles';
import { iterationColor } from '../scales';
import { formatNumber, KINDS, type Kind } from '../state';
import {
  baselineCurve,
  decodeScalars,
  type HorizonCurve,
  horizonCharts,
  ITERATION_DASH,
  type LossCurve,
  lossChart,
  lossName,
  pickBaseline,
  pickLosses,
  runColor,
  scalarX,
  trainingWidths,
  wholePart,
} from '../training';

/** Most horizon lines on the run page (layers × kinds). */
const MAX_HORIZON_LINES = 8;

export interface StripResult {
  charts: uPlot[];
  /** ms from the scalars' arrival to the loss chart drawn (synchronous part). */
  lossDrawMs: number;
  /** ms from the scalars' arrival to the next frame with the loss chart; null without one. */
  lossPaintMs: number | null;
}

/** The layers and kinds the strip draws a horizon line for: gradients with a timestep axis, at most 8. */
export function horizonKeys(
  series: Pick<Series, 'run' | 'layers'>,
): { layer: string; kind: Kind; part: string | null }[] {
  const model = series.run.model.layers;
  return series.layers
    .flatMap((l) =>
      KINDS.filter(
        (k) => l.kinds[k] && !isWeightKind(k) && flowLabels(k).gradient && hasTimeAxis(model, l.layer, k),
      ).map((kind) => ({ layer: l.layer, kind, part: wholePart(l.kinds[kind]!) })),
    )
    .slice(0, MAX_HORIZON_LINES);
}

/** Draws the strip of the render's context into `root` (replacing what was there); null when a newer render took over. */
export async function renderTrainingStrip(
  root: HTMLElement,
  ctx: ViewContext,
  clear: () => void = () => root.replaceChildren(),
): Promise<StripResult | null> {
  const { series, state, data, width } = ctx;
  const run = series.run;
  // The horizon of every layer × gradient kind that has a timestep axis (weights have none; a horizon of
  // activations says nothing about how far back the gradient reaches).
  const keys = horizonKeys(series);
  const [scalars, flows] = await Promise.all([
    data.scalars(run, ctx.lossPoints).catch(() => null),
    Promise.all(
      keys.map((k) => data.flow(run.id, { layer: k.layer, kind: k.kind, part: k.part }).catch(() => null)),
    ),
  ]);
  if (!ctx.current()) return null;
  const arrived = performance.now();
  const charts: uPlot[] = [];
  clear();
  const decoded = scalars ? decodeScalars(scalars) : [];
  const losses = pickLosses(decoded);
  const loss = losses[0] ?? null;
  const baseline = pickBaseline(decoded);
  const { loss: lossWidth, side: sideWidth } = trainingWidths(width);
  const height = 190;
  const row = h('div', { class: 'training-row' });
  root.append(row);
  let lossDrawMs = 0;
  const lossCol = h('div', { class: 'training-col' });
  row.append(lossCol);
  // The options under the chart wrap within its width instead of pushing the horizon charts to the next line.
  lossCol.style.width = `${lossWidth}px`;
  if (loss && loss.iterations.length > 0) {
    const t0 = performance.now();
    const chosen = series.iterations;
    const timeX = state.lossX === 'time' && losses.every((l) => l.times.length === l.iterations.length);
    const curves: LossCurve[] = losses.map((l, i) => ({
      label: lossName(l.name),
      color: runColor(i),
      iterations: scalarX(l, timeX ? 'time' : 'step'),
      values: l.values,
    }));
    const base = baseline === null ? null : baselineCurve(curves, baseline);
    const { chart, setSmoothing } = lossChart(lossCol, {
      title: `${losses.map((l) => lossName(l.name)).join(', ')}${base ? ' vs the baseline' : ''} over training (${formatNumber(loss.count)} steps recorded${
        loss.count > loss.iterations.length ? `, ${loss.iterations.length} points shown` : ''
      })`,
      width: lossWidth,
      height,
      curves: base ? [...curves, base] : curves,
      smooth: state.smooth,
      logY: state.logY,
      timeX,
      marks: {
        iterations: series.available,
        chosen,
        chosenColor: iterationColor,
        onPick: (it, add) => {
          const next = add ? [...new Set([...chosen, it])].sort((a, b) => a - b).slice(-4) : [it];
          ctx.set({ iterations: next, follow: false }, true);
        },
      },
    });
    lossDrawMs = performance.now() - t0;
    chart.root.dataset.drawMs = lossDrawMs.toFixed(2);
    // The newest step it draws (the live-follow test reads it: every view of a frame ends at one iteration).
    chart.root.dataset.lastStep = String(
      Math.max(...losses.map((l) => (l.iterations.length ? l.iterations[l.iterations.length - 1]! : 0))),
    );
    charts.push(chart);
    lossCol.append(
      h(
        'div',
        { class: 'control-row training-options' },
        smoothingSlider(state.smooth, setSmoothing, (v) => ctx.set({ smooth: v })),
        checkbox('log y', state.logY, (v) => ctx.set({ logY: v })),
        select(
          'x',
          [
            { value: 'step', label: 'step' },
            { value: 'time', label: 'wall time' },
          ],
          state.lossX,
          (v) => ctx.set({ lossX: v === 'time' ? 'time' : 'step' }),
          { 'aria-label': 'loss x axis' },
        ),
        timeX
          ? null
          : h(
              'span',
              { class: 'axis-note' },
              '▲ captured iterations (click one to show it, Shift+click to add)',
            ),
      ),
    );
  } else {
    lossCol.append(
      h(
        'p',
        { class: 'empty' },
        baseline === null
          ? 'No loss recorded for this run (gradscope records the fit logs every step from version 0.2).'
          : `No loss recorded for this run, only its baseline (the constant predictor's probe loss, ${formatNumber(baseline)}).`,
      ),
    );
  }
  const curves: HorizonCurve[] = [];
  const layerIndex = new Map(series.layers.map((l, i) => [l.layer, i]));
  const kindsSeen: string[] = [];
  keys.forEach((k, i) => {
    const flow = flows[i] as FlowResponse | null;
    if (!flow) return;
    if (!kindsSeen.includes(k.kind)) kindsSeen.push(k.kind);
    curves.push({
      label: `${k.layer} · ${k.kind}`,
      color: runColor(layerIndex.get(k.layer) ?? 0),
      dash: ITERATION_DASH[kindsSeen.indexOf(k.kind) % ITERATION_DASH.length]!,
      flow,
    });
  });
  // The loss chart is on screen with the next frame; the horizon charts follow it.
  let lossPaintMs: number | null = null;
  if (loss) {
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    lossPaintMs = performance.now() - arrived;
    if (!ctx.current()) {
      for (const c of charts) c.destroy();
      return null;
    }
  }
  const horizonCol = h('div', { class: 'training-col training-pair' });
  row.append(horizonCol);
  if (ctx.current())
    charts.push(
      ...horizonCharts(
        horizonCol,
        curves,
        sideWidth,
        height,
        'No memory horizon: no gradient or jacobian with a timestep axis recorded (activations have no memory horizon).',
      ),
    );
  return { charts, lossDrawMs, lossPaintMs };
}

/** The strip's element on the run page and the charts it holds (destroyed on every redraw). */
export class TrainingStrip {
  readonly el = h('section', { class: 'training', 'aria-label': 'training' });
  private charts: uPlot[] = [];

  clear(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.el.replaceChildren();
  }

  /** Draws the strip; resolves with ms from the scalars' arrival to the painted loss chart (null: none, or superseded). */
  async render(ctx: ViewContext): Promise<number | null> {
    const result = await renderTrainingStrip(this.el, ctx, () => this.clear());
    if (!result) return null;
    this.charts = result.charts;
    return result.lossPaintMs;
  }
}
