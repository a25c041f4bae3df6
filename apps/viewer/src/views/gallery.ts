// The gallery: every run with its name, description (when it has one), status and model summary, each a link to
// its views; and what to do when there is no run yet.
import type { RunDiagnosis } from '@gradscope/format';
import type { RunDetails, RunRecord } from '../api';
import { h } from '../dom';
import { runKey, runLabel } from '../runNames';
import { sparkline } from '../sparkline';
import { defaultState, formatNumber, formatState, type Kind, runLink, type View } from '../state';
import { lossName, pickBaseline, pickLosses, type Scalar } from '../training';
import { runList } from './runList';
import { VERDICT_WORDS } from './verdict';

/** What a card shows of a run's outcome: its diagnosis and its scalars (each null when not loaded). */
export interface RunOutcome {
  diagnosis: RunDiagnosis | Error | null;
  scalars: Scalar[] | null;
}

/** A gallery entry a run carries in `meta.gallery` (the demo's See RNN examples): a named, explained view. */
export interface GalleryEntry {
  id: string;
  title: string;
  lookFor: string;
  /** A viewer URL fragment of its own (`#/compare?runs=a,b,c&kind=…`) instead of `view` of this run. */
  href?: string;
  view: {
    view: View;
    layer: string;
    kind: Kind;
    iterations?: number[];
    sample?: number;
    norm?: number;
    rows?: number;
    reflectHalf?: boolean;
    part?: string;
  };
}

function galleryEntries(run: RunRecord): GalleryEntry[] {
  const g = run.meta?.gallery;
  return Array.isArray(g) ? (g as GalleryEntry[]).filter((e) => e && typeof e.id === 'string' && e.view) : [];
}

/** The URL of a gallery entry's view. */
export function entryLink(run: RunRecord, entry: GalleryEntry): string {
  // An entry of several runs (the compare page) carries its own viewer fragment.
  if (typeof entry.href === 'string' && entry.href.startsWith('#/')) return entry.href;
  const v = entry.view;
  return formatState({
    ...defaultState(),
    page: 'run',
    run: run.name || run.id,
    layer: v.layer,
    kind: v.kind,
    view: v.view,
    iterations: v.iterations ?? [],
    sample: v.sample ?? 'all',
    norm: v.norm ?? 'auto',
    rows: v.rows ?? null,
    reflect: v.reflectHalf ?? defaultState().reflect,
    part: v.part ?? null,
  });
}

/** EX1 < EX2 < … < EX7a < EX7b < EX10. */
const byExampleId = (a: string, b: string) => a.localeCompare(b, 'en', { numeric: true });

function examplesSection(runs: RunRecord[]): HTMLElement | null {
  const entries = runs.flatMap((run) => galleryEntries(run).map((entry) => ({ run, entry })));
  if (entries.length === 0) return null;
  entries.sort((a, b) => byExampleId(a.entry.id, b.entry.id));
  return h(
    'section',
    { class: 'examples' },
    h('h2', { class: 'figure-title' }, 'Examples'),
    h(
      'ol',
      { class: 'example-list' },
      entries.map(({ run, entry }) =>
        h(
          'li',
          { class: 'example' },
          h('a', { href: entryLink(run, entry), class: 'example-link' }, `${entry.id} — ${entry.title}`),
          h('span', { class: 'example-run' }, ` (run ${run.name})`),
          // Two sentences at most: the gallery leads with the runs' outcomes; the whole text is the tooltip.
          h('p', { class: 'example-look', title: entry.lookFor }, firstSentences(entry.lookFor, 2)),
        ),
      ),
    ),
  );
}

/** The first `n` sentences of a text (a sentence ends with . ! or ? before a space or the end). */
export function firstSentences(text: string, n: number): string {
  const ends = [...text.matchAll(/[.!?](?=\s|$)/g)];
  if (ends.length <= n) return text;
  return text.slice(0, ends[n - 1]!.index! + 1);
}

/** A run's description: `description`, or `meta.description` (runs carry free-form metadata). */
export function runDescription(run: RunRecord): string {
  if (typeof run.description === 'string' && run.description) return run.description;
  const d = run.meta?.description;
  return typeof d === 'string' ? d : '';
}

function shape(s: unknown): string {
  return JSON.stringify(s)?.replaceAll('null', 'None') ?? '';
}

function modelTable(details: RunDetails): HTMLElement {
  const rows = details.model.layers.map((l) =>
    h(
      'tr',
      { class: l.captured ? 'captured' : '' },
      h('td', {}, l.name),
      h('td', {}, l.innerClassName ? `${l.className}(${l.innerClassName})` : l.className),
      h('td', {}, l.units === undefined ? '' : String(l.units)),
      h('td', {}, l.returnSequences === undefined ? '' : l.returnSequences ? 'yes' : 'no'),
      h('td', {}, l.mergeMode ?? ''),
      h('td', {}, shape(l.outputShape)),
      h('td', {}, l.captured ? '●' : ''),
    ),
  );
  return h(
    'table',
    { class: 'model' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['layer', 'class', 'units', 'sequences', 'merge', 'output shape', 'recorded'].map((t) =>
          h('th', { scope: 'col' }, t),
        ),
      ),
    ),
    h('tbody', {}, rows),
  );
}

const SPARK_W = 180;
const SPARK_H = 40;

/** The verdict of every recurrent layer, one pill each (the run page's colours). */
function verdictBadges(d: RunDiagnosis | Error | null): HTMLElement {
  if (d === null) return h('p', { class: 'card-verdicts muted' }, 'verdict: not loaded');
  if (d instanceof Error)
    return h('p', { class: 'card-verdicts muted' }, `verdict unavailable: ${d.message}`);
  if (d.layers.length === 0)
    return h('p', { class: 'card-verdicts muted' }, 'no recurrent layer: no verdict');
  return h(
    'ul',
    { class: 'card-verdicts', 'aria-label': 'verdict per recurrent layer' },
    d.layers.map((l) =>
      h(
        'li',
        {
          class: `verdict-pill verdict-${l.verdict}`,
          'data-layer': l.layer,
          'data-verdict': l.verdict,
          title: `${VERDICT_WORDS[l.verdict]}: ${l.summary}`,
        },
        h('span', { class: 'card-verdict-layer' }, l.layer),
        ` ${l.verdict}${l.causes.length ? ` (${l.causes.join(', ')})` : ''}`,
      ),
    ),
  );
}

const SVG = 'http://www.w3.org/2000/svg';

/** The loss the verdict reads (the probe loss, else the first recorded) over training, the baseline dashed. */
function lossSpark(scalars: Scalar[] | null): HTMLElement {
  const losses = scalars ? pickLosses(scalars) : [];
  const loss = losses.find((l) => l.name === 'probe/loss') ?? losses[0];
  if (!loss) return h('p', { class: 'card-spark muted' }, 'no loss recorded');
  const baseline = scalars ? pickBaseline(scalars) : null;
  const { path, baselineY } = sparkline(loss.iterations, loss.values, baseline, SPARK_W, SPARK_H);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('width', String(SPARK_W));
  svg.setAttribute('height', String(SPARK_H));
  svg.setAttribute('viewBox', `0 0 ${SPARK_W} ${SPARK_H}`);
  svg.setAttribute('role', 'img');
  const last = loss.values[loss.values.length - 1]!;
  const words = `${lossName(loss.name)} over training, last ${formatNumber(last)}${
    baseline === null ? '' : `, baseline ${formatNumber(baseline)} (dashed)`
  }`;
  svg.setAttribute('aria-label', words);
  if (baselineY !== null) {
    const line = document.createElementNS(SVG, 'line');
    for (const [k, v] of [
      ['x1', '0'] as const,
      ['x2', String(SPARK_W)],
      ['y1', String(baselineY)],
      ['y2', String(baselineY)],
      ['class', 'spark-baseline'],
    ])
      line.setAttribute(k, v);
    svg.append(line);
  }
  const curve = document.createElementNS(SVG, 'path');
  curve.setAttribute('d', path);
  curve.setAttribute('class', 'spark-loss');
  svg.append(curve);
  return h(
    'div',
    { class: 'card-spark' },
    svg,
    h(
      'span',
      { class: 'spark-text' },
      `${lossName(loss.name)} ${formatNumber(last)}`,
      baseline === null || !Number.isFinite(last / baseline) ? '' : h('br'),
      baseline === null || !Number.isFinite(last / baseline)
        ? ''
        : `${formatNumber(last / baseline)}× the baseline`,
    ),
  );
}

/** The recurrent cell types of a model ("LSTM, Bidirectional(GRU)"), from its diagnosis or its captured layers. */
function cellTypes(d: RunDetails | Error | undefined, diagnosis: RunDiagnosis | Error | null): string {
  if (diagnosis && !(diagnosis instanceof Error) && diagnosis.layers.length > 0) {
    const model = d && !(d instanceof Error) ? d.model.layers : [];
    return [
      ...new Set(
        diagnosis.layers.map((l) => {
          const m = model.find((x) => x.name === l.layer);
          return m?.innerClassName ? `${m.className}(${m.innerClassName})` : l.layerClass;
        }),
      ),
    ].join(', ');
  }
  if (!d || d instanceof Error) return '';
  return [
    ...new Set(
      d.model.layers
        .filter((l) => l.captured)
        .map((l) => (l.innerClassName ? `${l.className}(${l.innerClassName})` : l.className)),
    ),
  ].join(', ');
}

export function renderGallery(
  root: HTMLElement,
  runs: RunRecord[],
  details: Map<string, RunDetails | Error>,
  outcomes: Map<string, RunOutcome> = new Map(),
): number {
  root.append(
    h(
      'div',
      { class: 'gallery-title-row' },
      h('h2', { class: 'figure-title' }, 'Runs'),
      // Every run a row with its parameters and verdicts: the way through a sweep of many runs.
      runs.length > 0
        ? h(
            'a',
            { href: '#/runs', class: 'button-link runs-table-link' },
            'Runs table: sort, filter, group →',
          )
        : null,
    ),
  );
  if (runs.length === 0) {
    root.append(
      h(
        'div',
        { class: 'empty', role: 'status' },
        h('p', {}, h('strong', {}, 'No runs recorded yet.')),
        h(
          'p',
          {},
          'Record one by passing a store sink to the callback in your training script — ',
          h('code', {}, "gradientCallback({ probe, sink: openStore('runs.gradscope') })"),
          ' — and serve that file with ',
          h('code', {}, 'gradscope serve runs.gradscope'),
          ', or send snapshots to this server (POST /api/ingest). Runs appear here as they start.',
        ),
      ),
    );
    return 0;
  }
  const cardOf = (run: RunRecord): HTMLElement => {
    const d = details.get(run.id);
    const outcome = outcomes.get(run.id) ?? { diagnosis: null, scalars: null };
    const description = runDescription(run) || (d && !(d instanceof Error) ? runDescription(d) : '');
    const cells = cellTypes(d, outcome.diagnosis);
    const card = h(
      'li',
      { class: 'run-card', 'data-run-id': run.id },
      h(
        'div',
        { class: 'run-head' },
        h('a', { href: runLink(runKey(run, runs)), class: 'run-name' }, runLabel(run, runs)),
        h('span', { class: `status status-${run.status}` }, run.status),
        cells ? h('span', { class: 'run-cells' }, cells) : null,
      ),
      h(
        'p',
        { class: 'run-facts' },
        `started ${new Date(run.startedAt).toLocaleString()} · last iteration ${run.lastIteration ?? '—'} · ${
          run.snapshots
        } snapshots`,
      ),
      h('div', { class: 'card-outcome' }, lossSpark(outcome.scalars), verdictBadges(outcome.diagnosis)),
      description ? h('p', { class: 'run-description' }, description) : null,
    );
    if (d instanceof Error)
      card.append(h('p', { class: 'error' }, `model summary unavailable: ${d.message}`));
    else if (d) {
      const m = d.model;
      // The model in detail, one click away: the card shows the outcome first.
      card.append(
        h(
          'details',
          { class: 'card-model' },
          h('summary', {}, `model: ${m.name} (${m.className}), input ${shape(m.inputShape)}`),
          h(
            'p',
            { class: 'run-facts' },
            `loss ${(m.losses ?? []).join(', ') || '—'}${m.optimizer ? ` · ${m.optimizer}` : ''} · capture ${d.options.capture.join(
              ', ',
            )} in ${d.options.mode} mode${d.options.every ? ` every ${d.options.every}` : ''} · ${run.backend} · tfjs ${
              run.tfjsVersion
            } · ${run.host}`,
          ),
          h('div', { class: 'model-scroll' }, modelTable(d)),
        ),
      );
    }
    return card;
  };
  root.append(runList(runs, cardOf));
  // The examples (the demo's See RNN views) after the runs: the first screen is the runs' outcomes.
  const examples = examplesSection(runs);
  if (examples) root.append(examples);
  return runs.length;
}
