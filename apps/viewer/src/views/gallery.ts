// The gallery: every run with its name, description (when it has one), status and model summary, each a link to
// its views; and what to do when there is no run yet.
import type { RunDetails, RunRecord } from '../api';
import { h } from '../dom';
import { defaultState, formatState } from '../state';

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
  const list = h('ul', { class: 'gallery' });
  for (const run of [...runs].sort((a, b) => b.startedAt - a.startedAt)) {
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
    list.append(card);
  }
  root.append(list);
  return runs.length;
}
