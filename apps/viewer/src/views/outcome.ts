// Parameters against outcome on the runs table page: one point per run, a chosen parameter on x (a log axis
// when its values span two decades or more; text values as evenly spaced categories), loss ÷ baseline on a log
// y axis, coloured by verdict, with the baseline (1) and the learned threshold (0.5) as lines. A click on a point
// opens its run.
import type { Verdict } from '@gradscope/format';
import { compareNatural, DIAGNOSIS_RULES, VERDICTS } from '@gradscope/format';
import { h, hiDpiCanvas, select } from '../dom';
import { attachReadout } from '../readout';
import { type Column, lossRatioOf, type RunRow } from '../runRows';

import { formatNumber, runLink } from '../state';

/** The verdict pills' text colours (style.css: --healthy, --vanishing, --exploding, --muted). */
export const VERDICT_COLORS: Readonly<Record<Verdict, string>> = {
  'learning-long': '#1d6b35',
  'learning-short': '#c27c00',
  'not-learning': '#a3161b',
  'insufficient-data': '#8a90a0',
};

/** One point of the chart: the run, its x (a number, or the index of its category) and y. */
export interface OutcomePoint {
  row: RunRow;
  x: number;
  y: number;
  verdict: Verdict;
}

/** How the x axis maps a column: numbers (log when they span ≥ 2 decades and are all positive) or categories. */
export interface XAxis {
  kind: 'linear' | 'log' | 'category';
  categories: string[];
  min: number;
  max: number;
}

/** The chart's points (rows with a loss ratio > 0 and an x value) and its x axis. */
export function outcomePoints(
  rows: readonly RunRow[],
  column: Column,
): { points: OutcomePoint[]; axis: XAxis; left: number } {
  const usable = rows.flatMap((row) => {
    const y = lossRatioOf(row.run);
    const x = column.value(row);
    return y !== null && y > 0 && x !== null && row.run.verdicts[0] ? [{ row, x, y }] : [];
  });
  const left = rows.length - usable.length;
  if (column.type === 'text' || usable.some((p) => typeof p.x !== 'number')) {
    const categories = [...new Set(usable.map((p) => String(p.x)))].sort(compareNatural);
    return {
      points: usable.map((p) => ({
        row: p.row,
        x: categories.indexOf(String(p.x)),
        y: p.y,
        verdict: p.row.run.verdicts[0]!.verdict,
      })),
      axis: { kind: 'category', categories, min: -0.5, max: categories.length - 0.5 },
      left,
    };
  }
  const xs = usable.map((p) => p.x as number);
  const min = xs.length ? Math.min(...xs) : 0;
  const max = xs.length ? Math.max(...xs) : 1;
  const log = min > 0 && max / min >= 100;
  return {
    points: usable.map((p) => ({
      row: p.row,
      x: p.x as number,
      y: p.y,
      verdict: p.row.run.verdicts[0]!.verdict,
    })),
    axis: { kind: log ? 'log' : 'linear', categories: [], min, max },
    left,
  };
}

/** A deterministic spread in [-0.5, 0.5) per run, so that runs with equal values do not hide each other. */
function jitter(id: string): number {
  let x = 2166136261;
  for (let i = 0; i < id.length; i++) x = Math.imul(x ^ id.charCodeAt(i), 16777619);
  return ((x >>> 0) % 1000) / 1000 - 0.5;
}

const MARGIN = { left: 56, right: 16, top: 12, bottom: 40 };

/**
 * The outcome chart of the rows shown (the table's filters apply), with a parameter picker. `x` is the column
 * key on x; `onX` records another.
 */
export function outcomeChart(
  rows: readonly RunRow[],
  columns: readonly Column[],
  x: string | null,
  width: number,
  onX: (key: string) => void,
): HTMLElement {
  // The parameters first (the callback's and the user's), then the group and the reach.
  const choices = [
    ...columns.filter((c) => c.key.startsWith('p.')),
    ...columns.filter((c) => c.key === 'group' || c.key === 'reach'),
  ];
  const column = choices.find((c) => c.key === x) ?? choices[0];
  const block = h('section', { class: 'training-block outcome-chart' });
  if (!column) {
    block.append(h('p', { class: 'empty' }, 'No parameters recorded: nothing to plot the outcome against.'));
    return block;
  }
  const { points, axis, left } = outcomePoints(rows, column);
  const height = 300;
  const w = Math.max(360, Math.min(width, 1100));
  const picker = select(
    'x',
    choices.map((c) => ({ value: c.key, label: c.label })),
    column.key,
    onX,
    { 'aria-label': 'parameter on the x axis' },
  );
  const legend = h(
    'ul',
    { class: 'outcome-legend' },
    VERDICTS.map((v) => {
      const n = points.filter((p) => p.verdict === v).length;
      if (n === 0) return null;
      const sw = h('span', { class: 'swatch outcome-swatch', 'aria-hidden': 'true' });
      sw.style.setProperty('--swatch', VERDICT_COLORS[v]);
      return h('li', { 'data-verdict': v }, sw, ` ${v} (${n})`);
    }),
  );
  block.append(
    h(
      'h3',
      { class: 'block-title' },
      `Outcome against ${column.label}: loss ÷ baseline (log) per run, colour: verdict — ${points.length} runs${
        left ? ` (${left} without a loss ratio or a ${column.label} left out)` : ''
      }`,
    ),
    h('div', { class: 'control-row outcome-options' }, picker, legend),
  );
  const { canvas, ctx } = hiDpiCanvas(w, height);
  canvas.setAttribute('role', 'img');
  canvas.setAttribute(
    'aria-label',
    `loss ÷ baseline of ${points.length} runs against ${column.label}, coloured by verdict`,
  );
  canvas.classList.add('outcome-canvas');
  const plotW = w - MARGIN.left - MARGIN.right;
  const plotH = height - MARGIN.top - MARGIN.bottom;
  const ys = points.map((p) => Math.log10(p.y));
  const yLo = Math.floor(Math.min(-1, ...ys));
  const yHi = Math.ceil(Math.max(0.3, ...ys));
  const py = (v: number) => MARGIN.top + plotH * (1 - (Math.log10(v) - yLo) / (yHi - yLo));
  const f = (v: number) => (axis.kind === 'log' ? Math.log10(v) : v);
  const [lo, hi] =
    axis.kind === 'category'
      ? [axis.min, axis.max]
      : axis.max > axis.min
        ? [f(axis.min), f(axis.max)]
        : [f(axis.min) - 1, f(axis.max) + 1];
  const pad = axis.kind === 'category' ? 0 : (hi - lo) * 0.05;
  const px = (v: number) => MARGIN.left + (plotW * (f(v) - (lo - pad))) / (hi - lo + 2 * pad);
  // Axes and grid.
  ctx.font = '11px system-ui';
  ctx.strokeStyle = '#d5d9e0';
  ctx.fillStyle = '#5b6170';
  ctx.lineWidth = 1;
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  for (let e = yLo; e <= yHi; e++) {
    const y = py(10 ** e);
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, y);
    ctx.lineTo(MARGIN.left + plotW, y);
    ctx.stroke();
    ctx.fillText(e === 0 ? '1' : `1e${e}`, MARGIN.left - 6, y);
  }
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const xTicks: { v: number; label: string }[] =
    axis.kind === 'category'
      ? axis.categories.map((c, i) => ({ v: i, label: c }))
      : axis.kind === 'log'
        ? Array.from({ length: Math.floor(hi) - Math.ceil(lo) + 1 }, (_, k) => {
            const e = Math.ceil(lo) + k;
            return { v: 10 ** e, label: `1e${e}` };
          })
        : niceTicks(axis.min, axis.max, Math.max(2, Math.floor(plotW / 90)));
  // Labels that would overlap are thinned: every k-th, k from the widest label.
  const widest = Math.max(0, ...xTicks.map((t) => ctx.measureText(ellipsis(t.label, 14)).width));
  const every = Math.max(1, Math.ceil((xTicks.length * (widest + 10)) / plotW));
  xTicks.forEach((t, i) => {
    const x = axis.kind === 'category' ? MARGIN.left + (plotW * (t.v - lo)) / (hi - lo) : px(t.v);
    ctx.beginPath();
    ctx.moveTo(x, MARGIN.top);
    ctx.lineTo(x, MARGIN.top + plotH);
    ctx.stroke();
    if (i % every === 0) ctx.fillText(ellipsis(t.label, 14), x, MARGIN.top + plotH + 4);
  });
  ctx.fillText(column.label, MARGIN.left + plotW / 2, height - 14);
  ctx.save();
  ctx.translate(12, MARGIN.top + plotH / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText('loss ÷ baseline', 0, -4);
  ctx.restore();
  // The baseline (1) and the learned threshold (0.5).
  for (const [v, dash] of [
    [1, [6, 4]],
    [DIAGNOSIS_RULES.learnedRatio, [2, 3]],
  ] as const) {
    ctx.strokeStyle = '#555';
    ctx.setLineDash([...dash]);
    ctx.beginPath();
    ctx.moveTo(MARGIN.left, py(v));
    ctx.lineTo(MARGIN.left + plotW, py(v));
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.textAlign = 'left';
  ctx.textBaseline = 'bottom';
  ctx.fillStyle = '#555';
  ctx.fillText('baseline', MARGIN.left + 4, py(1) - 2);
  ctx.fillText(
    `learned (≤ ${DIAGNOSIS_RULES.learnedRatio})`,
    MARGIN.left + 4,
    py(DIAGNOSIS_RULES.learnedRatio) - 2,
  );
  // The points, each at its value (categories spread sideways so that a category's runs stay visible).
  const placed: { x: number; y: number; p: OutcomePoint }[] = [];
  const catWidth = axis.kind === 'category' ? plotW / Math.max(1, axis.categories.length) : 0;
  ctx.globalAlpha = 0.75;
  for (const p of points) {
    const x =
      axis.kind === 'category'
        ? MARGIN.left + (plotW * (p.x - lo)) / (hi - lo) + jitter(p.row.run.id) * catWidth * 0.6
        : px(p.x) + jitter(p.row.run.id) * 6;
    const y = py(p.y);
    ctx.fillStyle = VERDICT_COLORS[p.verdict];
    ctx.beginPath();
    ctx.arc(x, y, 3.5, 0, 2 * Math.PI);
    ctx.fill();
    placed.push({ x, y, p });
  }
  ctx.globalAlpha = 1;
  const wrap = h('div', { class: 'outcome-plot' }, canvas);
  /** The point within 8 px of (mx, my) CSS pixels on the canvas, the nearest. */
  const nearest = (mx: number, my: number) => {
    let best: (typeof placed)[number] | null = null;
    let d = 8 * 8;
    for (const q of placed) {
      const dd = (q.x - mx) ** 2 + (q.y - my) ** 2;
      if (dd < d) {
        d = dd;
        best = q;
      }
    }
    return best;
  };
  attachReadout(canvas, (mx, my) => {
    const q = nearest(mx, my);
    canvas.classList.toggle('pickable', q !== null);
    if (!q) return null;
    const x = column.value(q.p.row);
    return [
      q.p.row.label,
      `${column.label} ${x === null ? '—' : typeof x === 'number' ? formatNumber(x) : x}`,
      `loss ÷ baseline ${formatNumber(q.p.y)} · ${q.p.verdict}`,
    ];
  });
  canvas.addEventListener('click', (e) => {
    const r = canvas.getBoundingClientRect();
    const q = nearest(e.clientX - r.left, e.clientY - r.top);
    if (q) location.hash = runLink(q.p.row.key);
  });
  block.append(wrap, legendNote(points.length));
  block.dataset.points = String(points.length);
  return block;
}

function legendNote(n: number): HTMLElement {
  return h(
    'p',
    { class: 'axis-note' },
    n === 0
      ? 'no run shown has a loss ratio'
      : 'dashed: the baseline (the constant predictor, 1); dotted: learned at ≤ 0.5 of it · click a point to open its run',
  );
}

function ellipsis(text: string, n: number): string {
  return text.length <= n ? text : `${text.slice(0, n - 1)}…`;
}

/** About `count` round ticks over [min, max]. */
export function niceTicks(min: number, max: number, count: number): { v: number; label: string }[] {
  if (!(max > min)) return [{ v: min, label: formatNumber(min) }];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: { v: number; label: string }[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step)
    out.push({ v, label: formatNumber(Number(v.toPrecision(12))) });
  return out;
}
