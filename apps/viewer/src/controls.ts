// The controls of a run page: header crumbs, run/layer/kind/part pickers, the view tablist, the compared
// iterations, the options of the current figure, and the status line. DOM only; the state lives in the URL.
import type { RunDetails, RunRecord } from './api';
import { DIVERGING, SEQUENTIAL } from './colormap';
import { button, checkbox, h, select, textInput } from './dom';
import { flowTabLabel } from './flow';
import { MAX_COMPARED } from './iterations';
import { exportName } from './png';
import type { Series } from './resolve';
import { runKey, runOption } from './runNames';
import {
  AUTO_ALL_SAMPLES,
  AUTO_TOP_SAMPLES,
  formatNumber,
  type HistMode,
  KINDS,
  type Kind,
  parseSample,
  VIEWS,
  type View,
  type ViewState,
} from './state';

export const VIEW_LABELS: Record<View, string> = {
  '2d': '2D heatmaps',
  '1d': '1D lines',
  '0d': '0D scatter',
  flow: 'Gradient flow',
  dist: 'Distribution',
  weights: 'Weights',
};

/** A view tab's label for a kind: the flow tab says what its figure shows ("Activation norms" for `output`). */
export function viewLabel(v: View, kind: Kind): string {
  return v === 'flow' ? flowTabLabel(kind) : VIEW_LABELS[v];
}

/** What the controls can do to the page. */
export interface ControlActions {
  set(patch: Partial<ViewState>, push?: boolean): void;
  downloadPng(): void;
  exportUrl(series: Series): string;
}

export function renderHeader(header: HTMLElement, run: RunDetails | null): void {
  const brand = h('a', { href: '#/gallery', class: 'brand' }, 'gradscope');
  const crumbs = h('nav', { class: 'crumbs', 'aria-label': 'pages' }, brand);
  if (run) {
    crumbs.append(
      h('span', { class: 'sep' }, '/'),
      h('span', { class: 'run-title' }, run.name || run.id),
      h('span', { class: `status status-${run.status}` }, run.status),
    );
  } else crumbs.append(h('span', { class: 'sep' }, '/'), h('span', { class: 'run-title' }, 'gallery'));
  header.replaceChildren(crumbs);
}

/** A slider for the smoothing weight: moves the chart as it is dragged, records the value on release. */
export function smoothingSlider(
  value: number,
  onInput: (v: number) => void,
  onChange: (v: number) => void,
): HTMLElement {
  const input = h('input', {
    type: 'range',
    min: 0,
    max: 0.99,
    step: 0.01,
    value: String(value),
    'aria-label': 'loss smoothing',
  });
  input.value = String(value);
  const out = h('output', {}, value.toFixed(2));
  input.addEventListener('input', () => {
    out.textContent = Number(input.value).toFixed(2);
    onInput(Number(input.value));
  });
  input.addEventListener('change', () => onChange(Number(input.value)));
  return h('label', { class: 'field smoothing' }, h('span', {}, 'Smoothing'), input, out);
}

/** Whether a view tab can draw the series. */
export function viewUsable(v: View, series: Pick<Series, 'zeroD' | 'hasTime' | 'weightKind'>): boolean {
  if (v === '0d') return series.zeroD;
  if (v === '2d' || v === '1d') return !series.zeroD;
  if (v === 'flow') return series.hasTime;
  if (v === 'weights') return series.weightKind;
  return true;
}

/** The id of the figure the tabs control (aria-controls). */
export const FIGURE_ID = 'figure';

/**
 * The view tabs as a WAI-ARIA tablist: one tab stop (the selected tab), arrow keys / Home / End move between the
 * usable tabs and select them (automatic activation).
 */
export function viewTabs(series: Series, view: View, onSelect: (v: View) => void): HTMLElement {
  const tabs = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'figure' });
  const usable = VIEWS.filter((v) => viewUsable(v, series));
  for (const v of VIEWS) {
    const ok = usable.includes(v);
    const selected = view === v;
    const label = viewLabel(v, series.key.kind);
    const tab = button(label, () => onSelect(v), {
      role: 'tab',
      id: `tab-${v}`,
      'aria-selected': String(selected),
      'aria-controls': FIGURE_ID,
      tabindex: selected ? '0' : '-1',
      disabled: !ok,
      class: selected ? 'tab active' : 'tab',
      title: ok
        ? label
        : `${label}: not for ${
            v === 'weights'
              ? 'this kind (pick weight or weight-grad)'
              : series.zeroD
                ? 'a layer without a time axis'
                : v === 'flow'
                  ? 'a series without a timestep axis'
                  : 'this series'
          }`,
    });
    tab.dataset.view = v;
    tabs.append(tab);
  }
  tabs.addEventListener('keydown', (e) => {
    const i = usable.indexOf(view);
    let next: View | undefined;
    if (e.key === 'ArrowRight') next = usable[(i + 1) % usable.length];
    else if (e.key === 'ArrowLeft') next = usable[(i - 1 + usable.length) % usable.length];
    else if (e.key === 'Home') next = usable[0];
    else if (e.key === 'End') next = usable[usable.length - 1];
    if (!next) return;
    e.preventDefault();
    e.stopPropagation();
    if (next !== view) onSelect(next);
  });
  return tabs;
}

export function followButton(state: ViewState, run: RunDetails | null, actions: ControlActions): HTMLElement {
  const running = run?.status === 'running';
  return button(state.follow ? '● Following' : 'Follow live', () => actions.set({ follow: !state.follow }), {
    class: state.follow ? 'follow on' : 'follow',
    'aria-pressed': String(state.follow),
    title: running
      ? 'show new iterations as training records them'
      : 'this run is not running; follow anyway to see it resume',
  });
}

/** The status line: the layer, the recorded iterations, the shape and the (probe or batch) losses of the shown ones. */
export function describe(series: Series): string {
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
    ? `${series.recorded ?? a.length} iterations recorded (${a[0]}–${a[a.length - 1]})`
    : 'no iterations recorded';
  const shape = series.snapshots[0]
    ? ` · shape [${series.snapshots[0].shape.join(', ')}] (${series.snapshots[0].dims.join(', ')})`
    : '';
  const shown = series.iterations
    .map((it) => series.snapshots.find((x) => x.iteration === it))
    .filter((x) => x !== undefined)
    .map((x) => `${formatNumber(x.loss ?? Number.NaN)} at iteration ${x.iteration}`)
    .join(', ');
  // A snapshot's loss is the one its gradients are of: the probe's in probe mode, the batch's in batch mode.
  const lossWord = series.run.options?.mode === 'batch' ? 'training batch loss' : 'probe loss';
  return `${layerText} · ${range}${shape}${shown ? ` · ${lossWord} ${shown}` : ''}`;
}

export function renderControls(
  root: HTMLElement,
  series: Series,
  state: ViewState,
  runs: readonly RunRecord[],
  actions: ControlActions,
): void {
  const s = state;
  const set = actions.set;
  const row1 = h('div', { class: 'control-row' });
  row1.append(
    select(
      'Run',
      runs.map((r) => ({ value: runKey(r, runs), label: runOption(r, runs) })),
      s.run ?? '',
      (v) => set({ run: v, layer: null, part: null, iterations: [] }, true),
      { 'aria-label': 'run' },
    ),
    select(
      'Layer',
      series.layers.map((l) => ({ value: l.layer, label: `${l.layer} (${l.layerClass})` })),
      series.key.layer,
      (v) => set({ layer: v, part: null, iterations: [] }, true),
      { 'aria-label': 'layer' },
    ),
    select(
      'Kind',
      KINDS.filter((k) => series.layer.kinds[k]).map((k) => ({ value: k, label: k })),
      series.key.kind,
      (v) => set({ kind: v as Kind, part: null }, true),
      { 'aria-label': 'kind' },
    ),
  );
  const parts = series.layer.kinds[series.key.kind] ?? [null];
  if (s.view !== 'weights' && (parts.length > 1 || parts[0] !== null))
    row1.append(
      select(
        'Part',
        parts.map((p) => ({ value: p ?? '', label: p ?? 'whole output' })),
        series.key.part ?? '',
        (v) => set({ part: v || null }, true),
        { 'aria-label': 'part' },
      ),
    );
  row1.append(viewTabs(series, s.view, (v) => set({ view: v }, true)));

  const actionsEl = h('div', { class: 'actions' });
  actionsEl.append(
    followButton(s, series.run, actions),
    button('Download PNG', () => actions.downloadPng(), { title: 'the figure as one PNG' }),
    h(
      'a',
      {
        class: 'button-link',
        href: actions.exportUrl(series),
        // The part is in the name: every gate downloads as its own file.
        download: exportName(series.run.name || series.run.id, series.key, series.iterations),
        title: 'the compared iterations of this series as an Arrow IPC file',
      },
      'Export Arrow',
    ),
  );
  row1.append(actionsEl);

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
          set({ iterations: [...new Set(next)].sort((a, b) => a - b) });
        },
        { 'aria-label': `iteration ${i + 1}` },
      ),
    );
  }
  if (s.view === '2d' || s.view === '1d' || s.view === '0d' || s.view === 'weights')
    slots.append(checkbox('difference vs first', s.diff, (v) => set({ diff: v })));
  row2.append(slots);
  row2.append(figureOptions(series, s, set));
  root.replaceChildren(row1, row2);
}

function figureOptions(
  series: Series,
  s: ViewState,
  set: (patch: Partial<ViewState>, push?: boolean) => void,
): HTMLElement {
  const opts = h('div', { class: 'options', role: 'group', 'aria-label': 'figure options' });
  const first = series.snapshots[0];
  const samples = first?.dims[0] === 'sample' ? (first?.shape[0] ?? 1) : 1;
  // Channel parts come from the snapshot itself (a layer's output parts are not its weights' gates).
  const directions = (first?.channelParts?.length ?? 0) > 1;
  // auto (2D: every sample of a small probe; of a large one the mean |value| and the largest), all, one, or a
  // list typed in the box beside it.
  const listed = Array.isArray(s.sample) ? s.sample.join(',') : '';
  const sampleSelect = (view: '2d' | '1d') =>
    select(
      'Samples',
      [
        {
          value: 'auto',
          label:
            view === '2d' && samples > AUTO_ALL_SAMPLES
              ? `auto (mean |v| + ${AUTO_TOP_SAMPLES} largest)`
              : 'auto (all)',
        },
        { value: 'all', label: `all ${samples}` },
        ...(listed ? [{ value: listed, label: listed.replaceAll(',', ', ') }] : []),
        ...Array.from({ length: samples }, (_, i) => ({ value: String(i), label: String(i) })),
      ],
      listed || String(s.sample),
      (v) => set({ sample: parseSample(v) }),
      { 'aria-label': 'sample' },
    );
  const sampleList = () =>
    textInput(
      '',
      listed,
      (v) => set({ sample: v.trim() === '' ? 'auto' : parseSample(v.replace(/\s+/g, '')) }),
      {
        placeholder: 'e.g. 3,17',
        'aria-label': 'samples to show (comma-separated)',
        class: 'samples-input',
        size: 8,
      },
    );
  const scaleSelect = () =>
    select(
      'Colour scale',
      [
        { value: 'shared', label: 'shared' },
        { value: 'each', label: 'per iteration' },
      ],
      s.scale,
      (v) => set({ scale: v === 'each' ? 'each' : 'shared' }),
      {
        'aria-label': 'colour scale',
        title:
          typeof s.norm === 'number'
            ? 'a manual norm is one scale for every iteration'
            : 'one norm for every compared iteration, or one per iteration (trained iterations are often far smaller)',
      },
    );
  const rowsInput = () =>
    textInput(
      'Rows',
      s.rows === null ? '' : String(s.rows),
      (v) => set({ rows: /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : null }),
      { placeholder: 'auto', 'aria-label': 'rows of small multiples (n_rows)' },
    );
  const maxTInput = () =>
    textInput(
      'Max timesteps',
      s.maxT === null ? '' : String(s.maxT),
      (v) => set({ maxT: /^\d+$/.test(v) && Number(v) > 0 ? Number(v) : null }),
      { placeholder: 'all', 'aria-label': 'max timesteps' },
    );
  const ticks = () => checkbox('ticks', s.ticks, (v) => set({ ticks: v }));
  const borders = () => checkbox('borders', s.borders, (v) => set({ borders: v }));
  const normControls = () => {
    const out: HTMLElement[] = [
      select(
        'Norm',
        [
          { value: 'auto', label: 'auto (max |v|)' },
          { value: 'p99', label: 'auto (99th pct)' },
          { value: 'manual', label: 'manual (-a, a)' },
        ],
        typeof s.norm === 'number' ? 'manual' : s.norm,
        (v) =>
          set({
            norm: v === 'manual' ? (typeof s.norm === 'number' ? s.norm : 0.01) : (v as 'auto' | 'p99'),
          }),
        { 'aria-label': 'norm' },
      ),
    ];
    if (typeof s.norm === 'number')
      out.push(
        textInput(
          'a',
          String(s.norm),
          (v) => {
            const a = Math.abs(Number(v));
            if (Number.isFinite(a) && a > 0) set({ norm: a });
          },
          { 'aria-label': 'norm a, for (-a, a)' },
        ),
      );
    out.push(
      select(
        'Colormap',
        DIVERGING.map((c) => ({ value: c, label: c })),
        s.cmap,
        (v) => set({ cmap: v as ViewState['cmap'] }),
      ),
    );
    return out;
  };
  if (s.view === '2d') {
    opts.append(sampleSelect('2d'), sampleList(), rowsInput(), ...normControls(), scaleSelect());
    opts.append(
      select(
        'Timesteps on',
        [
          { value: 'x', label: 'x' },
          { value: 'y', label: 'y' },
        ],
        s.timeAxis,
        (v) => set({ timeAxis: v === 'y' ? 'y' : 'x' }),
      ),
      maxTInput(),
    );
    if (directions) {
      opts.append(checkbox('reflect_half', s.reflect, (v) => set({ reflect: v })));
      if (s.reflect) opts.append(checkbox('mirror channels', s.mirror, (v) => set({ mirror: v })));
    }
    opts.append(
      checkbox('colorbar', s.colorbar, (v) => set({ colorbar: v })),
      ticks(),
      borders(),
    );
  } else if (s.view === '1d') {
    opts.append(
      sampleSelect('1d'),
      sampleList(),
      rowsInput(),
      textInput('Channels', s.channels ?? '', (v) => set({ channels: v || null }), {
        placeholder: '0-15',
        'aria-label': 'channel range',
      }),
      checkbox('equal axes', s.equal, (v) => set({ equal: v })),
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
        (v) => set({ flowCmap: v as ViewState['flowCmap'] }),
      ),
    );
    if (directions) opts.append(checkbox('split directions', s.reflect, (v) => set({ reflect: v })));
  } else if (s.view === 'weights') {
    opts.append(
      ...normControls(),
      checkbox('colorbar', s.colorbar, (v) => set({ colorbar: v })),
    );
  } else {
    opts.append(
      select(
        'Histograms',
        [
          { value: 'bands', label: 'percentile bands' },
          { value: 'overlay', label: 'overlay' },
          { value: 'offset', label: 'offset' },
        ],
        s.hist,
        (v) => set({ hist: v as HistMode }),
        { 'aria-label': 'histogram mode' },
      ),
    );
    if (s.hist === 'bands') opts.append(checkbox('arcsinh y', s.asinh, (v) => set({ asinh: v })));
  }
  return opts;
}
