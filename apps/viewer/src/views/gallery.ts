// The gallery: every run with its name, description (when it has one), status and model summary, each a link to
// its views; and what to do when there is no run yet.
import type { RunDetails, RunRecord } from '../api';
import { h } from '../dom';
import { defaultState, formatState, type Kind, type View } from '../state';
import { runList } from './runList';

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
          h('p', { class: 'example-look' }, entry.lookFor),
        ),
      ),
    ),
  );
}

/** A run's description: `description`, or `meta.description` (runs carry free-form metadata). */
export function runDescription(run: RunRecord): string {
  if (typeof run.description === 'string' && run.description) return run.description;
  const d = run.meta?.description;
  return typeof d === 'string' ? d : '';
}

export function runLink(run: string): string {
  return formatState({ ...defaultState(), page: 'run', run });
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

export function renderGallery(
  root: HTMLElement,
  runs: RunRecord[],
  details: Map<string, RunDetails | Error>,
): number {
  const examples = examplesSection(runs);
  if (examples) root.append(examples);
  root.append(h('h2', { class: 'figure-title' }, 'Runs'));
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
    const description = runDescription(run) || (d && !(d instanceof Error) ? runDescription(d) : '');
    const card = h(
      'li',
      { class: 'run-card' },
      h(
        'div',
        { class: 'run-head' },
        h('a', { href: runLink(run.name || run.id), class: 'run-name' }, run.name || run.id),
        h('span', { class: `status status-${run.status}` }, run.status),
      ),
      description ? h('p', { class: 'run-description' }, description) : null,
      h(
        'p',
        { class: 'run-facts' },
        `started ${new Date(run.startedAt).toLocaleString()} · ${run.snapshots} snapshots · last iteration ${
          run.lastIteration ?? '—'
        } · ${run.backend} · tfjs ${run.tfjsVersion} · ${run.host}`,
      ),
    );
    if (d instanceof Error)
      card.append(h('p', { class: 'error' }, `model summary unavailable: ${d.message}`));
    else if (d) {
      const m = d.model;
      card.append(
        h(
          'p',
          { class: 'run-facts' },
          `${m.name} (${m.className}) · input ${shape(m.inputShape)} · loss ${(m.losses ?? []).join(', ') || '—'}${
            m.optimizer ? ` · ${m.optimizer}` : ''
          } · capture ${d.options.capture.join(', ')} in ${d.options.mode} mode${
            d.options.every ? ` every ${d.options.every}` : ''
          }`,
        ),
        modelTable(d),
      );
    }
    return card;
  };
  root.append(runList(runs, cardOf));
  return runs.length;
}
