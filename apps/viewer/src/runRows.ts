// The runs table's data: one row per run (its record, parameters and diagnosis from GET /api/outcomes), the
// columns those rows have, and the pure operations the page applies to them: filter (text contains, numeric
// ranges), sort (any column, missing values last) and group (by any column, with counts and verdict tallies).
import type { OutcomesResponse, RunOutcomeJson, Verdict } from '@gradscope/format';
import { compareNatural, VERDICTS } from '@gradscope/format';

/** One cell's value: a number, a text, or nothing (null sorts last and matches only an empty filter). */
export type Cell = number | string | null;

export interface Column {
  /** What the URL names it by: 'name', 'verdict', …, or 'p.<param>' for a parameter. */
  key: string;
  /** What the header says. */
  label: string;
  /** Numbers filter by range and sort numerically; text by words and naturally. */
  type: 'number' | 'text';
  /** The cell of a row. */
  value(row: RunRow): Cell;
}

/** A run as the table holds it. */
export interface RunRow {
  run: RunOutcomeJson;
  /** What the page calls it (runNames.ts: "name #2" when names repeat). */
  label: string;
  /** What a URL names it by (its name while unique, else its id). */
  key: string;
}

/** Verdicts from best to worst: the order a verdict column sorts in. */
const VERDICT_RANK: Record<Verdict, number> = {
  'learning-long': 0,
  'learning-short': 1,
  'not-learning': 2,
  'insufficient-data': 3,
};

/** The run's verdicts, one per recurrent layer, joined ("learning-long / not-learning"). */
export function verdictText(run: RunOutcomeJson): string | null {
  return run.verdicts.length === 0 ? null : run.verdicts.map((v) => v.verdict).join(' / ');
}

/** The first recurrent layer's loss ÷ baseline (every layer reads the same probe loss). */
export function lossRatioOf(run: RunOutcomeJson): number | null {
  for (const v of run.verdicts) if (v.lossRatio !== null && Number.isFinite(v.lossRatio)) return v.lossRatio;
  return null;
}

/** The farthest reach (timesteps back at ≥ 1% of the peak) over the run's recurrent layers. */
export function reachOf(run: RunOutcomeJson): number | null {
  let best: number | null = null;
  for (const v of run.verdicts) if (v.reach !== null && (best === null || v.reach > best)) best = v.reach;
  return best;
}

/** The columns every table has before the parameters: the run and its outcome. */
const LEAD: Column[] = [
  { key: 'name', label: 'run', type: 'text', value: (r) => r.label },
  { key: 'group', label: 'group', type: 'text', value: (r) => r.run.group ?? null },
  {
    key: 'verdict',
    label: 'verdict',
    type: 'text',
    value: (r) => verdictText(r.run),
  },
  { key: 'lossRatio', label: 'loss ÷ baseline', type: 'number', value: (r) => lossRatioOf(r.run) },
  { key: 'reach', label: 'reach (steps)', type: 'number', value: (r) => reachOf(r.run) },
];

/** …and after them: what went wrong, and the run's state. */
const TAIL: Column[] = [
  {
    key: 'causes',
    label: 'causes',
    type: 'text',
    value: (r) => {
      const c = [...new Set(r.run.verdicts.flatMap((v) => v.causes))];
      return c.length ? c.join(', ') : null;
    },
  },
  { key: 'status', label: 'status', type: 'text', value: (r) => r.run.status },
  { key: 'started', label: 'started', type: 'number', value: (r) => r.run.startedAt },
  { key: 'iteration', label: 'last iteration', type: 'number', value: (r) => r.run.lastIteration },
];

/** A parameter's value as a cell: numbers stay numbers; anything else is its JSON text. */
function paramCell(value: unknown): Cell {
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string') return value;
  return JSON.stringify(value);
}

/**
 * The table's columns: the run and its outcome, then one per parameter any run has (in first-seen order, the callback's
 * own first as it records them), numeric when every value it has is a number, then causes, status and times.
 */
export function columnsOf(rows: readonly RunRow[]): Column[] {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const r of rows)
    for (const k of Object.keys(r.run.params ?? {}))
      if (!seen.has(k)) {
        seen.add(k);
        keys.push(k);
      }
  const params = keys.map((k): Column => {
    const value = (r: RunRow) => paramCell(r.run.params?.[k]);
    const numeric = rows.every((r) => {
      const v = value(r);
      return v === null || typeof v === 'number';
    });
    return { key: `p.${k}`, label: k, type: numeric ? 'number' : 'text', value };
  });
  return [...LEAD, ...params, ...TAIL];
}

/** The rows of a GET /api/outcomes answer (labels and URL keys from the caller: runNames.ts). */
export function rowsOf(
  res: OutcomesResponse,
  label: (run: RunOutcomeJson) => string,
  key: (run: RunOutcomeJson) => string,
): RunRow[] {
  return res.runs.map((run) => ({ run, label: label(run), key: key(run) }));
}

/** A column's filter, parsed: words that must all occur, or a numeric range (inclusive unless said). */
export type Filter =
  | { kind: 'text'; words: string[] }
  | { kind: 'range'; min: number; max: number; minOpen: boolean; maxOpen: boolean }
  | { kind: 'invalid'; message: string };

const NUM = String.raw`[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?`;

/**
 * A filter as typed: for a number column `0.1..1`, `..0.5`, `2..`, `>0.5`, `<=3`, `=8` or `8`; for text, words
 * that must all occur in the cell (case-insensitive). An empty text is no filter (null).
 */
export function parseFilter(text: string, type: Column['type']): Filter | null {
  const t = text.trim();
  if (t === '') return null;
  if (type === 'text') return { kind: 'text', words: t.toLowerCase().split(/\s+/) };
  const range = new RegExp(`^(${NUM})?\\s*\\.\\.\\s*(${NUM})?$`, 'i').exec(t);
  if (range && (range[1] !== undefined || range[2] !== undefined))
    return {
      kind: 'range',
      min: range[1] === undefined ? Number.NEGATIVE_INFINITY : Number(range[1]),
      max: range[2] === undefined ? Number.POSITIVE_INFINITY : Number(range[2]),
      minOpen: false,
      maxOpen: false,
    };
  const cmp = new RegExp(`^(<=|>=|<|>|=)?\\s*(${NUM})$`, 'i').exec(t);
  if (cmp) {
    const v = Number(cmp[2]);
    const op = cmp[1] ?? '=';
    const inf = Number.POSITIVE_INFINITY;
    if (op === '=') return { kind: 'range', min: v, max: v, minOpen: false, maxOpen: false };
    if (op === '<' || op === '<=')
      return { kind: 'range', min: -inf, max: v, minOpen: false, maxOpen: op === '<' };
    return { kind: 'range', min: v, max: inf, minOpen: op === '>', maxOpen: false };
  }
  return {
    kind: 'invalid',
    message: `"${t}" is not a range: write 0.1..1, ..0.5, 2.., >0.5, <=3 or a number`,
  };
}

/** Whether a cell passes a filter (a missing value passes none; an invalid filter passes everything). */
export function passes(cell: Cell, filter: Filter): boolean {
  if (filter.kind === 'invalid') return true;
  if (cell === null) return false;
  if (filter.kind === 'text') {
    const text = String(cell).toLowerCase();
    return filter.words.every((w) => text.includes(w));
  }
  if (typeof cell !== 'number') return false;
  const lo = filter.minOpen ? cell > filter.min : cell >= filter.min;
  const hi = filter.maxOpen ? cell < filter.max : cell <= filter.max;
  return lo && hi;
}

/**
 * Cells in order: numbers ascending, text naturally with its numbers by value (compareNatural: 's2' before
 * 's10', 'gru-lr0.005' before 'gru-lr0.01', as `gradscope doctor --group-by` orders them); null is handled by
 * the caller.
 */
export function compareCells(a: Exclude<Cell, null>, b: Exclude<Cell, null>): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'number') return -1;
  if (typeof b === 'number') return 1;
  return compareNatural(a, b);
}

/** How a column sorts its cells: verdicts best first, everything else by compareCells. */
function cellOrder(column: Column): (a: RunRow, b: RunRow) => number {
  if (column.key === 'verdict') {
    const rank = (r: RunRow) =>
      r.run.verdicts.length === 0 ? null : Math.min(...r.run.verdicts.map((v) => VERDICT_RANK[v.verdict]));
    return orderBy(rank);
  }
  return orderBy((r) => column.value(r));
}

function orderBy(value: (r: RunRow) => Cell): (a: RunRow, b: RunRow) => number {
  return (a, b) => {
    const x = value(a);
    const y = value(b);
    if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
    return compareCells(x, y);
  };
}

export interface TableQuery {
  /** Column key → filter text. */
  filters: Readonly<Record<string, string>>;
  /** A column key, and the direction; null keeps the server's order (newest first). */
  sort: { key: string; desc: boolean } | null;
  /** A column key to group by, or null. */
  groupBy: string | null;
}

/** The rows passing every filter, in the sort's order (missing values last either way; ties keep the given order). */
export function filterSort(rows: readonly RunRow[], columns: readonly Column[], q: TableQuery): RunRow[] {
  const filters = Object.entries(q.filters).flatMap(([key, text]) => {
    const column = columns.find((c) => c.key === key);
    const filter = column ? parseFilter(text, column.type) : null;
    return column && filter ? [{ column, filter }] : [];
  });
  const kept = rows.filter((r) => filters.every(({ column, filter }) => passes(column.value(r), filter)));
  const column = q.sort ? columns.find((c) => c.key === q.sort!.key) : undefined;
  if (!column) return kept;
  const order = cellOrder(column);
  const desc = q.sort!.desc;
  // Missing values stay last when the order is reversed.
  const missing = (r: RunRow) =>
    column.key === 'verdict' ? r.run.verdicts.length === 0 : column.value(r) === null;
  return kept
    .map((r, i) => ({ r, i }))
    .sort((a, b) => {
      const ma = missing(a.r);
      const mb = missing(b.r);
      if (ma !== mb) return ma ? 1 : -1;
      const c = order(a.r, b.r);
      return (desc ? -c : c) || a.i - b.i;
    })
    .map((x) => x.r);
}

/** One group of rows: the value they share, their count, verdict tallies and the median loss ratio. */
export interface RowGroup {
  /** The shared cell (null: the rows without one). */
  value: Cell;
  /** As the group row shows it. */
  label: string;
  rows: RunRow[];
  /** Runs with each verdict at their first recurrent layer (undiagnosed runs are in none). */
  verdicts: Record<Verdict, number>;
  /** Median loss ÷ baseline of the rows that have one; null when none has. */
  medianLossRatio: number | null;
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The rows (already filtered and sorted) grouped by a column's value: groups in value order (numbers ascending,
 * text naturally, the rows without a value last), the rows of each in the order given.
 */
export function groupRows(rows: readonly RunRow[], column: Column): RowGroup[] {
  const groups = new Map<string, RowGroup>();
  for (const r of rows) {
    const value = column.value(r);
    const id = JSON.stringify(value);
    let g = groups.get(id);
    if (!g) {
      g = {
        value,
        label: value === null ? `no ${column.label}` : String(value),
        rows: [],
        verdicts: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number>,
        medianLossRatio: null,
      };
      groups.set(id, g);
    }
    g.rows.push(r);
    const first = r.run.verdicts[0];
    if (first) g.verdicts[first.verdict]++;
  }
  for (const g of groups.values())
    g.medianLossRatio = median(g.rows.flatMap((r) => lossRatioOf(r.run) ?? []));
  return [...groups.values()].sort((a, b) => {
    if (a.value === null || b.value === null) return a.value === b.value ? 0 : a.value === null ? 1 : -1;
    return compareCells(a.value, b.value);
  });
}
