// One run page's figure: fetches what the resolved view needs (tensors, flow matrix, histograms) through the
// render's context (its frame of the run's data), then draws it with the view modules. Returns when the data arrived, for the paint hook.
import type uPlot from 'uplot';
import type { FlowResponse } from './api';
import type { ViewContext } from './context';
import type { SeriesData } from './data';
import { h } from './dom';
import { matrixValues } from './matrix';
import type { Series } from './resolve';
import { type Compared, comparedLabel } from './views/common';
import { renderDistribution } from './views/distribution';
import { render0D } from './views/features0d';
import { render1D } from './views/features1d';
import { render2D } from './views/features2d';
import { type FlowLine, renderFlow } from './views/flowView';
import { renderWeights, type WeightsItem } from './views/weights';

export interface FigureResult {
  panels: number;
  /** performance.now() when the figure's data had arrived. */
  arrived: number;
}

/** Puts the (still empty) figure element on the page, replacing the previous figure, with its charts. */
export type Mount = (figure: HTMLElement, charts: uPlot[]) => void;

/** Draws the series' figure of the render's context; null when a newer render took over first. */
export async function drawFigure(ctx: ViewContext, mount: Mount): Promise<FigureResult | null> {
  const { series, state, data, charts } = ctx;
  const figure = h('div', { class: 'figure-inner' });
  const run = series.run.id;
  if (state.view === 'flow') {
    const flow = await data.flow(run, series.key);
    const extra = await summaryNorms(series, flow, data);
    if (!ctx.current()) return null;
    const arrived = performance.now();
    mount(figure, charts);
    return { panels: renderFlow(figure, ctx, flow, extra).panels, arrived };
  }
  if (state.view === 'dist') {
    const hist = await data.histograms(run, series.key);
    if (!ctx.current()) return null;
    const arrived = performance.now();
    mount(figure, charts);
    return { panels: renderDistribution(figure, ctx, hist), arrived };
  }
  if (state.view === 'weights') return drawWeights(ctx, mount);
  if (series.iterations.length === 0) {
    mount(figure, charts);
    figure.append(h('div', { class: 'empty' }, 'No snapshots of this series yet.'));
    return { panels: 0, arrived: performance.now() };
  }
  const byIteration = new Map(series.snapshots.map((x) => [x.iteration, x]));
  const infos = series.iterations.map((it) => byIteration.get(it)!);
  const tensors = await Promise.all(infos.map((info) => data.api.tensor(info)));
  if (!ctx.current()) return null;
  const arrived = performance.now();
  const first = series.iterations[0]!;
  const items: Compared[] = infos.map((info, i) => ({
    iteration: info.iteration,
    info,
    tensor: tensors[i]!,
    label: comparedLabel(info.iteration, first, i, state.diff),
  }));
  mount(figure, charts);
  let panels: number;
  if (state.view === '1d') panels = render1D(figure, ctx, items);
  else if (state.view === '0d') panels = render0D(figure, ctx, items);
  else panels = render2D(figure, ctx, items);
  return { panels, arrived };
}

/** The weights page: every part (direction × weight × gate) of the layer's kind at the compared iterations. */
async function drawWeights(ctx: ViewContext, mount: Mount): Promise<FigureResult | null> {
  const { series, state, data } = ctx;
  const figure = h('div', { class: 'figure-inner' });
  const parts = series.layer.kinds[series.key.kind] ?? [null];
  const chosen = series.iterations;
  const all = await data.partSnapshots(series.run.id, series.key.layer, series.key.kind, parts, chosen);
  const perIteration = chosen.map((it) => all.filter((x) => x.iteration === it));
  const tensors = await Promise.all(
    perIteration.map((infos) => Promise.all(infos.map((info) => data.api.tensor(info)))),
  );
  if (!ctx.current()) return null;
  const arrived = performance.now();
  const first = chosen[0] ?? 0;
  const items: WeightsItem[] = chosen.map((it, i) => ({
    iteration: it,
    label: comparedLabel(it, first, i, state.diff),
    parts: perIteration[i]!.map((info, k) => ({ info, tensor: tensors[i]![k]! })),
  }));
  mount(figure, []);
  if (items.length === 0 || items.every((x) => x.parts.length === 0)) {
    figure.append(h('div', { class: 'empty' }, 'No snapshots of these weights yet.'));
    return { panels: 0, arrived };
  }
  // Every part of the layer's kind: the title names the layer and kind, no part.
  const weightsCtx = { ...ctx, seriesName: `${series.key.layer} · ${series.key.kind}` };
  return { panels: renderWeights(figure, weightsCtx, items, parts), arrived };
}

/**
 * Per-timestep norms and stored horizons of compared iterations missing from the flow rows (the server
 * downsamples long runs).
 */
async function summaryNorms(
  series: Series,
  flow: FlowResponse,
  data: SeriesData,
): Promise<Map<number, Record<string, FlowLine>>> {
  const out = new Map<number, Record<string, FlowLine>>();
  const have = new Set(flow.iterations);
  await Promise.all(
    series.iterations
      .filter((it) => !have.has(it))
      .map(async (it) => {
        const info = series.snapshots.find((x) => x.iteration === it);
        if (!info) return;
        const s = await data.api.summary(info.id);
        const line = (p: typeof s): FlowLine => ({
          norms: matrixValues(p.timestepNorms),
          horizon: p.horizon,
          t0Ratio: p.t0Ratio,
        });
        const norms: Record<string, FlowLine> = { '': line(s) };
        for (const [part, p] of Object.entries(s.parts ?? {})) norms[part] = line(p);
        out.set(it, norms);
      }),
  );
  return out;
}
