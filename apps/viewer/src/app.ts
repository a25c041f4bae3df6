// The page controller: URL state → resolved series (resolve.ts) → controls (controls.ts) and one figure
// (figure.ts); data through the caches (data.ts); live updates (live.ts); keyboard; the test hook.
import type { RunDiagnosis } from '@gradscope/format';
import type uPlot from 'uplot';
import { Api, type RunDetails, type SeriesKey } from './api';
import { viewContext } from './context';
import { describe, FIGURE_ID, followButton, renderControls, renderHeader } from './controls';
import { DataCache, type SnapshotEvent, scalarPoints } from './data';
import { h } from './dom';
import { userMessage } from './errors';
import { drawFigure } from './figure';
import { RunFrame } from './frame';
import { stepIteration } from './iterations';
import { LiveUpdates } from './live';
import { downloadPng, pngName } from './png';
import { pickRun, pickSeries, resolveSeries, type Series } from './resolve';
import { parseRoute, type Route } from './route';
import { defaultState, formatState, type View, type ViewState } from './state';
import { decodeScalars } from './training';
import { ComparePage } from './views/compare';
import { EvidencePanel, evidenceKeys } from './views/evidence';
import { type RunOutcome, renderGallery } from './views/gallery';
import { RunsTablePage } from './views/runsTable';
import { horizonKeys, TrainingStrip } from './views/trainingStrip';
import { renderVerdicts, type VerdictState } from './views/verdict';

/** What an end-to-end test or benchmark reads after each render. */
export interface GradscopeHook {
  /** ms from the arrival of the figure's data (tensors decoded, or flow/histograms parsed) to the next frame after drawing. */
  lastPaintMs: number;
  /** False while a render is in flight; true once the figure (or an empty/error state) is on screen. */
  ready: boolean;
  /** performance.now() (ms since navigation start) when `ready` last became true. */
  readyAt: number;
  /** Panels drawn: heatmap canvases, uPlot charts, or gallery cards. */
  panels: number;
  view: View | 'gallery' | 'compare' | 'runs';
  /** ms from the arrival of the run page's training scalars to the next frame with its loss chart (0: none). */
  lossPaintMs: number;
  /** Renders completed since load. */
  renders: number;
  error: string | null;
  /** What the page told the user it replaced (a missing iteration, a view that cannot draw the series). */
  notices: string[];
}

/** Points of each gallery card's loss sparkline. */
const SPARK_POINTS = 200;
/** How often a followed run's loss is asked again while it lags the snapshots (the capture sends it in batches). */
const LOSS_POLL_MS = 2000;
/** The longest wait between two such polls while the loss does not move. */
const LOSS_POLL_MAX_MS = 30_000;

/** The iteration a diagnosis was read at: the newest of its layers' evidence (null: none). */
function diagnosisIteration(d: RunDiagnosis): number | null {
  const its = d.layers.flatMap((l) => (l.evidence.iteration === null ? [] : [l.evidence.iteration]));
  return its.length ? Math.max(...its) : null;
}

declare global {
  interface Window {
    __gradscope: GradscopeHook;
  }
}

/** The run page's state of a route (the defaults elsewhere). */
function runState(route: Route): ViewState {
  return route.page === 'run' ? route.state : defaultState();
}

export class App {
  /** Where the viewer is (route.ts); `state` is the run page's part of it. */
  private route: Route;
  state: ViewState;
  private readonly api: Api;
  private readonly data: DataCache;
  private readonly live: LiveUpdates;
  private readonly header: HTMLElement;
  /** The run page's verdict per recurrent layer, under the header (views/verdict.ts). */
  private readonly verdicts: HTMLElement;
  private readonly controls: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly main: HTMLElement;
  /** The run page's loss and horizon charts, above the figure. */
  private readonly strip = new TrainingStrip();
  /** The charts under each verdict: the evidence it rests on (views/evidence.ts). */
  private readonly evidence = new EvidencePanel();
  private readonly compare: ComparePage;
  /** The runs table (`#/runs`), kept while the app lives: its rows are built once per answer. */
  private readonly runsTable: RunsTablePage;
  private readonly status: HTMLElement;
  private charts: uPlot[] = [];
  private seq = 0;
  private resizeTimer: ReturnType<typeof setTimeout> | undefined;
  private lastWidth = 0;
  private current: Series | null = null;
  /** The frame of the run page on screen (frame.ts), and the loss poll while the loss holds it back. */
  private frame: RunFrame | null = null;
  private lossPoll: ReturnType<typeof setTimeout> | undefined;
  /** The frame bound the last polls found, and how many polls in a row found it unchanged. */
  private lossStall: { upTo: number | null; polls: number } = { upTo: null, polls: 0 };
  private currentRun: RunDetails | null = null;
  /** The render that asked for the diagnosis on screen, and its run. */
  private verdictSeq = 0;
  private verdictRun: string | null = null;

  constructor(root: HTMLElement, token: string | null) {
    this.api = new Api(token);
    this.data = new DataCache(this.api);
    this.route = parseRoute(location.hash, location.search);
    this.state = runState(this.route);
    window.__gradscope = {
      lastPaintMs: 0,
      ready: false,
      readyAt: 0,
      panels: 0,
      view: 'gallery',
      renders: 0,
      error: null,
      notices: [],
      lossPaintMs: 0,
    };
    this.header = h('header', { class: 'topbar' });
    this.verdicts = h('section', { class: 'verdicts', 'aria-label': 'diagnosis', hidden: true });
    this.controls = h('div', { class: 'controls', role: 'toolbar', 'aria-label': 'view settings' });
    this.status = h('div', { class: 'status', role: 'status', 'aria-live': 'polite' });
    this.notice = h('div', { class: 'notices', role: 'status', 'aria-live': 'polite' });
    this.main = h('main', { class: 'figure', id: FIGURE_ID, role: 'tabpanel', tabindex: '-1' });
    root.replaceChildren(
      this.header,
      this.verdicts,
      this.controls,
      this.status,
      this.notice,
      this.strip.el,
      this.main,
    );
    const pageHost = {
      data: this.data,
      header: this.header,
      controls: this.controls,
      status: this.status,
      showNotices: (n: string[]) => this.showNotices(n),
      width: () => this.figureWidth(),
      mount: (figure: HTMLElement, charts: uPlot[]) => {
        this.clearFigure();
        this.main.append(figure);
        this.charts = charts;
      },
      go: (url: string, push: boolean, render?: boolean) => this.go(url, push, render),
    };
    this.compare = new ComparePage(pageHost);
    this.runsTable = new RunsTablePage(pageHost);
    this.live = new LiveUpdates(this.data, {
      url: () => this.liveUrl(),
      shows: (ev) => this.shows(ev),
      refresh: () => {
        if (this.currentRun) this.data.forgetRun(this.currentRun.id);
        if (this.route.page !== 'run') this.data.forgetRuns();
        this.runsTable.forget();
        void this.render();
      },
    });
    window.addEventListener('hashchange', () => {
      this.route = parseRoute(location.hash, location.search);
      this.state = runState(this.route);
      void this.render();
    });
    window.addEventListener('resize', () => {
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => {
        if (Math.abs(this.figureWidth() - this.lastWidth) > 8) void this.render();
      }, 200);
    });
    window.addEventListener('keydown', (e) => this.onKey(e));
  }

  /** Changes the run page's state, records it in the URL (a new history entry when `push`) and renders. */
  set(patch: Partial<ViewState>, push = false): void {
    this.go(formatState({ ...this.state, ...patch }), push);
  }

  /**
   * Goes to a URL fragment of any page (the run page's `set`, the compare page's controls): records it (a new
   * history entry when `push`; pushState fires no hashchange), parses it once (route.ts) and renders, unless
   * `render` is false: a URL fixed to say what the render in flight shows.
   */
  go(url: string, push = false, render = true): void {
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
    this.route = parseRoute(location.hash, location.search);
    this.state = runState(this.route);
    if (render) void this.render();
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
      const route = this.route;
      if (route.page === 'compare') {
        this.strip.clear();
        this.showVerdicts(null);
        this.current = null;
        this.currentRun = null;
        await this.compare.render(route.state, () => seq === this.seq);
      } else if (route.page === 'runs') {
        this.compare.leave();
        this.strip.clear();
        this.showVerdicts(null);
        this.current = null;
        this.currentRun = null;
        await this.runsTable.render(route.state, () => seq === this.seq);
      } else if (route.page === 'gallery') await this.renderGallery(seq);
      else await this.renderRun(seq);
    } catch (err) {
      if (seq !== this.seq) return;
      const message = userMessage(err);
      this.clearFigure();
      this.strip.clear();
      // A run page's verdicts stay when only its figure failed; anything else clears them.
      if (this.verdictSeq !== seq) this.showVerdicts(null);
      this.main.append(h('div', { class: 'error', role: 'alert' }, message));
      hook.error = message;
      hook.panels = 0;
    }
    if (seq !== this.seq) return;
    this.live.connect();
    hook.renders++;
    hook.readyAt = performance.now();
    hook.ready = true;
  }

  private clearFigure(): void {
    for (const c of this.charts) c.destroy();
    this.charts = [];
    this.main.replaceChildren();
  }

  private showNotices(notices: string[]): void {
    window.__gradscope.notices = notices;
    this.notice.replaceChildren(...notices.map((n) => h('p', { class: 'notice' }, n)));
  }

  private async renderGallery(seq: number): Promise<void> {
    window.__gradscope.view = 'gallery';
    this.compare.leave();
    this.strip.clear();
    this.showVerdicts(null);
    this.status.textContent = 'loading runs…';
    const runs = await this.data.runs();
    const details = new Map<string, RunDetails | Error>();
    const outcomes = new Map<string, RunOutcome>();
    const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
    // Each card's model, verdicts and loss sparkline: three small requests per run, all at once.
    await Promise.all(
      runs.slice(0, 60).map(async (r) => {
        const [run, diagnosis, scalars] = await Promise.all([
          this.data.run(r.id).catch(asError),
          this.data.diagnosis(r).then((d) => d.runs[0] ?? null, asError),
          this.data.scalars(r, SPARK_POINTS).then(decodeScalars, () => null),
        ]);
        details.set(r.id, run);
        outcomes.set(r.id, { diagnosis, scalars });
      }),
    );
    if (seq !== this.seq) return;
    this.current = null;
    this.currentRun = null;
    renderHeader(this.header, null);
    this.controls.replaceChildren();
    this.showNotices([]);
    this.status.textContent = runs.length ? `${runs.length} run${runs.length === 1 ? '' : 's'}` : '';
    this.clearFigure();
    window.__gradscope.panels = renderGallery(this.main, runs, details, outcomes);
    window.__gradscope.lastPaintMs = 0;
  }

  private async renderRun(seq: number): Promise<void> {
    this.compare.leave();
    this.status.textContent = 'loading…';
    const s = this.state;
    let runs = await this.data.runs();
    let picked = pickRun(s.run, runs);
    // A run named in the URL that is not (yet) in the cached list: ask the server before giving up.
    if (picked.missing) {
      runs = await this.data.runs(true);
      picked = pickRun(s.run, runs);
      if (picked.missing) throw new Error(`no run "${s.run}" on this server; pick one in the gallery`);
    }
    if (seq !== this.seq) return;
    window.__gradscope.view = s.view;
    if (!picked.run) return this.renderNoRuns();
    const record = picked.run;
    // The diagnosis, the run's details and its layers are independent: one round trip, not three. A failing
    // diagnosis is shown as a notice in its panel; it never fails the page.
    if (this.verdictRun !== record.id) this.showVerdicts(null);
    this.verdictSeq = seq;
    this.verdictRun = record.id;
    const diagnosis = this.data.diagnosis(record).then(
      (d): VerdictState => d.runs[0] ?? new Error('the server sent no diagnosis for this run'),
      (err: unknown): VerdictState => (err instanceof Error ? err : new Error(String(err))),
    );
    const [run, layers] = await this.data.runWithLayers(record.id);
    const choice = pickSeries(s, layers);
    if (!choice) {
      if (seq === this.seq) this.renderNoSnapshots(run);
      return;
    }
    // A running run: the diagnosis is read before the rest, so that everything read after it has reached the
    // iteration it was read at (frame.ts).
    const diagnosed = run.status === 'running' ? await diagnosis : null;
    const readable = diagnosed && !(diagnosed instanceof Error) ? diagnosed : null;
    // The bounded series index, plus the rows of the URL's iterations if downsampling left them out.
    const [snapshots, index] = await Promise.all([
      this.data.snapshots(record.id, choice.key, s.iterations),
      this.data.seriesIndex(record.id, choice.key),
    ]);
    if (seq !== this.seq) return;
    const width = this.figureWidth();
    // Points of every scalar read of this render (the frame's, the strip's, the evidence's): one read serves all.
    const lossPoints = scalarPoints(width);
    // One frame of the run drives every view: selectors, status, verdict evidence, flow, norms, loss.
    const frame = await RunFrame.of({
      data: this.data,
      record,
      run,
      snapshots,
      keys: [...horizonKeys({ run, layers }), ...(readable ? evidenceKeys(readable, layers) : [])],
      diagnosisIteration: readable ? diagnosisIteration(readable) : null,
      lossPoints,
    });
    if (seq !== this.seq) return;
    const shown = frame.snapshotsUpTo(snapshots);
    const { series, fixes, notices } = resolveSeries(s, record, run, layers, choice, shown, runs);
    // A downsampled index counts every stored snapshot; a clipped frame shows fewer, counted by its rows.
    if (index.downsampled && shown.length === snapshots.length) series.recorded = index.count;
    this.frame = frame;
    this.scheduleLossPoll(frame);
    // The URL says what is shown (names, not guesses), without a new history entry.
    if (Object.keys(fixes).length > 0) this.go(formatState({ ...s, ...fixes }), false, false);
    const state = this.state;
    window.__gradscope.view = state.view;
    this.current = series;
    this.currentRun = run;
    renderHeader(this.header, run);
    // One context for every view of this render: its state, the series, the frame's data and bound.
    const ctx = viewContext(series, {
      state,
      width,
      lossPoints,
      data: frame,
      upTo: frame.upTo,
      current: () => seq === this.seq,
      set: (patch, push) => this.set(patch, push),
    });
    // Drawn when it arrives, the figure not waiting for it; the render is not ready before it is shown.
    const verdictsShown = diagnosis.then(async (d) => {
      if (seq !== this.seq) return;
      this.showVerdicts(d, series.key.layer, frame.upTo);
      if (d instanceof Error || d === null) return;
      // The panel's padding (16 each side) and the evidence's indent (12), and slack for rounding.
      const evidenceWidth = Math.max(320, this.verdicts.clientWidth - 32 - 12 - 8);
      await this.evidence.render(this.verdicts, { ...ctx, width: evidenceWidth }, d);
    });
    renderControls(this.controls, series, state, runs, {
      set: (patch, push) => this.set(patch, push),
      downloadPng: () => void this.downloadPng(),
      exportUrl: (x) => this.api.exportUrl(x.run.id, x.key, x.iterations),
    });
    this.showNotices(notices);
    this.status.textContent = describe(series);
    this.status.dataset.upTo = frame.upTo === null ? '' : String(frame.upTo);
    this.lastWidth = width;
    const result = await drawFigure(ctx, (figure, charts) => {
      this.clearFigure();
      this.main.append(figure);
      this.charts = charts;
    });
    if (!result) return;
    // The paint is done when the browser has produced the next frame with it.
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    if (seq !== this.seq) return;
    window.__gradscope.lastPaintMs = performance.now() - result.arrived;
    window.__gradscope.panels = result.panels;
    const lossPaintMs = await this.strip.render(ctx);
    if (seq !== this.seq) return;
    window.__gradscope.lossPaintMs = lossPaintMs ?? 0;
    await verdictsShown;
  }

  private renderNoRuns(): void {
    this.renderEmpty(
      null,
      [],
      h('p', {}, h('strong', {}, 'No runs recorded yet.')),
      h(
        'p',
        {},
        'Train with the gradscope callback writing to the store this server reads, then reload. ',
        h('a', { href: '#/gallery' }, 'Gallery'),
      ),
    );
  }

  private renderNoSnapshots(run: RunDetails): void {
    this.renderEmpty(
      run,
      [
        followButton(this.state, run, {
          set: (patch, push) => this.set(patch, push),
          downloadPng: () => {},
          exportUrl: () => '',
        }),
      ],
      'This run has no snapshots yet: they appear here as training records them (turn on Follow).',
    );
  }

  /** The verdict panel: a run's diagnosis (the shown layer marked), a notice for an error, or nothing. */
  private showVerdicts(
    state: VerdictState,
    shownLayer: string | null = null,
    upTo: number | null = null,
  ): void {
    if (state === null) this.verdictRun = null;
    this.evidence.clear();
    renderVerdicts(
      this.verdicts,
      state,
      shownLayer,
      (layer) => this.set({ layer, part: null, iterations: [] }, true),
      upTo,
    );
  }

  /** A page with nothing to draw: the run's header (or none), these controls, and a status message. */
  private renderEmpty(run: RunDetails | null, controls: Node[], ...message: (Node | string)[]): void {
    this.strip.clear();
    this.showVerdicts(null);
    this.current = null;
    this.currentRun = run;
    renderHeader(this.header, run);
    this.controls.replaceChildren(...controls);
    this.showNotices([]);
    this.status.textContent = '';
    this.clearFigure();
    window.__gradscope.panels = 0;
    this.main.append(h('div', { class: 'empty', role: 'status' }, ...message));
  }

  /** ← / → step the last compared iteration through the recorded ones (not while typing in a field or on the tabs). */
  private onKey(e: KeyboardEvent): void {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.defaultPrevented) return;
    const t = e.target as HTMLElement | null;
    if (t && (t.closest('input, select, textarea, [role="tablist"]') || t.isContentEditable)) return;
    const series = this.current;
    if (this.route.page !== 'run' || !series) return;
    const dir = e.key === 'ArrowRight' ? 1 : -1;
    if (series.recorded === undefined) {
      const next = stepIteration(series.iterations, series.available, dir);
      if (!next) return;
      e.preventDefault();
      this.set({ iterations: next, follow: false });
      return;
    }
    // A downsampled index (a long run): the neighbour is asked of the server.
    e.preventDefault();
    void this.data
      .seriesIndex(series.run.id, series.key)
      .then((index) => index.step(series.iterations, dir))
      .then((next) => {
        if (next && this.current === series) this.set({ iterations: next, follow: false });
      })
      .catch((err: unknown) =>
        this.showNotices([`could not step to the next iteration: ${userMessage(err)}`]),
      );
  }

  private async downloadPng(): Promise<void> {
    const s = this.state;
    const its = this.current?.iterations.join('_');
    await downloadPng(this.main, pngName(['gradscope', s.run, s.layer, s.kind, s.part, s.view, its]));
  }

  private liveUrl(): string {
    const s = this.state;
    const runId = this.currentRun?.id ?? null;
    // The gallery and the compare page listen to every run (compare keeps the events of its runs: shows()).
    return this.route.page !== 'run'
      ? this.api.eventsUrl(null)
      : s.follow && runId
        ? this.api.eventsUrl(runId)
        : '';
  }

  /**
   * While following, a running run whose loss (sent in batches) holds its frame behind the stored snapshots is
   * asked again every LOSS_POLL_MS: no event says a loss point was stored.
   */
  private scheduleLossPoll(frame: RunFrame): void {
    clearTimeout(this.lossPoll);
    if (!frame.heldByLoss || !this.state.follow) {
      this.lossStall = { upTo: null, polls: 0 };
      return;
    }
    // A loss that does not move (a capture that stopped sending it) is asked less and less often.
    const stalled = frame.upTo === this.lossStall.upTo;
    this.lossStall = { upTo: frame.upTo, polls: stalled ? this.lossStall.polls + 1 : 0 };
    const delay = Math.min(LOSS_POLL_MAX_MS, LOSS_POLL_MS * 2 ** this.lossStall.polls);
    this.lossPoll = setTimeout(() => {
      if (this.frame !== frame || this.route.page !== 'run' || !this.state.follow) return;
      if (this.currentRun) this.data.forgetRun(this.currentRun.id);
      void this.render();
    }, delay);
  }

  /** Whether a stored snapshot changes what is on screen. */
  private shows(ev: SnapshotEvent): boolean {
    if (this.route.page === 'compare') return this.compare.shows(ev);
    if (this.route.page === 'gallery' || this.route.page === 'runs') return true;
    const c = this.current;
    if (c === null) return this.currentRun?.id === ev.run;
    // Followed, every series of the run is on the page somewhere (each layer's evidence, the horizons).
    if (this.state.follow && c.run.id === ev.run) return true;
    if (c.run.id !== ev.run || c.key.layer !== ev.layer || c.key.kind !== ev.kind) return false;
    return this.state.view === 'weights' || sameKey(c.key, ev);
  }
}

function sameKey(key: SeriesKey, ev: SnapshotEvent): boolean {
  return key.part === (ev.part ?? null);
}
