// See RNN's rnn_heatmap and rnn_histogram: one page per layer showing its kernel, recurrent kernel and bias,
// every gate side by side (separators, labels), per direction, on one shared symmetric norm; per-gate histograms
// with a non-finite count; for each compared iteration (or its difference against the first).
import type { SnapshotInfo } from '../api';
import { textWidth } from '../axes';
import { LUT_CENTER, LUT_LAST, lut, NONFINITE_INDEX } from '../colormap';
import type { ViewContext } from '../context';
import { h, hiDpiCanvas } from '../dom';
import { colorbar, FONT, heatmapPanel, imageCanvas } from '../draw';
import { integerTicks } from '../layout';
import { readoutNumber } from '../readout';
import { resolveNorm } from '../scales';
import { formatNorm, formatNumber } from '../state';
import { difference, maxAbs, type Tensor } from '../tensor';
import { figureTitle } from './common';

/** A part name cut into direction, weight and gate: "backward/recurrent_kernel/f", "bias/input/z", "kernel". */
export interface PartName {
  direction: string | null;
  weight: string;
  gate: string | null;
}

const DIRECTIONS = ['forward', 'backward'];

/** Reads a weight part name as capture writes it: [direction/]weight[/row][/gate], gates being one letter. */
export function parsePart(part: string | null): PartName {
  const segs = (part ?? '').split('/').filter((s) => s !== '');
  const direction = segs.length > 1 && DIRECTIONS.includes(segs[0]!) ? segs.shift()! : null;
  const gate = segs.length > 1 && segs[segs.length - 1]!.length === 1 ? segs.pop()! : null;
  return { direction, weight: segs.join('/') || 'weight', gate };
}

/** Words for the gate letters of LSTM (ifco) and GRU (zrh) cells. */
export const GATE_NAMES: Record<string, string> = {
  i: 'input',
  f: 'forget',
  c: 'cell',
  o: 'output',
  z: 'update',
  r: 'reset',
  h: 'candidate',
};

export interface GateTensor {
  gate: string | null;
  info: SnapshotInfo;
  /** rows × cols, row-major (a bias: one row). */
  data: Float32Array;
  rows: number;
  cols: number;
}

export interface WeightGroup {
  weight: string;
  gates: GateTensor[];
}

export interface DirectionGroup {
  direction: string | null;
  weights: WeightGroup[];
}

/** rows × cols of a weight tensor: [input, unit] as is, a bias [unit] as one row. */
export function matrixShape(shape: readonly number[]): { rows: number; cols: number } {
  if (shape.length === 0) return { rows: 1, cols: 1 };
  const cols = shape[shape.length - 1]!;
  const rows = shape.slice(0, -1).reduce((a, b) => a * b, 1);
  return { rows, cols };
}

/**
 * Groups one iteration's weight tensors by direction (forward first), weight (kernel, recurrent kernel, bias: in
 * the order the layer lists its parts) and gate (likewise). `order` is the layer's part list.
 */
export function groupWeights(
  items: readonly { info: SnapshotInfo; data: Float32Array }[],
  order: readonly (string | null)[],
): DirectionGroup[] {
  const rank = (p: string | null) => {
    const i = order.indexOf(p);
    return i < 0 ? order.length : i;
  };
  const sorted = [...items].sort((a, b) => rank(a.info.part) - rank(b.info.part));
  const dirs: DirectionGroup[] = [];
  for (const it of sorted) {
    const name = parsePart(it.info.part);
    let dir = dirs.find((d) => d.direction === name.direction);
    if (!dir) {
      dir = { direction: name.direction, weights: [] };
      dirs.push(dir);
    }
    let w = dir.weights.find((x) => x.weight === name.weight);
    if (!w) {
      w = { weight: name.weight, gates: [] };
      dir.weights.push(w);
    }
    w.gates.push({ gate: name.gate, info: it.info, data: it.data, ...matrixShape(it.info.shape) });
  }
  const dirRank = (d: string | null) => (d === null ? -1 : DIRECTIONS.indexOf(d));
  return dirs.sort((a, b) => dirRank(a.direction) - dirRank(b.direction));
}

/**
 * Paints a weight's gates side by side into one image (width = gates × cols, height = rows) under the norm
 * (-a, a) with a diverging LUT: gate g fills columns [g·cols, (g+1)·cols).
 */
export function fillGates(
  out: Uint32Array,
  gates: readonly GateTensor[],
  a: number,
  table: Uint32Array,
): void {
  if (gates.length === 0) return;
  const { rows, cols } = gates[0]!;
  const width = cols * gates.length;
  const nonFinite = table[NONFINITE_INDEX]!;
  const center = LUT_CENTER;
  const scale = a > 0 ? center / a : 0;
  const high = table[LUT_LAST]!;
  const low = table[0]!;
  for (let gi = 0; gi < gates.length; gi++) {
    const data = gates[gi]!.data;
    for (let r = 0; r < rows; r++) {
      const src = r * cols;
      const dst = r * width + gi * cols;
      for (let c = 0; c < cols; c++) {
        const v = data[src + c]!;
        if (v - v !== 0) {
          out[dst + c] = nonFinite;
          continue;
        }
        const f = v * scale;
        // Rounded half away from zero, so that v and -v get mirror-image colours.
        out[dst + c] =
          f >= center
            ? high
            : f <= -center
              ? low
              : table[center + (f >= 0 ? (f + 0.5) | 0 : -((0.5 - f) | 0))]!;
      }
    }
  }
}

/** Counts of the finite values of `data` in `bins` equal bins over [lo, hi] (clamped), and the non-finite ones. */
export function histogram(
  data: Float32Array,
  lo: number,
  hi: number,
  bins: number,
): { counts: Uint32Array; nonFinite: number } {
  const counts = new Uint32Array(bins);
  let nonFinite = 0;
  const span = hi - lo;
  const scale = span > 0 ? bins / span : 0;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v - v !== 0) {
      nonFinite++;
      continue;
    }
    // Clamped first, so that `| 0` (truncation, cheaper than Math.floor) is the floor of a value ≥ 0.
    const x = (v - lo) * scale;
    counts[x <= 0 ? 0 : x >= bins ? bins - 1 : x | 0]!++;
  }
  return { counts, nonFinite };
}

/** One compared iteration of the weights page: its snapshots' tensors (one per part). */
export interface WeightsItem {
  iteration: number;
  label: string;
  parts: { info: SnapshotInfo; tensor: Tensor }[];
}

const GAP = 16;
const BIAS_HEIGHT = 16;
const BINS = 40;
const WEIGHT_LABELS: Record<string, string> = {
  kernel: 'kernel',
  recurrent_kernel: 'recurrent kernel',
  bias: 'bias',
  'bias/input': 'input bias',
  'bias/recurrent': 'recurrent bias',
};

function gateLabel(g: string | null): string {
  return g === null ? '' : GATE_NAMES[g] ? `${g} (${GATE_NAMES[g]})` : g;
}

export function renderWeights(
  root: HTMLElement,
  ctx: ViewContext,
  items: readonly WeightsItem[],
  order: readonly (string | null)[],
): number {
  const { state, width, seriesName } = ctx;
  // Difference against the first iteration, part by part, when asked and the shapes match.
  const base = new Map(items[0]?.parts.map((p) => [p.info.part, p.tensor.data]) ?? []);
  const groups = items.map((item, i) =>
    groupWeights(
      item.parts.map((p) => {
        const b = base.get(p.info.part);
        const diff = state.diff && i > 0 && b !== undefined && b.length === p.tensor.data.length;
        return { info: p.info, data: diff ? difference(p.tensor.data, b) : p.tensor.data };
      }),
      order,
    ),
  );
  // One pass over every value: max |v| per gate gives the shared norm and each weight's histogram range.
  const ranges = new Map<string, number>();
  let top = 0;
  for (const dirs of groups)
    for (const d of dirs)
      for (const w of d.weights) {
        let m = ranges.get(w.weight) ?? 0;
        for (const g of w.gates) m = Math.max(m, maxAbs([g.data]));
        ranges.set(w.weight, m);
        top = Math.max(top, m);
      }
  const a =
    state.norm === 'auto'
      ? top > 0
        ? top
        : 1e-12
      : resolveNorm(
          state.norm,
          groups.flatMap((dirs) => dirs.flatMap((d) => d.weights.flatMap((w) => w.gates.map((g) => g.data)))),
        ).a;
  const table = lut(state.cmap);
  root.append(
    figureTitle(
      `Weights — ${seriesName} — every gate, one shared ${formatNorm(a)}${state.norm === 'auto' ? ' (auto)' : ''}`,
    ),
  );
  const cbWidth = state.colorbar ? 78 + GAP : 0;
  let panels = 0;
  const layout = h('div', { class: 'compare-row weights-row' });
  const column = h('div', { class: 'weights-iterations' });
  groups.forEach((dirs, i) => {
    const item = items[i]!;
    const block = h('section', { class: 'compare-block weights-block' });
    block.append(h('h3', { class: 'block-title', 'data-png-text': '' }, item.label));
    const dirRow = h('div', { class: 'compare-row' });
    const colWidth = Math.floor((width - cbWidth - GAP * (dirs.length - 1)) / Math.max(1, dirs.length));
    for (const d of dirs) {
      const col = h('div', { class: 'weights-direction' });
      col.style.width = `${colWidth}px`;
      const tallest = Math.max(...d.weights.map((x) => x.gates[0]!.rows));
      const columnLeft = 9 + Math.ceil(textWidth(String(Math.max(0, tallest - 1)), FONT));
      if (d.direction)
        col.append(h('h4', { class: 'direction-name', 'data-png-text': '' }, `${d.direction} direction`));
      for (const w of d.weights) {
        const G = w.gates.length;
        const { rows, cols } = w.gates[0]!;
        const imageW = cols * G;
        // A recurrent kernel maps the previous hidden state (rows) to each gate's units (columns).
        const rowName = w.weight.startsWith('bias') ? '' : w.weight === 'kernel' ? 'input' : 'from unit';
        const yTicks = rows > 1 ? integerTicks(rows, 4) : [];
        // One margin for the whole column, so the gates of kernel, recurrent kernel and bias line up.
        const left = columnLeft;
        const plotW = Math.max(60, colWidth - left - 10);
        const plotH =
          rows === 1
            ? BIAS_HEIGHT
            : Math.round(Math.min(260, Math.max(28, (plotW * rows) / Math.max(1, imageW))));
        const gateAt = w.gates.map((_, g) => g * cols + Math.floor(cols / 2));
        const title = `${WEIGHT_LABELS[w.weight] ?? w.weight} [${w.gates[0]!.info.shape.join(' × ')}]${G > 1 ? ` × ${G} gates` : ''}`;
        const image = imageCanvas(imageW, rows, (out) => fillGates(out, w.gates, a, table));
        const canvas = heatmapPanel({
          image,
          width: plotW,
          height: plotH,
          x: {
            count: imageW,
            at: G > 1 ? gateAt : integerTicks(imageW, 4),
            value: (k) => (G > 1 ? gateLabel(w.gates[Math.floor(k / cols)]!.gate) : k),
          },
          y: { count: rows, at: yTicks },
          ticks: true,
          leftMargin: left,
          border: state.borders,
          label: `${item.label}, ${d.direction ? `${d.direction} ` : ''}${title}`,
          // Gate separators: a dark line between gates.
          overlay: (ctx, plot) => {
            ctx.fillStyle = '#222';
            for (let g = 1; g < G; g++) {
              const x = Math.round(plot.x + (g * cols * plot.w) / imageW);
              ctx.fillRect(x - 1, plot.y, 2, plot.h);
            }
          },
          readout: (x, y) => {
            const g = w.gates[Math.floor(x / cols)]!;
            const c = x % cols;
            const v = g.data[y * cols + c]!;
            return [
              `${state.diff && i > 0 ? 'Δ value' : 'value'} ${readoutNumber(v)}`,
              `${d.direction ? `${d.direction} · ` : ''}${WEIGHT_LABELS[w.weight] ?? w.weight}${g.gate ? ` · gate ${gateLabel(g.gate)}` : ''}`,
              ...(rowName ? [`${rowName} ${y}`] : []),
              `unit ${c}`,
              item.label,
            ];
          },
        });
        canvas.classList.add('weight-map');
        canvas.dataset.weight = `${d.direction ? `${d.direction}/` : ''}${w.weight}`;
        canvas.dataset.gates = w.gates.map((g) => g.gate ?? '').join('');
        panels++;
        col.append(h('h5', { class: 'weight-name', 'data-png-text': '' }, title), canvas);
        col.append(histogramRow(w, ranges.get(w.weight) ?? 0, plotW, left, d.direction, item.label));
      }
      dirRow.append(col);
    }
    block.append(dirRow);
    column.append(block);
  });
  layout.append(column);
  if (state.colorbar)
    layout.append(
      colorbar(state.cmap, -a, a, [-a, -a / 2, 0, a / 2, a], state.diff ? 'value / Δ' : 'value', 240),
    );
  root.append(layout);
  root.append(
    h(
      'p',
      { class: 'axis-note', 'data-png-text': '' },
      `x: units of each gate, gates side by side (separated by dark lines) · y: input (kernel) or unit (recurrent kernel) · colour: ${state.cmap}, white = 0, black = non-finite · histograms: ${BINS} bins over ±max |value| of each weight`,
    ),
  );
  return panels;
}

/**
 * One small histogram per gate of a weight, with its non-finite count: the gates side by side on one canvas
 * (a canvas and its 2D context cost more to make than these few bars do to draw: 72 canvases were a fifth of
 * the BiLSTM-256 weights page), each gate's caption above its slot.
 */
function histogramRow(
  w: WeightGroup,
  m: number,
  plotW: number,
  left: number,
  direction: string | null,
  label: string,
): HTMLElement {
  const row = h('div', { class: 'gate-histograms' });
  row.style.marginLeft = `${left}px`;
  const G = w.gates.length;
  const gap = 6;
  const each = Math.max(60, Math.floor((plotW - gap * (G - 1)) / G));
  const lo = m > 0 ? -m : -1;
  const hi = m > 0 ? m : 1;
  const hh = 46;
  const { canvas, ctx } = hiDpiCanvas(G * each + (G - 1) * gap, hh);
  const captions = h('div', { class: 'gate-captions' });
  const described: string[] = [];
  ctx.font = FONT;
  ctx.textBaseline = 'top';
  w.gates.forEach((g, gi) => {
    const x0 = gi * (each + gap);
    const { counts, nonFinite } = histogram(g.data, lo, hi, BINS);
    let top = 0;
    for (const c of counts) top = Math.max(top, c);
    const bw = each / BINS;
    ctx.fillStyle = '#5b7fb0';
    counts.forEach((c, b) => {
      if (c === 0) return;
      const bh = Math.max(1, Math.round(((hh - 12) * c) / Math.max(1, top)));
      ctx.fillRect(x0 + Math.floor(b * bw), hh - 12 - bh, Math.max(1, Math.ceil(bw) - 1), bh);
    });
    ctx.fillStyle = '#888';
    ctx.fillRect(x0 + Math.round(each / 2), 0, 1, hh - 12);
    ctx.fillStyle = '#333';
    ctx.textAlign = 'left';
    ctx.fillText(formatNumber(lo), x0, hh - 11);
    ctx.textAlign = 'right';
    ctx.fillText(formatNumber(hi), x0 + each, hh - 11);
    const cap = h(
      'span',
      { class: nonFinite > 0 ? 'gate-caption bad' : 'gate-caption', 'data-png-text': '' },
      `${g.gate ?? w.weight} · non-finite ${nonFinite}`,
    );
    cap.style.width = `${each}px`;
    captions.append(cap);
    described.push(`${g.gate ? `gate ${g.gate}` : w.weight} ${nonFinite} non-finite`);
  });
  canvas.setAttribute('role', 'img');
  canvas.setAttribute(
    'aria-label',
    `${label}, ${direction ? `${direction} ` : ''}${w.weight}: histograms, ${described.join(', ')}`,
  );
  canvas.classList.add('gate-histogram');
  row.append(captions, canvas);
  return row;
}
