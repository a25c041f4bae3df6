// The runs table (`#/runs?sort=…&by=…&f.<column>=…`): every run a row with its parameters, group, the verdict
// of each recurrent layer, loss ÷ baseline, reach and status, from one request (GET /api/outcomes). Sortable
// by a click on a header, filterable per column (words, or numeric ranges such as 0.1..1 or <0.5), grouped by
// any column (group rows with counts and verdict tallies, collapsible); ticked runs or groups open on the
// compare page, grouped by the table's grouping. Parameters against outcome are charted under it
// (views/outcome.ts). Rows are built once per answer and reordered, not rebuilt, on every sort and filter.
import type { OutcomesResponse, RunOutcomeJson } from '@gradscope/format';
import { VERDICTS } from '@gradscope/format';
import { compareLink, MAX_RUNS } from '../compareState';
import { button, h, select } from '../dom';
import { runKey, runLabel } from '../runNames';
import {
  type Column,
  columnsOf,
  filterSort,
  groupRows,
  parseFilter,
  type RowGroup,
  type RunRow,
  rowsOf,
} from '../runRows';
import { formatNumber, runLink } from '../state';
import { DEFAULT_TABLE, formatTable, type TableState } from '../tableState';
import type { CompareHost } from './compare';
import { outcomeChart } from './outcome';

/** Short verdict words for the tallies of a group row. */
const SHORT: Record<string, string> = {
  'learning-long': 'long',
  'learning-short': 'short',
  'not-learning': 'not learning',
  'insufficient-data': 'no data',
};

/** What the page keeps between renders of one answer. */
interface Built {
  answer: OutcomesResponse;
  rows: RunRow[];
  columns: Column[];
  /** Columns shown (parameters with one value for every run are said once, above the table). */
  shown: Column[];
  constants: string[];
  trs: Map<RunRow, HTMLElement>;
  boxes: Map<RunRow, HTMLInputElement>;
  table: HTMLElement;
  tbody: HTMLElement;
  filterInputs: Map<string, HTMLInputElement>;
  sortButtons: Map<string, HTMLButtonElement>;
}

export class RunsTablePage {
  private built: Built | null = null;
  private state: TableState = DEFAULT_TABLE;
  /** Ticked runs (by id) and collapsed groups (by label): kept while the page lives, not in the URL. */
  private readonly selected = new Set<string>();
  private readonly collapsed = new Set<string>();
  private groupedBy: string | null = null;
  private filterTimer: ReturnType<typeof setTimeout> | undefined;
  /** What the outcome chart on screen was drawn for (filters, x, width). */
  private chartKey = '';
  /** The toolbar's link to the compare page of the ticked runs. */
  private readonly compare = h('a', { class: 'button-link compare-link' }, 'Compare');
  /** The rows passing the filters, in the order shown, and the column they are grouped by. */
  private shownRows: RunRow[] = [];
  private groupColumn: Column | null = null;

  constructor(private readonly host: CompareHost) {}

  private set(patch: Partial<TableState>, push = false): void {
    this.host.go(formatTable({ ...this.state, ...patch }), push);
  }

  /** Asks for the runs again at the next render (a live update). */
  forget(): void {
    this.built = null;
  }

  async render(s: TableState, current: () => boolean): Promise<void> {
    const host = this.host;
    const hook = window.__gradscope;
    const started = performance.now();
    this.state = s;
    hook.view = 'runs';
    // A new answer when the page is (re)entered or a run changed (forget); a sort, filter or grouping reuses it.
    if (!this.built?.table.isConnected) {
      host.status.textContent = 'loading runs…';
      const answer = await host.data.api.outcomes();
      if (!current()) return;
      // A live update rebuilds the rows: a filter being typed into keeps its focus and caret.
      const typing = document.activeElement as HTMLInputElement | null;
      const column = typing?.matches?.('input.column-filter') ? typing.dataset.column : undefined;
      const caret = column ? typing!.selectionStart : null;
      const typed = column ? typing!.value : '';
      this.build(answer);
      if (column) {
        const input = this.built!.filterInputs.get(column);
        if (input) input.value = typed;
        input?.focus();
        if (input && caret !== null) input.setSelectionRange(caret, caret);
      }
    }
    const b = this.built!;
    if (this.groupedBy !== s.groupBy) {
      this.collapsed.clear();
      this.groupedBy = s.groupBy;
    }
    this.renderHeader();
    // Read before the rows move: asked after, it would make the browser lay them out at once.
    const width = host.width();
    const shown = this.update();
    // The chart shows the rows that pass the filters, whatever their order: a sort or a grouping keeps it.
    const chartKey = JSON.stringify([s.filters, s.x, width]);
    if (
      b.rows.length > 0 &&
      (chartKey !== this.chartKey || !b.table.closest('.runs-page')?.querySelector('.outcome-chart'))
    ) {
      this.chartKey = chartKey;
      // Parameters with one value for every run are no axis: the shown columns only.
      const chart = outcomeChart(shown, b.shown, s.x, width, (x) => this.set({ x }));
      const old = b.table.closest('.runs-page')?.querySelector('.outcome-chart');
      if (old) old.replaceWith(chart);
      else b.table.closest('.runs-page')?.append(chart);
    }
    await new Promise<void>((resolve) => requestAnimationFrame(() => resolve()));
    if (!current()) return;
    hook.lastPaintMs = performance.now() - started;
    hook.panels = shown.length;
  }

  /** The page for a new answer: columns, one row element per run, the header with its sort and filter cells. */
  private build(answer: OutcomesResponse): void {
    const host = this.host;
    const runs = answer.runs;
    // Labels and URL keys look only at the runs sharing a name: those, not all 1,000, for each run.
    const byName = new Map<string, RunOutcomeJson[]>();
    for (const r of runs) {
      const same = byName.get(r.name);
      if (same) same.push(r);
      else byName.set(r.name, [r]);
    }
    const rows = rowsOf(
      answer,
      (r) => runLabel(r, byName.get(r.name)!),
      (r) => runKey(r, byName.get(r.name)!),
    );
    const present = new Set(runs.map((r) => r.id));
    for (const id of this.selected) if (!present.has(id)) this.selected.delete(id);
    const columns = columnsOf(rows);
    const constants: string[] = [];
    const shown = columns.filter((c) => {
      if (!c.key.startsWith('p.') || rows.length < 2) return true;
      const values = new Set(rows.map((r) => JSON.stringify(c.value(r))));
      if (values.size > 1) return true;
      const v = c.value(rows[0]!);
      constants.push(`${c.label} ${v === null ? '—' : typeof v === 'number' ? formatNumber(v) : v}`);
      return false;
    });
    const filterInputs = new Map<string, HTMLInputElement>();
    const sortButtons = new Map<string, HTMLButtonElement>();
    const head = h(
      'div',
      { class: 'trow head-row', role: 'row' },
      h('div', { class: 'cell select-col', role: 'columnheader' }, ''),
    );
    const filterRow = h(
      'div',
      { class: 'trow filter-row', role: 'row' },
      h('div', { class: 'cell select-col', role: 'columnheader' }, ''),
    );
    for (const c of shown) {
      const sort = button(c.label, () => this.toggleSort(c.key), {
        class: 'sort-button',
        'data-column': c.key,
        title: `sort by ${c.label}`,
      });
      sortButtons.set(c.key, sort);
      head.append(
        h('div', { class: `cell col-${c.type}`, role: 'columnheader', 'data-column': c.key }, sort),
      );
      const input = h('input', {
        type: 'search',
        class: 'column-filter',
        'data-column': c.key,
        placeholder: c.type === 'number' ? 'min..max' : 'contains',
        'aria-label': `filter ${c.label}${c.type === 'number' ? ' (a range: 0.1..1, <0.5, >=2)' : ''}`,
      });
      input.addEventListener('input', () => {
        clearTimeout(this.filterTimer);
        this.filterTimer = setTimeout(() => this.setFilter(c.key, input.value), 120);
      });
      filterInputs.set(c.key, input);
      filterRow.append(h('div', { class: `cell col-${c.type}`, role: 'columnheader' }, input));
    }
    // A grid of rows, not a <table>: every row has the columns' widths (computed from the data, not measured)
    // and is skipped by layout while off screen (content-visibility), so a re-sort of 1,000 rows lays out only
    // the rows in view.
    const tbody = h('div', { class: 'tbody', role: 'rowgroup' });
    const table = h(
      'div',
      { class: 'runs-table', role: 'table', 'aria-label': 'runs', 'aria-rowcount': String(rows.length) },
      h('div', { class: 'thead', role: 'rowgroup' }, head, filterRow),
      tbody,
    );
    table.style.setProperty('--cols', columnWidths(shown, rows).join(' '));
    const trs = new Map<RunRow, HTMLElement>();
    const boxes = new Map<RunRow, HTMLInputElement>();
    for (const r of rows) {
      const box = h('input', {
        type: 'checkbox',
        class: 'run-select',
        'aria-label': `select ${r.label}`,
      });
      box.checked = this.selected.has(r.run.id);
      box.addEventListener('change', () => {
        if (box.checked) this.selected.add(r.run.id);
        else this.selected.delete(r.run.id);
        this.updateSelection();
      });
      boxes.set(r, box);
      const tr = h(
        'div',
        { class: 'trow run-row', role: 'row', 'data-run': r.run.id },
        h('div', { class: 'cell select-col', role: 'cell' }, box),
      );
      for (const c of shown) tr.append(cell(c, r));
      trs.set(r, tr);
    }
    const page = h(
      'div',
      { class: 'figure-inner runs-page' },
      h('h2', { class: 'figure-title' }, `Runs table — ${rows.length} run${rows.length === 1 ? '' : 's'}`),
      constants.length
        ? h('p', { class: 'run-facts runs-constants' }, `Same for every run: ${constants.join(' · ')}`)
        : null,
      rows.length === 0
        ? h(
            'div',
            { class: 'empty', role: 'status' },
            h('p', {}, h('strong', {}, 'No runs recorded yet.')),
            h(
              'p',
              {},
              'Runs appear here as they start, one row each with their parameters and verdicts; see the ',
              h('a', { href: '#/gallery' }, 'gallery'),
              ' for how to record one.',
            ),
          )
        : h('div', { class: 'table-scroll' }, table),
    );
    host.mount(page, []);
    host.showNotices(
      runs.filter((r) => r.diagnosisError).length
        ? [
            `${runs.filter((r) => r.diagnosisError).length} run(s) could not be diagnosed: ${
              runs.find((r) => r.diagnosisError)!.diagnosisError
            }`,
          ]
        : [],
    );
    this.chartKey = '';
    this.built = {
      answer,
      rows,
      columns,
      shown,
      constants,
      trs,
      boxes,
      table,
      tbody,
      filterInputs,
      sortButtons,
    };
  }

  private toggleSort(key: string): void {
    const s = this.state.sort;
    // Ascending, then descending, then the server's order (newest first).
    const next = s?.key !== key ? { key, desc: false } : s.desc ? null : { key, desc: true };
    this.set({ sort: next });
  }

  private setFilter(key: string, text: string): void {
    const filters = { ...this.state.filters };
    if (text.trim() === '') delete filters[key];
    else filters[key] = text;
    this.set({ filters });
  }

  /** Sorts, filters and groups the rows into the table; returns the rows shown (in groups: every one passing). */
  private update(): RunRow[] {
    const b = this.built!;
    const s = this.state;
    const notices: string[] = [];
    for (const [key, text] of Object.entries(s.filters)) {
      const c = b.columns.find((x) => x.key === key);
      if (!c) notices.push(`no column "${key}" to filter: left out`);
      else {
        const f = parseFilter(text, c.type);
        if (f?.kind === 'invalid') notices.push(`${c.label}: ${f.message}`);
      }
    }
    if (s.sort && !b.columns.some((c) => c.key === s.sort!.key))
      notices.push(`no column "${s.sort.key}" to sort by: the server's order (newest first)`);
    const groupColumn = s.groupBy ? b.columns.find((c) => c.key === s.groupBy) : undefined;
    if (s.groupBy && !groupColumn) notices.push(`no column "${s.groupBy}" to group by: not grouped`);
    this.host.showNotices(notices);
    for (const [key, input] of b.filterInputs)
      if (document.activeElement !== input) input.value = s.filters[key] ?? '';
    for (const [key, btn] of b.sortButtons) {
      const dir = s.sort?.key === key ? (s.sort.desc ? 'descending' : 'ascending') : 'none';
      btn.closest('[role="columnheader"]')!.setAttribute('aria-sort', dir);
      btn.dataset.sort = dir;
    }
    const shown = filterSort(b.rows, b.columns, s);
    const out: HTMLElement[] = [];
    if (groupColumn) {
      for (const g of groupRows(shown, groupColumn)) {
        out.push(this.groupRow(g, groupColumn));
        if (!this.collapsed.has(g.label)) for (const r of g.rows) out.push(b.trs.get(r)!);
      }
    } else for (const r of shown) out.push(b.trs.get(r)!);
    b.tbody.replaceChildren(...out);
    this.renderControls(shown, groupColumn ?? null);
    this.host.status.textContent =
      shown.length === b.rows.length
        ? `${b.rows.length} runs`
        : `${shown.length} of ${b.rows.length} runs pass the filters`;
    return shown;
  }

  private groupRow(g: RowGroup, column: Column): HTMLElement {
    const b = this.built!;
    const open = !this.collapsed.has(g.label);
    const toggle = button(
      open ? '▾' : '▸',
      () => {
        if (open) this.collapsed.add(g.label);
        else this.collapsed.delete(g.label);
        this.update();
      },
      {
        class: 'group-toggle',
        'aria-expanded': String(open),
        'aria-label': `${open ? 'collapse' : 'expand'} ${column.label} ${g.label}`,
      },
    );
    const box = h('input', {
      type: 'checkbox',
      class: 'group-select',
      'aria-label': `select the runs of ${g.label}`,
    });
    const picked = g.rows.filter((r) => this.selected.has(r.run.id)).length;
    box.checked = picked === g.rows.length;
    box.indeterminate = picked > 0 && picked < g.rows.length;
    box.addEventListener('change', () => {
      for (const r of g.rows) {
        if (box.checked) this.selected.add(r.run.id);
        else this.selected.delete(r.run.id);
        b.boxes.get(r)!.checked = box.checked;
      }
      this.updateSelection();
    });
    const tallies = h(
      'span',
      { class: 'group-tallies' },
      VERDICTS.filter((v) => g.verdicts[v] > 0).map((v) =>
        h(
          'span',
          { class: `verdict-pill verdict-${v}`, 'data-verdict': v, 'data-count': String(g.verdicts[v]) },
          `${SHORT[v]} ${g.verdicts[v]}`,
        ),
      ),
    );
    const tr = h(
      'div',
      { class: 'trow group-row', role: 'row', 'data-group': g.label, 'data-count': String(g.rows.length) },
      h('div', { class: 'cell select-col', role: 'cell' }, box),
      h(
        'div',
        { class: 'cell group-cell', role: 'cell' },
        toggle,
        h('strong', { class: 'group-label' }, `${column.label} = ${g.label}`),
        h('span', { class: 'group-count' }, ` ${g.rows.length} run${g.rows.length === 1 ? '' : 's'} `),
        tallies,
        g.medianLossRatio === null
          ? null
          : h(
              'span',
              { class: 'group-median' },
              ` loss ÷ baseline median ${formatNumber(g.medianLossRatio)}`,
            ),
      ),
    );
    return tr;
  }

  private renderHeader(): void {
    this.host.header.replaceChildren(
      h(
        'nav',
        { class: 'crumbs', 'aria-label': 'pages' },
        h('a', { href: '#/gallery', class: 'brand' }, 'gradscope'),
        h('span', { class: 'sep' }, '/'),
        h('span', { class: 'run-title' }, 'runs table'),
      ),
    );
  }

  private renderControls(shown: RunRow[], groupColumn: Column | null): void {
    const b = this.built!;
    this.shownRows = shown;
    this.groupColumn = groupColumn;
    const by = select(
      'Group by',
      [
        { value: '', label: 'nothing' },
        ...b.columns.filter((c) => c.key !== 'name').map((c) => ({ value: c.key, label: c.label })),
      ],
      this.state.groupBy ?? '',
      (v) => this.set({ groupBy: v || null }, true),
      { 'aria-label': 'group runs by' },
    );
    const clear = button(
      'Clear selection',
      () => {
        this.selected.clear();
        for (const box of b.boxes.values()) box.checked = false;
        this.update();
      },
      { class: 'clear-selection' },
    );
    const reset = button('Clear filters', () => this.set({ filters: {} }, true), {
      class: 'clear-filters',
      disabled: Object.keys(this.state.filters).length === 0,
    });
    const gallery = h('a', { href: '#/gallery', class: 'button-link' }, 'Gallery');
    this.host.controls.replaceChildren(
      h('div', { class: 'control-row runs-toolbar' }, by, this.compare, clear, reset, gallery),
    );
    this.updateSelection();
  }

  /** The compare link of the ticked runs (in the order shown), grouped as the table is when it is grouped. */
  private updateSelection(): void {
    const b = this.built;
    if (!b) return;
    const shownSet = new Set(this.shownRows);
    const order = [...this.shownRows, ...b.rows.filter((r) => !shownSet.has(r))];
    const picked = order.filter((r) => this.selected.has(r.run.id));
    // Grouped as the table is; ungrouped, more runs than compare draws as lines go as bands of their groups.
    const tableBy = this.groupColumn ? compareKey(this.groupColumn) : null;
    const by = tableBy ?? (picked.length > MAX_RUNS && picked.some((r) => r.run.group) ? 'group' : null);
    this.compare.textContent = `Compare selected (${picked.length})${by ? ` by ${by === 'group' ? 'group' : this.groupColumn!.label}` : ''}`;
    this.compare.title =
      !by && picked.length > MAX_RUNS
        ? `compare draws at most ${MAX_RUNS} runs as lines: group the table to compare more as bands`
        : '';
    if ((picked.length >= 2 && (by || picked.length <= MAX_RUNS)) || (by && picked.length >= 1)) {
      this.compare.setAttribute(
        'href',
        compareLink(
          picked.map((r) => r.key),
          by ? { by } : {},
        ),
      );
      this.compare.removeAttribute('aria-disabled');
    } else {
      this.compare.removeAttribute('href');
      this.compare.setAttribute('aria-disabled', 'true');
    }
    for (const g of b.tbody.querySelectorAll<HTMLElement>('.group-row')) {
      const box = g.querySelector<HTMLInputElement>('input.group-select');
      const label = g.dataset.group;
      const rows = this.groupColumn
        ? this.shownRows.filter((r) => displayValue(this.groupColumn!, r) === label)
        : [];
      const n = rows.filter((r) => this.selected.has(r.run.id)).length;
      if (box) {
        box.checked = rows.length > 0 && n === rows.length;
        box.indeterminate = n > 0 && n < rows.length;
      }
    }
  }
}

/** What the compare page groups by for a table column: 'group' or a parameter's name; null for other columns. */
function compareKey(c: Column): string | null {
  if (c.key === 'group') return 'group';
  if (c.key.startsWith('p.')) return c.key.slice(2);
  return null;
}

function displayValue(c: Column, r: RunRow): string {
  const v = c.value(r);
  return v === null ? `no ${c.label}` : String(v);
}

/** One cell of a run's row. */
function cell(c: Column, r: RunRow): HTMLElement {
  const run: RunOutcomeJson = r.run;
  if (c.key === 'name')
    return td({ class: 'col-name' }, h('a', { href: runLink(r.key), title: run.id }, r.label));
  if (c.key === 'verdict') {
    if (run.verdicts.length === 0)
      return td({ class: 'muted' }, run.diagnosisError ? 'not diagnosed' : 'no recurrent layer');
    return td(
      { class: 'col-verdict' },
      run.verdicts.map((v) =>
        h(
          'span',
          {
            class: `verdict-pill verdict-${v.verdict}`,
            'data-verdict': v.verdict,
            title: `${v.layer} (${v.layerClass}): ${v.verdict}${v.causes.length ? ` — ${v.causes.join(', ')}` : ''}`,
          },
          run.verdicts.length > 1 ? `${v.layer}: ${SHORT[v.verdict]}` : SHORT[v.verdict],
        ),
      ),
    );
  }
  if (c.key === 'status') return td({}, h('span', { class: `status status-${run.status}` }, run.status));
  if (c.key === 'started')
    return td(
      { class: 'col-number' },
      new Date(run.startedAt).toLocaleString(undefined, {
        month: 'short',
        day: 'numeric',
        hour: '2-digit',
        minute: '2-digit',
      }),
    );
  const v = c.value(r);
  if (c.key === 'reach') {
    const first = run.verdicts.find((x) => x.reach !== null);
    return td(
      { class: 'col-number', title: first ? `${first.reachKind} at ≥ 1% of its peak` : '' },
      v === null ? '—' : `${v}${first?.timesteps ? ` / ${first.timesteps}` : ''}`,
    );
  }
  const text = v === null ? '—' : typeof v === 'number' ? formatNumber(v) : v;
  // The whole text on hover: a long group or parameter ends in an ellipsis in its column.
  return td({ class: c.type === 'number' ? 'col-number' : '', title: text.length > 20 ? text : '' }, text);
}

/** A cell of a row. */
function td(
  attrs: { class?: string; title?: string },
  ...children: (Node | string | null | (Node | string)[])[]
): HTMLElement {
  return h('div', { ...attrs, class: `cell ${attrs.class ?? ''}`.trim(), role: 'cell' }, ...children);
}

/** Characters a column's widest cell holds, at most this many (longer ones end in an ellipsis). */
const MAX_CHARS = 34;

/**
 * Each column's width in the grid: as many characters as its widest header or cell (capped), in `ch` plus the
 * cell's padding; the verdict column as its pills need. Computed from the data, so no cell is measured.
 */
function columnWidths(columns: readonly Column[], rows: readonly RunRow[]): string[] {
  const widths = columns.map((c) => {
    // The header with its sort mark, and room for the filter's placeholder ("min..max", "contains").
    let chars = Math.max(c.label.length + 2, 10);
    if (c.key === 'verdict') {
      for (const r of rows)
        chars = Math.max(
          chars,
          r.run.verdicts.reduce(
            (a, v) => a + (r.run.verdicts.length > 1 ? v.layer.length + 2 : 0) + SHORT[v.verdict]!.length + 3,
            0,
          ),
        );
    } else
      for (const r of rows) {
        const v = c.value(r);
        const text =
          v === null
            ? '—'
            : typeof v === 'number'
              ? c.key === 'started'
                ? 'Nov 29, 01:36 AM'
                : formatNumber(v)
              : v;
        if (text.length > chars) chars = text.length;
      }
    return `calc(${Math.min(MAX_CHARS, chars)}ch + 18px)`;
  });
  return ['28px', ...widths];
}
