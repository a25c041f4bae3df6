// The compare page (`#/compare?runs=a,b,c…`): two to eight runs on one page — their loss curves overlaid, their
// memory horizon over training overlaid (gradient kinds only), their per-timestep norms at the chosen iterations
// on one log axis, and their flow maps side by side on one colour scale; layers matched by role when names
// differ. With `by=` (a group or a parameter) any number of runs, one band per group (views/compareBands.ts).
// Every run's or group's verdicts are shown; the kind drawn is, unless asked, the one the verdict rests on.
// What to show is worked out by compareData.ts (pure); this file loads and draws. Titles and the colour bar
// name the kind's norm as the flow view does (flow.ts's flowLabels).
import type { RunOutcomeJson, Verdict } from '@gradscope/format';
import { VERDICTS } from '@gradscope/format';
import uPlot from 'uplot';
import type { FlowResponse, LayerInfo, RunDetails, RunRecord } from '../api';
import { timestepLogAxes } from '../axes';
import { lut, SEQUENTIAL } from '../colormap';
import {
  assembleCompare,
  type ComparedGroup,
  type ComparedRun,
  type CompareView,
  matchSeries,
  pickRecords,
} from '../compareData';
import { BANDS, type CompareState, formatCompare, MAX_RUNS, parseCompare } from '../compareState';
import { smoothingSlider } from '../controls';
import { type DataCache, type SnapshotEvent, scalarPoints, sharedRead } from '../data';
import { button, checkbox, h, select, textInput } from '../dom';
import { colorbar, flowMapPanel, leftMarginFor } from '../draw';
import { type FlowLabels, flowLabels } from '../flow';
import { hoverReadout } from '../hover';
import { MAX_COMPARED } from '../iterations';
import { matrixValues } from '../matrix';
import { readoutNumber } from '../readout';
import { isWeightKind, pickRun } from '../resolve';
import { matchLayers, rolesOf } from '../roles';
import { runKey, runOption } from '../runNames';
import { decadeTicks, logRange, nearestIndex, sharedLogNorms, timestepSplits } from '../scales';
import { formatNumber, KINDS, type Kind, runLink } from '../state';
import {
  baselineCurve,
  decodeScalars,
  horizonCharts,
  ITERATION_DASH,
  type LossCurve,
  legendLines,
  lossChart,
  pickLoss,
  trainingWidths,
} from '../training';
import { groupFlow, horizonBands, lossBands, normBands } from './compareBands';

export type { ComparedRun } from '../compareData';
export { pickKind } from '../compareData';

/** What the compare page needs of the app around it. */
export interface CompareHost {
  data: DataCache;
  header: HTMLElement;
  controls: HTMLElement;
  status: HTMLElement;
  showNotices(notices: string[]): void;
  width(): number;
  /** Puts the figure on the page (replacing the previous one) with the charts to destroy with it. */
  mount(figure: HTMLElement, charts: uPlot[]): void;
  /** Goes to a URL fragment (a new history entry when `push`) and renders it unless `render` is false (a URL
   * fixed to say what is already being shown): the app's one way to move. */
  go(url: string, push: boolean, render?: boolean): void;
}

/** Poll for new loss points this often while a compared run is training (scalars come every step, events do not). */
const LOSS_POLL_MS = 2000;

/** Short verdict words for pills and tallies. */
const SHORT: Record<Verdict, string> = {
  'learning-long': 'long',
  'learning-short': 'short',
  'not-learning': 'not learning',
  'insufficient-data': 'no data',
};

/** A run's loss as a curve of the loss chart: ÷ its baseline when the page draws ratios. */
function lossCurve(c: ComparedRun, ratio: boolean): LossCurve | null {
  if (!c.loss) return null;
  return {
    label: `${c.label} · ${c.loss.name}${ratio ? ' ÷ baseline' : ''}`,
    color: c.color,
    iterations: c.loss.iterations,
    values: ratio ? c.loss.values.map((v) => v / c.baseline!) : c.loss.values,
  };
}

export class ComparePage {
  private runIds = new Set<string>();
  private poll: ReturnType<typeof setInterval> | undefined;
  private state: CompareState = parseCompare('');

  constructor(private readonly host: CompareHost) {}

  /** Whether a stored snapshot changes the page (one of the compared runs). */
  shows(ev: SnapshotEvent): boolean {
    return this.runIds.has(ev.run);
  }

  /** The page is left: stop polling. */
  leave(): void {
    clearInterval(this.poll);
    this.poll = undefined;
    this.runIds.clear();
  }

  private set(patch: Partial<CompareState>, push = false): void {
    this.host.go(formatCompare({ ...this.state, ...patch }), push);
  }

  /** Renders the compare page of `s` (the route's state, route.ts). */
  async render(s: CompareState, current: () => boolean): Promise<void> {
    const host = this.host;
    const hook = window.__gradscope;
    this.state = s;
    host.status.textContent = 'loading runs…';
    let runs = await host.data.runs();
    if (s.runs.some((w) => !pickRun(w, runs).run)) runs = await host.data.runs(true);
    const picked = pickRecords(s, runs);
    const records = picked.records;
    const width = host.width();
    // Runs of a sweep share their model: with groups, one run's details and layer list stand for every run
    // recording the same layers (a group of 300 runs then costs two requests a run, its scalars and its flow).
    const shared = new Map<string, Promise<[RunDetails, LayerInfo[]]>>();
    const model = async (r: RunRecord): Promise<[RunDetails, LayerInfo[]]> => {
      const key = s.by === null ? r.id : JSON.stringify(r.layers);
      const [d, l] = await sharedRead(shared, key, () => host.data.runWithLayers(r.id));
      // The run's own record (name, status, params…) over its stand-in's model and options.
      return [d.id === r.id ? d : { ...d, ...r }, l];
    };
    // Every run's verdicts come in one answer (GET /api/outcomes); a page without them still draws.
    const [models, scalars, outcomes] = await Promise.all([
      Promise.all(records.map(model)),
      Promise.all(records.map((r) => host.data.scalars(r, scalarPoints(width / 2)).catch(() => null))),
      host.data.api.outcomes().then(
        (o) => o.runs,
        (): RunOutcomeJson[] | null => null,
      ),
    ]);
    const details = models.map((m) => m[0]);
    const layerLists = models.map((m) => m[1]);
    const series = matchSeries(s, details, layerLists);
    const flows = await Promise.all(
      records.map((r, i) => {
        const key = series.flowKeys[i];
        if (!key) return null;
        // A grouped run whose layers differ from its stand-in's in kinds has no such flow: left out, not fatal.
        const read = host.data.flow(r.id, key);
        return s.by === null ? read : read.catch(() => null);
      }),
    );
    if (!current()) return;
    const arrived = performance.now();
    const view = assembleCompare(s, runs, records, details, layerLists, scalars, series, flows, outcomes);
    const notices = [...picked.notices, ...series.notices, ...view.notices];
    if (outcomes === null) notices.push('the verdicts could not be loaded (GET /api/outcomes failed)');
    const kind = series.kind;
    const matchLabel = series.match.label;
    // The URL says what is shown: the runs found, the kind drawn.
    if (Object.keys(view.fixes).length > 0) {
      this.state = { ...s, ...view.fixes };
      host.go(formatCompare(this.state), false, false);
    }
    this.runIds = new Set(records.map((r) => r.id));
    hook.view = 'compare';
    const compared = view.runs;
    const groups = view.groups;
    this.renderHeader(records.length, groups?.length ?? null);
    const chosen = view.chosen;
    this.renderControls(runs, view, matchLabel, kind);
    host.showNotices(notices);
    const running = compared.filter((c) => c.details.status === 'running');
    host.status.textContent = `${groups ? `${groups.length} groups by ${s.by} · ` : ''}${records.length} runs · ${matchLabel} · ${kind}${
      running.length ? ` · following ${running.map((c) => c.label).join(', ')} live` : ''
    }`;

    const figure = h('div', { class: 'figure-inner compare-page' });
    figure.dataset.runs = compared.map((c) => c.key).join(',');
    const charts: uPlot[] = [];
    host.mount(figure, charts);
    figure.append(
      h(
        'h2',
        { class: 'figure-title', 'data-png-text': '' },
        groups
          ? `Compare ${groups.length} group${groups.length === 1 ? '' : 's'} by ${s.by} (${records.length} runs) — ${matchLabel} · ${kind}`
          : `Compare ${records.length} runs — ${matchLabel} · ${kind}`,
      ),
      groups ? groupLegend(groups, kind) : runLegend(compared, kind),
    );
    let panels = 0;
    // Row 1: loss | horizon over training.
    const row1 = h('div', { class: 'training-row' });
    figure.append(row1);
    const { loss: lossWidth, side: sideWidth } = trainingWidths(width);
    const lossCol = h('div', { class: 'training-col' });
    row1.append(lossCol);
    // The options under the chart wrap within its width instead of pushing the horizon charts to the next line.
    lossCol.style.width = `${lossWidth}px`;
    const ratio = view.lossRatio;
    const t0 = performance.now();
    const labels = flowLabels(kind);
    const horizonCol = h('div', { class: 'training-col training-pair' });
    if (groups) {
      const chart = lossBands(lossCol, groups, {
        band: s.band,
        width: lossWidth,
        height: 220,
        logY: s.logY,
        ratio,
      });
      if (chart) {
        charts.push(chart);
        panels++;
      } else lossCol.append(h('p', { class: 'empty' }, 'None of these runs recorded training scalars.'));
      lossCol.append(
        h(
          'div',
          { class: 'control-row training-options' },
          checkbox('log y', s.logY, (v) => this.set({ logY: v })),
        ),
      );
      this.follow([], compared, () => {});
      row1.append(horizonCol);
      if (labels.gradient) {
        const hz = horizonBands(horizonCol, groups, { band: s.band, width: sideWidth, height: 220 });
        charts.push(...hz);
        panels += hz.length;
      } else horizonCol.append(h('p', { class: 'empty horizon-empty' }, noHorizon(kind, labels)));
      const norms = normBands(groups, chosen, { band: s.band, width: Math.min(width, 900), kind, labels });
      if (norms) {
        figure.append(norms.block);
        charts.push(norms.chart);
        panels++;
      }
      // Row 3: each group's flow map, the geometric mean of its runs' norms, on one colour scale.
      const maps = flowMaps(
        groups.flatMap((g) => {
          const flow = groupFlow(g);
          const c = g.runs.find((x) => x.flow);
          return flow && c
            ? [
                {
                  ...c,
                  flow,
                  key: g.label,
                  label: `${g.label} (geometric mean of ${g.runs.filter((x) => x.flow).length})`,
                  color: g.color,
                },
              ]
            : [];
        }),
        chosen,
        width,
        s.flowCmap,
        labels,
      );
      if (maps) {
        figure.append(maps.block);
        panels += maps.panels;
      }
    } else {
      const curves = compared.flatMap((c) => lossCurve(c, ratio) ?? []);
      if (curves.length > 0) {
        const base = ratio ? baselineCurve(curves, 1) : null;
        const loss = lossChart(lossCol, {
          title: `${[...new Set(compared.flatMap((c) => (c.loss ? [c.loss.name] : [])))].join(' / ')}${ratio ? ' ÷ baseline' : ''} over training (${curves.length} runs, smoothed ${s.smooth.toFixed(2)})`,
          width: lossWidth,
          height: 220,
          curves: base ? [...curves, base] : curves,
          smooth: s.smooth,
          logY: s.logY,
          marks: {
            iterations: view.iterations,
            chosen,
            chosenColor: () => '#333',
            onPick: (it, add) =>
              this.set({
                iterations: add
                  ? [...new Set([...chosen, it])].sort((a, b) => a - b).slice(-MAX_COMPARED)
                  : [it],
              }),
          },
        });
        charts.push(loss.chart);
        panels++;
        lossCol.append(
          h(
            'div',
            { class: 'control-row training-options' },
            smoothingSlider(s.smooth, loss.setSmoothing, (v) => this.set({ smooth: v })),
            checkbox('log y', s.logY, (v) => this.set({ logY: v })),
          ),
        );
        this.follow(running, compared, (next) => loss.setCurves(base ? [...next, base] : next), ratio);
      } else {
        lossCol.append(h('p', { class: 'empty' }, 'None of these runs recorded training scalars.'));
        this.follow([], compared, () => {});
      }
      row1.append(horizonCol);
      // The memory horizon is a gradient's: a horizon of activations is left out, and the slot says why.
      const hz = horizonCharts(
        horizonCol,
        labels.gradient
          ? compared.flatMap((c) => (c.flow ? [{ label: c.label, color: c.color, flow: c.flow }] : []))
          : [],
        sideWidth,
        220,
        labels.gradient ? undefined : noHorizon(kind, labels),
      );
      charts.push(...hz);
      panels += hz.length;
      // Row 2: norm lines at the chosen iterations.
      const norms = normLines(compared, chosen, Math.min(width, 900), kind, labels);
      if (norms) {
        figure.append(norms.block);
        charts.push(norms.chart);
        panels++;
      }
      // Row 3: flow maps side by side on one colour scale.
      const maps = flowMaps(compared, chosen, width, s.flowCmap, labels);
      if (maps) {
        figure.append(maps.block);
        panels += maps.panels;
      }
    }
    const lossDrawMs = performance.now() - t0;
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    if (!current()) return;
    hook.lastPaintMs = performance.now() - arrived;
    hook.panels = panels;
    figure.dataset.lossDrawMs = lossDrawMs.toFixed(2);
  }

  /** Keeps the loss curves of running runs up to date between snapshot events. */
  private follow(
    running: ComparedRun[],
    compared: ComparedRun[],
    update: (curves: LossCurve[]) => void,
    ratio = false,
  ): void {
    clearInterval(this.poll);
    this.poll = undefined;
    if (running.length === 0) return;
    const data = this.host.data;
    this.poll = setInterval(async () => {
      try {
        const fresh = await Promise.all(
          compared.map(async (c) => {
            if (c.details.status !== 'running' || !c.loss) return lossCurve(c, ratio);
            const res = await data.scalars(c.record, scalarPoints(this.host.width() / 2));
            const l = pickLoss(decodeScalars(res));
            return lossCurve(
              l
                ? { ...c, loss: { ...c.loss, iterations: l.iterations, values: l.values, count: l.count } }
                : c,
              ratio,
            );
          }),
        );
        update(fresh.flatMap((c) => (c ? [c] : [])));
      } catch {
        // the next snapshot event re-renders the page anyway
      }
    }, LOSS_POLL_MS);
  }

  private renderHeader(n: number, groups: number | null): void {
    const crumbs = h(
      'nav',
      { class: 'crumbs', 'aria-label': 'pages' },
      h('a', { href: '#/gallery', class: 'brand' }, 'gradscope'),
      h('span', { class: 'sep' }, '/'),
      h('a', { href: '#/runs', class: 'crumb-link' }, 'runs table'),
      h('span', { class: 'sep' }, '/'),
      h(
        'span',
        { class: 'run-title' },
        groups === null ? `compare ${n} runs` : `compare ${groups} groups of ${n} runs`,
      ),
    );
    this.host.header.replaceChildren(crumbs);
  }

  private renderControls(all: readonly RunRecord[], view: CompareView, roleLabel: string, kind: Kind): void {
    const s = this.state;
    const compared = view.runs;
    const names = compared.map((c) => c.key);
    const row1 = h('div', { class: 'control-row' });
    const chips = h('div', { class: 'run-chips', role: 'group', 'aria-label': 'compared runs' });
    if (view.groups) {
      // Groups of many runs: one chip per group (its runs are listed in the legend), ungroup to see lines.
      chips.append(h('span', { class: 'group-label' }, `Groups by ${s.by}`));
      for (const g of view.groups)
        chips.append(
          h(
            'span',
            { class: 'run-chip' },
            swatch(g.color),
            `${g.label} (${g.runs.length})`,
            button(
              '×',
              () => this.set({ runs: names.filter((_, k) => compared[k]!.group !== g.label) }, true),
              {
                class: 'chip-remove',
                'aria-label': `remove the group ${g.label} from the comparison`,
                title: 'remove from the comparison',
              },
            ),
          ),
        );
    } else {
      chips.append(h('span', { class: 'group-label' }, 'Runs'));
      compared.forEach((c, i) => {
        chips.append(
          h(
            'span',
            { class: 'run-chip' },
            swatch(c.color),
            h('a', { href: runLink(names[i]!) }, c.label),
            button('×', () => this.set({ runs: names.filter((_, k) => k !== i) }, true), {
              class: 'chip-remove',
              'aria-label': `remove ${names[i]} from the comparison`,
              title: 'remove from the comparison',
            }),
          ),
        );
      });
      const others = all.filter((r) => !compared.some((c) => c.record.id === r.id));
      if (others.length > 0 && compared.length < MAX_RUNS)
        chips.append(
          select(
            'Add',
            [
              { value: '', label: '+ add a run' },
              ...others.map((r) => ({ value: runKey(r, all), label: runOption(r, all) })),
            ],
            '',
            (v) => v && this.set({ runs: [...names, v] }, true),
            { 'aria-label': 'add a run' },
          ),
        );
    }
    row1.append(chips);
    const runLayers = compared.map((c) => ({
      model: c.details.model.layers,
      recorded: c.layers.map((l) => l.layer),
    }));
    const roles = rolesOf(runLayers);
    const current = roles.find((r) => r.label === roleLabel)?.role ?? '';
    row1.append(
      select(
        'Layer',
        roles.map((r) => {
          const m = matchLayers(runLayers, r.role);
          return {
            value: r.role,
            label: `${r.label} (${[...new Set(m.names.filter((n) => n))].slice(0, 4).join(' / ')})`,
          };
        }),
        current,
        (v) => this.set({ layer: v }, true),
        { 'aria-label': 'layer (matched by role)' },
      ),
    );
    const kinds = KINDS.filter(
      (k) => !isWeightKind(k) && compared.some((c) => c.layers.find((l) => l.layer === c.layer)?.kinds[k]),
    );
    // Grouping keys: the group, and every parameter the runs have.
    const keys = [...new Set(['group', ...compared.flatMap((c) => Object.keys(c.record.params ?? {}))])];
    row1.append(
      select(
        'Kind',
        kinds.map((k) => ({ value: k, label: k })),
        kind,
        (v) => this.set({ kind: v as Kind }, true),
        { 'aria-label': 'kind' },
      ),
      select(
        'Group by',
        [{ value: '', label: 'nothing (a line per run)' }, ...keys.map((k) => ({ value: k, label: k }))],
        s.by ?? '',
        (v) => this.set({ by: v || null }, true),
        { 'aria-label': 'group runs by' },
      ),
      select(
        'Band',
        BANDS.map((b) => ({ value: b, label: b === 'std' ? 'mean ± std' : 'min–max' })),
        s.band,
        (v) => this.set({ band: v as CompareState['band'] }),
        { 'aria-label': 'what a band spans', disabled: s.by === null },
      ),
      iterationsInput(view.chosen.join(','), (v) =>
        this.set({
          iterations: [
            ...new Set(
              v
                .split(/[ ,]+/)
                .filter((x) => /^\d+$/.test(x))
                .map(Number),
            ),
          ]
            .sort((a, b) => a - b)
            .slice(0, MAX_COMPARED),
        }),
      ),
    );
    row1.append(
      select(
        'Colormap',
        SEQUENTIAL.map((c) => ({ value: c, label: c })),
        s.flowCmap,
        (v) => this.set({ flowCmap: v as CompareState['flowCmap'] }),
      ),
    );
    this.host.controls.replaceChildren(row1);
  }
}

/** What the horizon slot says for a kind that is not a gradient. */
function noHorizon(kind: Kind, labels: FlowLabels): string {
  return `No memory horizon for ${kind} (${labels.noun}): it measures how far back a gradient reaches; pick jacobian, input-grad or output-grad.`;
}

/** A run's verdict pills (one per recurrent layer, the matched one first), or why there are none. */
function verdictPills(c: ComparedRun): HTMLElement {
  if (c.verdicts === null) return h('span', { class: 'muted' }, 'verdict unknown');
  if (c.verdicts.length === 0) return h('span', { class: 'muted' }, 'no verdict');
  const ordered = [...c.verdicts].sort((a, b) => Number(b.layer === c.layer) - Number(a.layer === c.layer));
  return h(
    'span',
    { class: 'compare-verdicts' },
    ordered.map((v) =>
      h(
        'span',
        {
          class: `verdict-pill verdict-${v.verdict}`,
          'data-layer': v.layer,
          'data-verdict': v.verdict,
          title: `${v.layer}: ${v.verdict}${v.causes.length ? ` (${v.causes.join(', ')})` : ''}${
            v.lossRatio === null ? '' : `, loss ÷ baseline ${formatNumber(v.lossRatio)}`
          }`,
        },
        c.verdicts!.length > 1 ? `${v.layer}: ${SHORT[v.verdict]}` : SHORT[v.verdict],
      ),
    ),
  );
}

/** Every group: colour, value, runs, verdict tallies at the matched layer, its runs one click away. */
function groupLegend(groups: readonly ComparedGroup[], kind: Kind): HTMLElement {
  return h(
    'ul',
    { class: 'compare-runs compare-groups' },
    groups.map((g) => {
      const ratios = g.runs
        .map(
          (c) =>
            c.verdicts?.find((v) => v.layer === c.layer)?.lossRatio ?? c.verdicts?.[0]?.lossRatio ?? null,
        )
        .filter((v): v is number => v !== null)
        .sort((a, b) => a - b);
      const median =
        ratios.length === 0
          ? null
          : ratios.length % 2
            ? ratios[ratios.length >> 1]!
            : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
      const li = h(
        'li',
        { class: 'compare-run compare-group' },
        swatch(g.color),
        h('strong', { class: 'run-name' }, g.label),
        h('span', { class: 'run-facts' }, `n=${g.runs.length} runs`),
        h(
          'span',
          { class: 'group-tallies' },
          VERDICTS.filter((v) => g.verdicts[v] > 0).map((v) =>
            h(
              'span',
              { class: `verdict-pill verdict-${v}`, 'data-verdict': v, 'data-count': String(g.verdicts[v]) },
              `${SHORT[v]} ${g.verdicts[v]} of ${g.runs.length}`,
            ),
          ),
        ),
        h(
          'span',
          { class: 'run-facts' },
          `${median === null ? '' : `loss ÷ baseline median ${formatNumber(median)} · `}${kind} of ${
            g.runs.filter((c) => c.flow).length
          } runs`,
        ),
        h(
          'details',
          { class: 'group-runs' },
          h('summary', {}, 'runs'),
          h(
            'span',
            { class: 'group-run-links' },
            g.runs.map((c) => h('a', { href: runLink(c.key), 'data-run': c.key }, c.label)),
          ),
        ),
      );
      li.dataset.group = g.label;
      li.dataset.runs = String(g.runs.length);
      return li;
    }),
  );
}

/** The compare page's iterations field, as wide as what it holds (never clipped: "20,100,20"). */
function iterationsInput(value: string, onChange: (v: string) => void): HTMLElement {
  const field = textInput('Iterations', value, onChange, {
    'aria-label': 'iterations of the norm lines',
    placeholder: 'first, middle, last',
  });
  const input = field.querySelector('input')!;
  const fit = () => {
    input.style.width = `${Math.max(12, input.value.length + 3)}ch`;
  };
  fit();
  input.addEventListener('input', fit);
  return field;
}

function swatch(color: string): HTMLElement {
  const el = h('span', { class: 'swatch run-swatch', 'aria-hidden': 'true' });
  // A CSS custom property set through the CSSOM: the CSP allows no inline style attributes.
  el.style.setProperty('--swatch', color);
  return el;
}

/** Every compared run: colour, name, verdicts, cell, the matched layer, status, steps and the last loss. */
function runLegend(compared: readonly ComparedRun[], kind: Kind): HTMLElement {
  return h(
    'ul',
    { class: 'compare-runs' },
    compared.map((c) => {
      const l = c.details.model.layers.find((x) => x.name === c.layer);
      const cell = l ? (l.innerClassName ? `${l.className}(${l.innerClassName})` : l.className) : '—';
      const lastLoss = c.loss?.values.at(-1) ?? null;
      const last = c.flow?.iterations.at(-1) ?? null;
      const li = h(
        'li',
        { class: 'compare-run' },
        swatch(c.color),
        h('a', { href: runLink(c.key), class: 'run-name' }, c.label),
        verdictPills(c),
        h('span', { class: `status status-${c.details.status}` }, c.details.status),
        h(
          'span',
          { class: 'run-facts' },
          `${c.layer ?? 'no such layer'} · ${cell}${l?.units ? `, ${l.units} units` : ''} · ${kind} at ${
            c.flow?.iterations.length ?? 0
          } iterations${last === null ? '' : ` (last ${last})`} · ${
            c.loss ? `${c.loss.count} loss points, last ${formatNumber(lastLoss ?? Number.NaN)}` : 'no loss'
          }`,
        ),
      );
      li.dataset.run = c.key;
      if (last !== null) li.dataset.last = String(last);
      return li;
    }),
  );
}

/** The rows of the chosen iterations in a run's flow matrix (nearest recorded one each). */
function chosenRows(flow: FlowResponse, chosen: readonly number[]): { it: number; row: number }[] {
  const out: { it: number; row: number }[] = [];
  for (const it of chosen) {
    const row = nearestIndex(flow.iterations, it);
    if (row >= 0 && !out.some((x) => x.row === row)) out.push({ it: flow.iterations[row]!, row });
  }
  return out;
}

/** The kind's norm (‖dL/dy_t‖, ‖y_t‖…) against t for every run at the chosen iterations: colour = run, dash = iteration, one log y axis. */
function normLines(
  compared: readonly ComparedRun[],
  chosen: readonly number[],
  width: number,
  kind: Kind,
  labels: FlowLabels,
): { block: HTMLElement; chart: uPlot } | null {
  const withFlow = compared.filter((c) => c.flow && c.flow.timesteps > 0 && c.flow.iterations.length > 0);
  if (withFlow.length === 0) return null;
  const T = Math.max(...withFlow.map((c) => c.flow!.timesteps));
  const xs = new Float64Array(T);
  for (let t = 0; t < T; t++) xs[t] = t;
  const rows: Float32Array[] = [];
  const series: uPlot.Series[] = [{ label: 'timestep' }];
  const meta: { run: string; it: number }[] = [];
  for (const [ri, c] of withFlow.entries()) {
    const flow = c.flow!;
    const norms = matrixValues(flow.norms);
    // Runs whose lines coincide stay visible: each run's lines are wider than those of the runs drawn after it.
    const lineWidth = 1.8 + 1.6 * (withFlow.length - 1 - ri);
    chosenRows(flow, chosen).forEach(({ it, row }, k) => {
      const line = new Float32Array(T).fill(Number.NaN);
      line.set(norms.subarray(row * flow.timesteps, (row + 1) * flow.timesteps));
      rows.push(line);
      meta.push({ run: c.label, it });
      series.push({
        label: `${c.label} @${it}`,
        stroke: c.color,
        width: lineWidth,
        dash: ITERATION_DASH[k % ITERATION_DASH.length]!,
        points: { show: false },
        value: (_u, v) => (v === null ? '—' : formatNumber(v)),
      });
    });
  }
  const yRange = logRange(rows);
  const data = [xs, ...rows.map((r) => Array.from(r, (v) => (v > 0 && Number.isFinite(v) ? v : null)))];
  const block = h('section', { class: 'training-block norm-lines' });
  block.append(
    h(
      'h3',
      { class: 'block-title', 'data-png-text': '' },
      `${labels.symbol} (${kind}) vs timestep at iterations ${chosen.join(', ')} — colour: run, dash: iteration`,
    ),
  );
  const xSplits = timestepSplits(T, width);
  const chart = new uPlot(
    {
      width,
      height: 260,
      plugins: [
        hoverReadout((idx, si) => [
          `${meta[si - 1]!.run}, iteration ${meta[si - 1]!.it}`,
          `timestep ${idx}`,
          `norm ${readoutNumber(rows[si - 1]![idx]!)}`,
        ]),
      ],
      cursor: { drag: { x: true, y: false }, points: { show: false } },
      scales: {
        x: { time: false, range: [0, Math.max(1, T - 1)] },
        y: { distr: 3, range: [yRange.lo, yRange.hi] },
      },
      axes: timestepLogAxes('timestep', xSplits, yRange.splits),
      series,
    },
    data as unknown as uPlot.AlignedData,
    block,
  );
  chart.root.setAttribute('role', 'img');
  chart.root.setAttribute('aria-label', `${labels.symbol} per timestep of every compared run, log scale`);
  chart.root.classList.add('norm-chart');
  legendLines(chart);
  return { block, chart };
}

/** The runs' flow maps side by side, one log colour range for all of them, the chosen iterations marked. */
function flowMaps(
  compared: readonly ComparedRun[],
  chosen: readonly number[],
  width: number,
  cmap: CompareState['flowCmap'],
  labels: FlowLabels,
): { block: HTMLElement; panels: number } | null {
  const withFlow = compared.filter((c) => c.flow && c.flow.timesteps > 0 && c.flow.iterations.length > 0);
  if (withFlow.length === 0) return null;
  const norms = withFlow.map((c) => matrixValues(c.flow!.norms));
  const { logs, lo, hi } = sharedLogNorms(norms);
  const table = lut(cmap);
  const block = h('section', { class: 'training-block flow-maps' });
  block.append(
    h(
      'h3',
      { class: 'block-title', 'data-png-text': '' },
      `${labels.title} — log10 ${labels.symbol} over iteration × timestep, one colour scale for every run`,
    ),
  );
  const row = h('div', { class: 'compare-row' });
  block.append(row);
  const n = withFlow.length;
  const cbWidth = 90;
  const gutter = 10;
  const mapHeight = Math.round(
    Math.min(320, Math.max(140, Math.max(...withFlow.map((c) => c.flow!.iterations.length)) * 6)),
  );
  withFlow.forEach((c, i) => {
    const flow = c.flow!;
    const T = flow.timesteps;
    const I = flow.iterations.length;
    const left = leftMarginFor({ count: I, value: (k) => flow.iterations[k]! }, mapHeight);
    const mapWidth = Math.max(100, Math.floor((width - cbWidth - 16 * n) / n) - left - gutter);
    const marked = chosenRows(flow, chosen).map((x) => x.row);
    const panel = h('section', { class: 'compare-block flow-map' });
    panel.dataset.run = c.key;
    panel.append(
      h('h3', { class: 'block-title', 'data-png-text': '' }, swatch(c.color), ` ${c.label} · ${c.layer}`),
    );
    panel.append(
      flowMapPanel({
        log: logs[i]!,
        iterations: flow.iterations,
        T,
        lo,
        hi,
        table,
        width: mapWidth,
        height: mapHeight,
        left,
        gutter,
        xTitle: 'timestep',
        label: `${labels.noun} of ${c.label}: log10 ${labels.symbol} per timestep (x) and iteration (y)`,
        readout: (t, r) => [
          c.label,
          `iteration ${flow.iterations[r]}`,
          `timestep ${t}`,
          `norm ${readoutNumber(norms[i]![r * T + t]!)}`,
        ],
        marks: marked.map((row) => ({ row, color: '#333' })),
      }),
    );
    row.append(panel);
  });
  const ticks = decadeTicks(lo, hi);
  const bar = colorbar(cmap, lo, hi, ticks, `log10 ${labels.symbol}`, mapHeight, (v) => v.toFixed(0));
  // The title wraps ("log10" over the norm) within the bar's own column instead of widening it.
  (bar.querySelector('.colorbar-title') as HTMLElement).style.maxWidth = '78px';
  row.append(bar);
  block.append(h('p', { class: 'axis-note' }, 'y: iteration (training goes down) · ◀ the chosen iterations'));
  return { block, panels: n };
}
