// The page controller: URL state → data from the API → controls and one figure; live updates; the test hook.
import type uPlot from 'uplot';
import {
  Api,
  type FlowResponse,
  type HistogramsResponse,
  type LayerInfo,
  type RunDetails,
  type RunRecord,
  type SeriesKey,
  type SnapshotInfo,
} from './api';
import { DIVERGING, SEQUENTIAL } from './colormap';
import { button, checkbox, h, select, textInput } from './dom';
import { MAX_COMPARED, resolveIterations } from './iterations';
import { matrixValues } from './matrix';
import { downloadPng, pngName } from './png';
import { formatNumber, formatState, KINDS, type Kind, parseState, type View, type ViewState } from './state';
import { isZeroD } from './tensor';
import { type Compared, comparedLabel, type FigureContext } from './views/common';
import { renderDistribution } from './views/distribution';
import { render0D } from './views/features0d';
import { render1D } from './views/features1d';
import { render2D } from './views/features2d';
import { renderFlow } from './views/flowView';
import { renderGallery } from './views/gallery';

/** What an end-to-end test or benchmark reads after each render. */
export interface GradscopeHook {
  /** ms from the arrival of the figure's data (tensors decoded, or flow/histograms parsed) to the next frame after drawing. */
  lastPaintMs: number;
  /** False while a render is in flight; true once the figure (or an empty/error state) is on screen. */
  ready: boolean;
  /** Panels drawn: heatmap canvases, uPlot charts, or gallery cards. */
  panels: number;
  view: View | 'gallery';
  /** Renders completed since load. */
  renders: number;
  error: string | null;
}

declare global {
  interface Window {
    __gradscope: GradscopeHook;
  }
}

const VIEW_LABELS: Record<View, string> = {
  '2d': '2D heatmaps',
  '1d': '1D lines',
  '0d': '0D scatter',
  flow: 'Gradient flow',
  dist: 'Distribution',
};

interface Series {
  run: RunDetails;
  layers: LayerInfo[];
  layer: LayerInfo;
  key: SeriesKey;
  snapshots: SnapshotInfo[];
  available: number[];
  iterations: number[];
  zeroD: boolean;
  hasTime: boolean;
}

export class App {
  state: ViewState;
  private readonly api: Api;
  private readonly header: HTMLElement;
  private readonly controls: HTMLElement;
  private readonly main: HTMLElement;
  private readonly status: HTMLElement;
  private charts: uPlot[] = [];
  private seq = 0;
  private runs: RunRecord[] | null = null;
  private readonly details = new Map<string, RunDetails>();
  private readonly layers = new Map<string, LayerInfo[]>();
  private readonly snapshotIndex = new Map<string, SnapshotInfo[]>();
  private readonly flows = new Map<string, FlowResponse>();
  private readonly histograms = new Map<string, HistogramsResponse>();
  private events: EventSource | null = null;
  private eventsUrl = '';
  private liveTimer: ReturnType<typeof setTimeout> | undefined;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastWidth = 0;
  private current: Series | null = null;
  private currentRun: RunDetails | null = null;

  constructor(root: HTMLElement, token: string | null) {
    this.api = new Api(token);
    this.state = parseState(location.hash, location.search);
    window.__gradscope = {
      lastPaintMs: 0,
      ready: false,
      panels: 0,
      view: 'gallery',
      renders: 0,
      error: null,
    };
    this.header = h('header', { class: 'topbar' });
    this.controls = h('div', { class: 'controls', role: 'toolbar', 'aria-label': 'view settings' });
    this.status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.main = h('main', { class: 'figure', id: 'figure' });
    root.replaceChildren(this.header, this.controls, this.status, this.main);
    window.addEventListener('hashchange', () => {
      this.state = parseState(location.hash, location.search);
      void this.render();
    });
    window.addEventListener('resize', () => {
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => {
        if (Math.abs(this.figureWidth() - this.lastWidth) > 8) void this.render();
      }, 200);
    });
  }

  /** Changes the state, records it in the URL (a new history entry when `push`) and renders. */
  set(patch: Partial<ViewState>, push = false): void {
    this.state = { ...this.state, ...patch };
    const url = formatState(this.state);
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
    void this.render();
  }

  private figureWidth(): number {
    return Math.max(320, this.main.clientWidth - 24);
  }

  async render(): Promise<void> {
    const seq = ++this.seq;
    const hook = window.__gradscope;
    hook.ready = false;
    hook.error = null;
    try {
      if (this.state.page === 'gallery') await this.renderGallery(seq);
      else await this.renderRun(seq);
    } catch (err) {
      if (seq !== this.seq) return;
      const message = err instanceof Error ? err.message : String(err);
      this.clearFigure();
      this.main.append(h('div', { class: 'error', role: 'alert' }, message));
      hook.error = message;
      hook.panels = 0;
    }
    if (seq !== this.seq) return;
    this.connectLive();
    hook.renders++;
    hook.ready = true;
  }

  private clearFigure(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.main.replaceChildren();
  }

  private renderHeader(series: Pick<Series, 'run'> | null): void {
    const brand = h('a', { href: '#/gallery', class: 'brand' }, 'gradscope');
    const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'pages' }, brand);
    if (series) {
      const r = series.run;
      crumbs.append(
        h('span', { class: 'sep' }, '/'),
        h('span', { class: 'run-title' }, r.name || r.id),
        h('span', { class: `status status-${r.status}` }, r.status),
      );
    } else crumbs.append(h('span', { class: 'sep' }, '/'), h('span', { class: 'run-title' }, 'gallery'));
    this.header.replaceChildren(crumbs);
  }

  // ── gallery ────────────────────────────────────────────────────────────────────────────────────────────────

  private async renderGallery(seq: number): Promise<void> {
    window.__gradscope.view = 'gallery';
    this.status.textContent = 'loading runs…';
    const runs = await this.api.runs();
    this.runs = runs;
    const details = new Map<string, RunDetails | Error>();
    await Promise.all(
      runs.slice(0, 60).map(async (r) => {
        try {
          details.set(r.id, await this.runDetails(r.id));
        } catch (err) {
          details.set(r.id, err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
    if (seq !== this.seq) return;
    this.renderHeader(null);
    this.controls.replaceChildren();
    this.status.textContent = runs.length ? `${runs.length} run${runs.length === 1 ? '' : 's'}` : '';
    this.clearFigure();
    window.__gradscope.panels = renderGallery(this.main, runs, details);
    window.__gradscope.lastPaintMs = 0;
  }

  private async runDetails(id: string): Promise<RunDetails> {
    const hit = this.details.get(id);
    if (hit && hit.status !== 'running') return hit;
    const d = await this.api.run(id);
    this.details.set(id, d);
    return d;
  }

  // ── one run ────────────────────────────────────────────────────────────────────────────────────────────────

  private async resolveSeries(seq: number): Promise<Series | RunDetails | null> {
    const s = this.state;
    if (!this.runs) this.runs = await this.api.runs();
    const runs = this.runs;
    if (runs.length === 0) return null;
    const rec =
      runs.find((r) => r.id === s.run || r.name === s.run) ??
      [...runs].sort((a, b) => b.startedAt - a.startedAt)[0]!;
    if (s.run && rec.id !== s.run && rec.name !== s.run) {
      // A run named in the URL that is not (yet) in the cached list: ask the server before falling back.
      this.runs = await this.api.runs();
      if (this.runs.some((r) => r.id === s.run || r.name === s.run)) return this.resolveSeries(seq);
      throw new Error(`no run "${s.run}" on this server; pick one in the gallery`);
    }
    const run = await this.runDetails(rec.id);
    let layers = this.layers.get(rec.id);
    if (!layers) {
      layers = await this.api.layers(rec.id);
      this.layers.set(rec.id, layers);
    }
    if (layers.length === 0) return run;
    const layer =
      layers.find((l) => l.layer === s.layer) ?? layers.find((l) => l.kinds['output-grad']) ?? layers[0]!;
    const kinds = KINDS.filter((k) => layer.kinds[k]);
    const kind: Kind = kinds.includes(s.kind) ? s.kind : (kinds[0] ?? 'output-grad');
    const parts = layer.kinds[kind] ?? [null];
    const part = parts.includes(s.part) ? s.part : (parts[0] ?? null);
    const key: SeriesKey = { layer: layer.layer, kind, part };
    const cacheKey = seriesCacheKey(rec.id, key);
    let snapshots = this.snapshotIndex.get(cacheKey);
    if (!snapshots) {
      snapshots = await this.api.snapshots(rec.id, key);
      // The index of one series; a part of null selects whole-layer snapshots on the server, but be strict here too.
      snapshots = snapshots.filter(
        (x) => (x.part ?? null) === part && x.kind === kind && x.layer === layer.layer,
      );
      this.snapshotIndex.set(cacheKey, snapshots);
    }
    const available = [...new Set(snapshots.map((x) => x.iteration))].sort((a, b) => a - b);
    const iterations = resolveIterations(s.iterations, available, s.follow);
    const dims = snapshots[0]?.dims ?? [];
    const zeroD = isZeroD(dims);
    const hasTime = dims.includes('timestep');
    let view = s.view;
    if (zeroD && (view === '2d' || view === '1d' || view === 'flow')) view = '0d';
    if (!zeroD && view === '0d') view = '2d';
    // Normalize the URL to what is shown (names, not guesses), without a new history entry.
    const fixed: Partial<ViewState> = {};
    if (s.run !== (rec.name || rec.id)) fixed.run = rec.name || rec.id;
    if (s.layer !== layer.layer) fixed.layer = layer.layer;
    if (s.kind !== kind) fixed.kind = kind;
    if (s.part !== part) fixed.part = part;
    if (s.view !== view) fixed.view = view;
    if (Object.keys(fixed).length > 0 && seq === this.seq) {
      this.state = { ...s, ...fixed };
      history.replaceState(null, '', formatState(this.state));
    }
    return { run, layers, layer, key, snapshots, available, iterations, zeroD, hasTime };
  }

  private async renderRun(seq: number): Promise<void> {
    this.status.textContent = 'loading…';
    const resolved = await this.resolveSeries(seq);
    if (seq !== this.seq) return;
    if (!resolved) {
      this.current = null;
      this.currentRun = null;
      this.renderHeader(null);
      this.controls.replaceChildren();
      this.status.textContent = '';
      this.clearFigure();
      window.__gradscope.view = this.state.view;
      window.__gradscope.panels = 0;
      this.main.append(
        h(
          'div',
          { class: 'empty', role: 'status' },
          h('p', {}, h('strong', {}, 'No runs recorded yet.')),
          h(
            'p',
            {},
            'Train with the gradscope callback writing to the store this server reads, then reload. ',
            h('a', { href: '#/gallery' }, 'Gallery'),
          ),
        ),
      );
      return;
    }
    const state = this.state;
    window.__gradscope.view = state.view;
    if (!('key' in resolved)) {
      // A run without snapshots yet.
      this.current = null;
      this.currentRun = resolved;
      this.renderHeader({ run: resolved });
      this.controls.replaceChildren();
      this.status.textContent = '';
      this.clearFigure();
      window.__gradscope.panels = 0;
      this.main.append(
        h(
          'div',
          { class: 'empty', role: 'status' },
          'This run has no snapshots yet: they appear here as training records them (turn on Follow).',
        ),
      );
      this.controls.append(this.followButton());
      return;
    }
    const series = resolved;
    this.current = series;
    this.currentRun = series.run;
    this.renderHeader(series);
    this.renderControls(series);
    this.status.textContent = this.describe(series);
    const seriesName = `${series.key.layer} · ${series.key.kind}${series.key.part ? ` · ${series.key.part}` : ''}`;
    const width = this.figureWidth();
    this.lastWidth = width;
    const figure = h('div', { class: 'figure-inner' });
    let panels = 0;
    let arrived = 0;
    const cacheKey = seriesCacheKey(series.run.id, series.key);
    const charts: uPlot[] = [];
    const mount = () => {
      this.clearFigure();
      this.main.append(figure);
      this.charts = charts;
    };
    if (state.view === 'flow') {
      let flow = this.flows.get(cacheKey);
      if (!flow) {
        flow = await this.api.flow(series.run.id, series.key);
        this.flows.set(cacheKey, flow);
      }
      const extra = await this.summaryNorms(series, flow);
      if (seq !== this.seq) return;
      arrived = performance.now();
      mount();
      panels = renderFlow(
        figure,
        flow,
        series.snapshots,
        series.iterations,
        state,
        width,
        seriesName,
        charts,
        extra,
      ).panels;
    } else if (state.view === 'dist') {
      let hist = this.histograms.get(cacheKey);
      if (!hist) {
        hist = await this.api.histograms(series.run.id, series.key);
        this.histograms.set(cacheKey, hist);
      }
      if (seq !== this.seq) return;
      arrived = performance.now();
      mount();
      panels = renderDistribution(figure, hist, series.iterations, state, width, seriesName, charts);
    } else {
      if (series.iterations.length === 0) {
        this.clearFigure();
        this.main.append(h('div', { class: 'empty' }, 'No snapshots of this series yet.'));
        window.__gradscope.panels = 0;
        return;
      }
      const byIteration = new Map(series.snapshots.map((x) => [x.iteration, x]));
      const infos = series.iterations.map((it) => byIteration.get(it)!);
      const tensors = await Promise.all(infos.map((info) => this.api.tensor(info)));
      if (seq !== this.seq) return;
      arrived = performance.now();
      const first = series.iterations[0]!;
      const items: Compared[] = infos.map((info, i) => ({
        iteration: info.iteration,
        info,
        tensor: tensors[i]!,
        label: comparedLabel(info.iteration, first, i, state.diff),
      }));
      const fc: FigureContext = { state, width, seriesName, channelParts: series.layer.channelParts };
      mount();
      if (state.view === '2d') panels = render2D(figure, items, fc);
      else if (state.view === '1d') panels = render1D(figure, items, fc, charts);
      else panels = render0D(figure, items, fc, charts);
    }
    // The paint is done when the browser has produced the next frame with it.
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    if (seq !== this.seq) return;
    window.__gradscope.lastPaintMs = performance.now() - arrived;
    window.__gradscope.panels = panels;
  }

  /** Per-timestep norms of compared iterations missing from the flow rows (the server downsamples long runs). */
  private async summaryNorms(
    series: Series,
    flow: FlowResponse,
  ): Promise<Map<number, Record<string, Float32Array>>> {
    const out = new Map<number, Record<string, Float32Array>>();
    const have = new Set(flow.iterations);
    await Promise.all(
      series.iterations
        .filter((it) => !have.has(it))
        .map(async (it) => {
          const info = series.snapshots.find((x) => x.iteration === it);
          if (!info) return;
          const s = await this.api.summary(info.id);
          const norms: Record<string, Float32Array> = { '': matrixValues(s.timestepNorms) };
          for (const [name, p] of Object.entries(s.parts ?? {})) norms[name] = matrixValues(p.timestepNorms);
          out.set(it, norms);
        }),
    );
    return out;
  }

  private describe(series: Series): string {
    const l = series.run.model.layers.find((x) => x.name === series.key.layer);
    const layerText = l
      ? `${l.name}: ${l.innerClassName ? `${l.className}(${l.innerClassName})` : l.className}${l.units ? `, ${l.units} units` : ''}${
          l.returnSequences === undefined
            ? ''
            : l.returnSequences
              ? ', returnSequences'
              : ', last timestep only'
        }${l.mergeMode ? `, merge ${l.mergeMode}` : ''}`
      : series.key.layer;
    const a = series.available;
    const range = a.length
      ? `${a.length} iterations recorded (${a[0]}–${a[a.length - 1]})`
      : 'no iterations recorded';
    const shape = series.snapshots[0]
      ? ` · shape [${series.snapshots[0].shape.join(', ')}] (${series.snapshots[0].dims.join(', ')})`
      : '';
    const losses = series.iterations
      .map((it) => series.snapshots.find((x) => x.iteration === it))
      .filter((x): x is SnapshotInfo => x !== undefined)
      .map((x) => `loss@${x.iteration} ${formatNumber(x.loss)}`)
      .join(', ');
    return `${layerText} · ${range}${shape}${losses ? ` · ${losses}` : ''}`;
  }

  // ── controls ───────────────────────────────────────────────────────────────────────────────────────────────

  private renderControls(series: Series): void {
    const s = this.state;
    const runs = this.runs ?? [];
    const row1 = h('div', { class: 'control-row' });
    row1.append(
      select(
        'Run',
        runs.map((r) => ({ value: r.name || r.id, label: r.name || r.id })),
        s.run ?? '',
        (v) => this.set({ run: v, layer: null, part: null, iterations: [] }, true),
        { 'aria-label': 'run' },
      ),
      select(
        'Layer',
        series.layers.map((l) => ({ value: l.layer, label: `${l.layer} (${l.layerClass})` })),
        series.key.layer,
        (v) => this.set({ layer: v, part: null, iterations: [] }, true),
        { 'aria-label': 'layer' },
      ),
      select(
        'Kind',
        KINDS.filter((k) => series.layer.kinds[k]).map((k) => ({ value: k, label: k })),
        series.key.kind,
        (v) => this.set({ kind: v as Kind, part: null }, true),
        { 'aria-label': 'kind' },
      ),
    );
    const parts = series.layer.kinds[series.key.kind] ?? [null];
    if (parts.length > 1 || parts[0] !== null)
      row1.append(
        select(
          'Part',
          parts.map((p) => ({ value: p ?? '', label: p ?? 'whole output' })),
          series.key.part ?? '',
          (v) => this.set({ part: v || null }, true),
          { 'aria-label': 'part' },
        ),
      );
    const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'figure' });
    for (const v of ['2d', '1d', '0d', 'flow', 'dist'] as View[]) {
      const usable =
        v === '0d'
          ? series.zeroD
          : v === '2d' || v === '1d'
            ? !series.zeroD
            : v === 'flow'
              ? series.hasTime
              : true;
      const tab = button(VIEW_LABELS[v], () => this.set({ view: v }, true), {
        role: 'tab',
        'aria-selected': String(s.view === v),
        disabled: !usable,
        class: s.view === v ? 'tab active' : 'tab',
        title: usable
          ? VIEW_LABELS[v]
          : `${VIEW_LABELS[v]}: not for ${series.zeroD ? 'a layer without a time axis' : 'this series'}`,
      });
      tabs.append(tab);
    }
    row1.append(tabs);

    const actions = h('div', { class: 'actions' });
    actions.append(
      this.followButton(),
      button('Download PNG', () => void this.downloadPng(), { title: 'the figure as one PNG' }),
      h(
        'a',
        {
          class: 'button-link',
          href: this.api.exportUrl(series.run.id, series.key, series.iterations),
          download: '',
          title: 'the compared iterations of this series as an Arrow IPC file',
        },
        'Export Arrow',
      ),
    );
    row1.append(actions);

    const row2 = h('div', { class: 'control-row' });
    const slots = h('div', { class: 'iterations', role: 'group', 'aria-label': 'iterations to compare' });
    slots.append(h('span', { class: 'group-label' }, 'Iterations'));
    const chosen = series.iterations;
    for (let i = 0; i < MAX_COMPARED; i++) {
      const value = chosen[i] === undefined ? '' : String(chosen[i]);
      if (i > chosen.length) break;
      const options = [
        ...(i > 0 ? [{ value: '', label: i === chosen.length ? '+ add' : '— remove' }] : []),
        ...series.available.map((it) => ({ value: String(it), label: String(it) })),
      ];
      slots.append(
        select(
          `#${i + 1}`,
          options,
          value,
          (v) => {
            const next = [...chosen];
            if (v === '') next.splice(i, 1);
            else next[i] = Number(v);
            this.set({ iterations: [...new Set(next)].sort((a, b) => a - b) });
          },
          { 'aria-label': `iteration ${i + 1}` },
        ),
      );
    }
    if (s.view === '2d' || s.view === '1d' || s.view === '0d')
      slots.append(checkbox('difference vs first', s.diff, (v) => this.set({ diff: v })));
    row2.append(slots);

    const opts = h('div', { class: 'options', role: 'group', 'aria-label': 'figure options' });
    const samples = series.snapshots[0]?.dims[0] === 'sample' ? (series.snapshots[0]?.shape[0] ?? 1) : 1;
    const sampleSelect = () =>
      select(
        'Sample',
        [
          { value: 'all', label: 'all' },
          ...Array.from({ length: samples }, (_, i) => ({ value: String(i), label: String(i) })),
        ],
        String(s.sample),
        (v) => this.set({ sample: v === 'all' ? 'all' : Number(v) }),
        { 'aria-label': 'sample' },
      );
    const rowsInput = () =>
      textInput(
        'Rows',
        s.rows === null ? '' : String(s.rows),
        (v) => this.set({ rows: /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : null }),
        {
          placeholder: 'auto',
          'aria-label': 'rows of small multiples (n_rows)',
        },
      );
    const maxTInput = () =>
      textInput(
        'Max timesteps',
        s.maxT === null ? '' : String(s.maxT),
        (v) => this.set({ maxT: /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : null }),
        {
          placeholder: 'all',
          'aria-label': 'max timesteps',
        },
      );
    const ticks = () => checkbox('ticks', s.ticks, (v) => this.set({ ticks: v }));
    const borders = () => checkbox('borders', s.borders, (v) => this.set({ borders: v }));
    if (s.view === '2d') {
      opts.append(
        sampleSelect(),
        rowsInput(),
        select(
          'Norm',
          [
            { value: 'auto', label: 'auto (max |v|)' },
            { value: 'p99', label: 'auto (99th pct)' },
            { value: 'manual', label: 'manual (-a, a)' },
          ],
          typeof s.norm === 'number' ? 'manual' : s.norm,
          (v) =>
            this.set({
              norm: v === 'manual' ? (typeof s.norm === 'number' ? s.norm : 0.01) : (v as 'auto' | 'p99'),
            }),
          { 'aria-label': 'norm' },
        ),
      );
      if (typeof s.norm === 'number')
        opts.append(
          textInput(
            'a',
            String(s.norm),
            (v) => {
              const a = Math.abs(Number(v));
              if (Number.isFinite(a) && a > 0) this.set({ norm: a });
            },
            { 'aria-label': 'norm a, for (-a, a)' },
          ),
        );
      opts.append(
        select(
          'Colormap',
          DIVERGING.map((c) => ({ value: c, label: c })),
          s.cmap,
          (v) => this.set({ cmap: v as ViewState['cmap'] }),
        ),
        select(
          'Timesteps on',
          [
            { value: 'x', label: 'x' },
            { value: 'y', label: 'y' },
          ],
          s.timeAxis,
          (v) => this.set({ timeAxis: v === 'y' ? 'y' : 'x' }),
        ),
        maxTInput(),
      );
      if (series.layer.channelParts)
        opts.append(checkbox('reflect_half', s.reflect, (v) => this.set({ reflect: v })));
      opts.append(
        checkbox('colorbar', s.colorbar, (v) => this.set({ colorbar: v })),
        ticks(),
        borders(),
      );
    } else if (s.view === '1d') {
      opts.append(
        sampleSelect(),
        rowsInput(),
        textInput('Channels', s.channels ?? '', (v) => this.set({ channels: v || null }), {
          placeholder: '0-15',
          'aria-label': 'channel range',
        }),
        checkbox('equal axes', s.equal, (v) => this.set({ equal: v })),
        maxTInput(),
        ticks(),
        borders(),
      );
    } else if (s.view === '0d') {
      opts.append(ticks(), borders());
    } else if (s.view === 'flow') {
      opts.append(
        select(
          'Colormap',
          SEQUENTIAL.map((c) => ({ value: c, label: c })),
          s.flowCmap,
          (v) => this.set({ flowCmap: v as ViewState['flowCmap'] }),
        ),
      );
      if (series.layer.channelParts)
        opts.append(checkbox('split directions', s.reflect, (v) => this.set({ reflect: v })));
    } else {
      opts.append(checkbox('arcsinh y', s.asinh, (v) => this.set({ asinh: v })));
    }
    row2.append(opts);
    this.controls.replaceChildren(row1, row2);
  }

  private followButton(): HTMLButtonElement {
    const running = this.currentRun?.status === 'running';
    return button(
      this.state.follow ? '● Following' : 'Follow live',
      () => this.set({ follow: !this.state.follow }),
      {
        class: this.state.follow ? 'follow on' : 'follow',
        'aria-pressed': String(this.state.follow),
        title: running
          ? 'show new iterations as training records them'
          : 'this run is not running; follow anyway to see it resume',
      },
    );
  }

  private async downloadPng(): Promise<void> {
    const s = this.state;
    const its = this.current?.iterations.join('_');
    await downloadPng(this.main, pngName(['gradscope', s.run, s.layer, s.kind, s.part, s.view, its]));
  }

  // ── live updates ───────────────────────────────────────────────────────────────────────────────────────────

  /** One EventSource: the gallery listens to every run, a followed run to its own events; otherwise none. */
  private connectLive(): void {
    const s = this.state;
    const runId = this.currentRun?.id ?? null;
    const url =
      s.page === 'gallery' ? this.api.eventsUrl(null) : s.follow && runId ? this.api.eventsUrl(runId) : '';
    if (url === this.eventsUrl) return;
    this.events?.close();
    this.events = null;
    this.eventsUrl = url;
    if (!url || typeof EventSource === 'undefined') return;
    const es = new EventSource(url);
    this.events = es;
    es.addEventListener('snapshot', (e) => this.onSnapshot(JSON.parse((e as MessageEvent).data)));
    es.addEventListener('run', () => {
      this.runs = null;
      this.scheduleLive();
    });
  }

  private onSnapshot(ev: {
    run: string;
    layer: string;
    kind: Kind;
    part: string | null;
    iteration: number;
  }): void {
    this.layers.delete(ev.run);
    const key = seriesCacheKey(ev.run, { layer: ev.layer, kind: ev.kind, part: ev.part ?? null });
    this.snapshotIndex.delete(key);
    this.flows.delete(key);
    this.histograms.delete(key);
    const c = this.current;
    const shown =
      this.state.page === 'gallery' ||
      (c === null && this.currentRun?.id === ev.run) ||
      (c !== null &&
        c.run.id === ev.run &&
        c.key.layer === ev.layer &&
        c.key.kind === ev.kind &&
        c.key.part === (ev.part ?? null));
    if (this.state.page === 'gallery') this.runs = null;
    if (shown) this.scheduleLive();
  }

  /** Several snapshots arrive per iteration (one per layer and kind): render once they have settled. */
  private scheduleLive(): void {
    clearTimeout(this.liveTimer);
    this.liveTimer = setTimeout(() => {
      if (this.state.page === 'gallery') this.runs = null;
      if (this.currentRun) this.details.delete(this.currentRun.id);
      void this.render();
    }, 400);
  }
}

function seriesCacheKey(run: string, key: SeriesKey): string {
  return `${run}\u0000${key.layer}\u0000${key.kind}\u0000${key.part ?? ''}`;
}
