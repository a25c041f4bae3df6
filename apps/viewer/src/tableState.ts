// The runs table's state, kept in the URL fragment like the other pages':
// `#/runs?sort=-lossRatio&by=p.cell&f.p.lr=..0.01&f.verdict=long&x=p.lr`. Defaults are left out of the URL.
// `sort` names a column (a leading '-' for descending), `by` the column rows are grouped by, each `f.<column>`
// that column's filter as typed (runRows.ts parseFilter), `x` the parameter on the outcome chart's x axis.

export interface TableState {
  /** Column key → filter text (only non-empty ones). */
  filters: Record<string, string>;
  sort: { key: string; desc: boolean } | null;
  /** Column key the rows are grouped by; null = one row per run, ungrouped. */
  groupBy: string | null;
  /** Column key on the outcome chart's x axis; null = the first parameter. */
  x: string | null;
}

export const DEFAULT_TABLE: Readonly<TableState> = Object.freeze({
  filters: {},
  sort: null,
  groupBy: null,
  x: null,
}) as TableState;

/** The table state of a URL fragment (`#/runs?…`); anything unreadable is a default. */
export function parseTable(hash: string): TableState {
  const h = hash.startsWith('#') ? hash.slice(1) : hash;
  const q = h.indexOf('?');
  const p = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  const filters: Record<string, string> = {};
  for (const [k, v] of p) if (k.startsWith('f.') && k.length > 2 && v.trim() !== '') filters[k.slice(2)] = v;
  const sort = p.get('sort');
  return {
    filters,
    sort:
      sort && sort.replace(/^-/, '') !== ''
        ? { key: sort.replace(/^-/, ''), desc: sort.startsWith('-') }
        : null,
    groupBy: p.get('by') || null,
    x: p.get('x') || null,
  };
}

/** The URL fragment of a table state (with the leading '#'); parseTable(formatTable(s)) equals s. */
export function formatTable(s: TableState): string {
  const p = new URLSearchParams();
  if (s.sort) p.set('sort', `${s.sort.desc ? '-' : ''}${s.sort.key}`);
  if (s.groupBy) p.set('by', s.groupBy);
  if (s.x) p.set('x', s.x);
  for (const [k, v] of Object.entries(s.filters)) if (v.trim() !== '') p.set(`f.${k}`, v);
  const q = p.toString();
  return q ? `#/runs?${q}` : '#/runs';
}
