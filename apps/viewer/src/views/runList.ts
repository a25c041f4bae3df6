// The gallery's run list: filter by text, sort by start time, status, snapshot count or name, and tick runs to
// open them together on the compare page. Filtering and sorting move the cards; nothing is fetched again.
import { compareNatural } from '@gradscope/format';
import type { RunRecord } from '../api';
import { compareLink, MAX_RUNS, MIN_RUNS } from '../compareState';
import { h, select } from '../dom';
import { runKey } from '../runNames';

export type RunSort = 'started' | 'status' | 'snapshots' | 'name';
export const RUN_SORTS: readonly { value: RunSort; label: string }[] = [
  { value: 'started', label: 'newest first' },
  { value: 'status', label: 'status (running first)' },
  { value: 'snapshots', label: 'most snapshots' },
  { value: 'name', label: 'name' },
];

/** Running first: what a user watching training looks for. */
const STATUS_ORDER: Record<string, number> = { running: 0, failed: 1, interrupted: 2, finished: 3 };

/** Whether every word of `query` occurs in `text` (case-insensitive); an empty query matches everything. */
export function matchesQuery(text: string, query: string): boolean {
  const t = text.toLowerCase();
  return query
    .toLowerCase()
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .every((w) => t.includes(w));
}

/** The runs to list: those whose text (`textOf`) matches `query`, in `sort` order (ties: newest first). */
export function filterSortRuns(
  runs: readonly RunRecord[],
  query: string,
  sort: RunSort,
  textOf: (run: RunRecord) => string,
): RunRecord[] {
  const newest = (a: RunRecord, b: RunRecord) => b.startedAt - a.startedAt || compareNatural(a.name, b.name);
  const by: Record<RunSort, (a: RunRecord, b: RunRecord) => number> = {
    started: newest,
    status: (a, b) => (STATUS_ORDER[a.status] ?? 9) - (STATUS_ORDER[b.status] ?? 9) || newest(a, b),
    snapshots: (a, b) => b.snapshots - a.snapshots || newest(a, b),
    name: (a, b) => compareNatural(a.name, b.name) || newest(a, b),
  };
  return runs.filter((r) => matchesQuery(textOf(r), query)).sort(by[sort]);
}

/** What the list keeps across re-renders (a live gallery redraws on every stored snapshot). */
const listState = { query: '', sort: 'started' as RunSort, selected: new Set<string>(), focused: false };

/** The list of run cards (`card(run)` builds one) with its toolbar. */
export function runList(runs: readonly RunRecord[], card: (run: RunRecord) => HTMLElement): HTMLElement {
  // The name when it is unique, else the id: two runs sharing a name stay two selections and two links.
  const key = (r: RunRecord) => runKey(r, runs);
  // Selections of runs that are gone are dropped.
  const present = new Set(runs.map(key));
  for (const k of listState.selected) if (!present.has(k)) listState.selected.delete(k);
  const cards = new Map<RunRecord, HTMLElement>();
  const texts = new Map<RunRecord, string>();
  for (const run of runs) {
    const el = card(run);
    const box = h('input', {
      type: 'checkbox',
      class: 'run-select',
      'aria-label': `select ${key(run)} to compare`,
      checked: listState.selected.has(key(run)),
    });
    box.checked = listState.selected.has(key(run));
    box.addEventListener('change', () => {
      if (box.checked) listState.selected.add(key(run));
      else listState.selected.delete(key(run));
      update();
    });
    el.querySelector('.run-head')?.prepend(box);
    el.dataset.run = key(run);
    cards.set(run, el);
    texts.set(run, `${run.name} ${run.id} ${run.status} ${el.textContent ?? ''}`);
  }
  const list = h('ul', { class: 'gallery' });
  const count = h('span', { class: 'run-count', role: 'status' });
  const compare = h('a', { class: 'button-link compare-link' }, 'Compare');
  const clear = h('button', { type: 'button', class: 'clear-selection' }, 'Clear selection');
  clear.addEventListener('click', () => {
    listState.selected.clear();
    for (const box of list.querySelectorAll<HTMLInputElement>('input.run-select')) box.checked = false;
    update();
  });
  const filter = h('input', {
    type: 'search',
    class: 'run-filter',
    placeholder: 'filter runs: name, cell, status, text…',
    'aria-label': 'filter runs',
    value: listState.query,
    size: 32,
  });
  filter.value = listState.query;
  filter.addEventListener('input', () => {
    listState.query = filter.value;
    update();
  });
  filter.addEventListener('focus', () => {
    listState.focused = true;
  });
  filter.addEventListener('blur', () => {
    listState.focused = false;
  });
  const sort = select(
    'Sort',
    RUN_SORTS.map((s) => ({ value: s.value, label: s.label })),
    listState.sort,
    (v) => {
      listState.sort = v as RunSort;
      update();
    },
    { 'aria-label': 'sort runs' },
  );
  function update(): void {
    const shown = filterSortRuns(runs, listState.query, listState.sort, (r) => texts.get(r) ?? '');
    list.replaceChildren(...shown.map((r) => cards.get(r)!));
    count.textContent =
      shown.length === runs.length ? `${runs.length} runs` : `${shown.length} of ${runs.length} runs`;
    // Selected runs in the order shown, then any selected ones the filter hides.
    const order = [...shown, ...runs.filter((r) => !shown.includes(r))].map(key);
    const picked = order.filter((k) => listState.selected.has(k));
    const ok = picked.length >= MIN_RUNS && picked.length <= MAX_RUNS;
    compare.textContent = `Compare selected (${picked.length})`;
    if (ok) {
      compare.setAttribute('href', compareLink(picked));
      compare.removeAttribute('aria-disabled');
      compare.title = `open ${picked.join(', ')} on one page`;
    } else {
      compare.removeAttribute('href');
      compare.setAttribute('aria-disabled', 'true');
      compare.title = `tick ${MIN_RUNS} to ${MAX_RUNS} runs to compare them`;
    }
    clear.disabled = picked.length === 0;
  }
  update();
  if (listState.focused) queueMicrotask(() => filter.focus());
  return h(
    'section',
    { class: 'run-list' },
    h('div', { class: 'control-row run-toolbar' }, filter, sort, count, compare, clear),
    list,
  );
}
