// TensorBoard's histogram modes from the counts the server sends (/histograms: iterations × buckets, log-spaced
// symmetric buckets): "overlay" draws every iteration's histogram on one axis, "offset" stacks them as a ridgeline
// with training going down the page. Compared iterations are drawn in their colours.
import type { HistogramsResponse } from '../api';
import { hiDpiCanvas } from '../dom';
import { FONT } from '../draw';
import { matrixValues } from '../matrix';
import { attachReadout } from '../readout';
import { iterationColor } from '../scales';
import { formatNumber, type HistMode } from '../state';

/** The buckets [from, to] that hold any value at any iteration (the whole range when all are empty). */
export function occupiedBuckets(counts: Float32Array, iterations: number, buckets: number): [number, number] {
  let from = buckets;
  let to = -1;
  for (let i = 0; i < iterations; i++)
    for (let b = 0; b < buckets; b++)
      if (counts[i * buckets + b]! > 0) {
        if (b < from) from = b;
        if (b > to) to = b;
      }
  return to < 0 ? [0, Math.max(0, buckets - 1)] : [from, to];
}

/** A bucket's range in words, from its edges ("[0.00195, 0.00391)"; open ends as ±∞). */
export function bucketRange(edges: readonly (number | null)[], b: number): string {
  const lo = edges[b];
  const hi = edges[b + 1];
  const f = (v: number | null | undefined, sign: string) =>
    v === null || v === undefined ? `${sign}∞` : formatNumber(v);
  return `[${f(lo, '-')}, ${f(hi, '+')})`;
}

/** Colour of a (non-compared) iteration i of n: grey to dark blue as training goes on. */
export function ageColor(i: number, n: number): string {
  const t = n <= 1 ? 1 : i / (n - 1);
  const l = Math.round(78 - 50 * t);
  return `hsl(214, ${Math.round(25 + 35 * t)}%, ${l}%)`;
}

export function renderHistograms(
  root: HTMLElement,
  response: HistogramsResponse,
  chosen: readonly number[],
  mode: Exclude<HistMode, 'bands'>,
  width: number,
): { canvas: HTMLCanvasElement; panels: number } {
  const I = response.iterations.length;
  const B = response.edges.length - 1;
  const counts = matrixValues(response.counts);
  const [from, to] = occupiedBuckets(counts, I, B);
  const n = to - from + 1;
  const W = Math.max(320, width - 8);
  const left = 56;
  const right = 16;
  const plotW = W - left - right;
  const ridge = mode === 'offset' ? Math.max(6, Math.min(26, Math.floor(420 / Math.max(1, I)))) : 0;
  const peakH = mode === 'offset' ? Math.max(30, ridge * 3) : 320;
  const top = 8;
  const plotH = mode === 'offset' ? peakH + ridge * (I - 1) : peakH;
  const H = top + plotH + 34;
  const { canvas, ctx } = hiDpiCanvas(W, H);
  let max = 0;
  for (let i = 0; i < I; i++) for (let b = from; b <= to; b++) max = Math.max(max, counts[i * B + b]!);
  const xOf = (b: number) => left + ((b - from + 0.5) / n) * plotW;
  const baseline = (i: number) => (mode === 'offset' ? top + peakH + ridge * i : top + plotH);
  const yOf = (i: number, c: number) => baseline(i) - (max > 0 ? (c / max) * peakH : 0);
  const chosenIndex = new Map(chosen.map((it, ci) => [it, ci]));
  const order = Array.from({ length: I }, (_, i) => i);
  // Overlay: compared iterations last (on top). Offset: earliest at the back, so draw from the top down.
  if (mode === 'overlay')
    order.sort(
      (a, b) =>
        Number(chosenIndex.has(response.iterations[a]!)) - Number(chosenIndex.has(response.iterations[b]!)),
    );
  for (const i of order) {
    const ci = chosenIndex.get(response.iterations[i]!);
    ctx.beginPath();
    ctx.moveTo(xOf(from), baseline(i));
    for (let b = from; b <= to; b++) ctx.lineTo(xOf(b), yOf(i, counts[i * B + b]!));
    ctx.lineTo(xOf(to), baseline(i));
    if (mode === 'offset') {
      ctx.fillStyle = '#fff';
      ctx.globalAlpha = 0.9;
      ctx.fill();
      ctx.globalAlpha = 1;
    }
    ctx.strokeStyle = ci === undefined ? ageColor(i, I) : iterationColor(ci);
    ctx.lineWidth = ci === undefined ? 1 : 2;
    ctx.stroke();
  }
  // Axes: buckets (log-spaced |value|, sign kept) along x; iterations (offset) or counts (overlay) along y.
  ctx.font = FONT;
  ctx.fillStyle = '#333';
  ctx.strokeStyle = '#444';
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left, top + plotH + 0.5);
  ctx.lineTo(left + plotW, top + plotH + 0.5);
  ctx.stroke();
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const step = Math.max(1, Math.ceil(n / Math.max(2, Math.floor(plotW / 70))));
  for (let b = from; b <= to; b += step) {
    const x = Math.round(xOf(b)) + 0.5;
    ctx.fillRect(x - 0.5, top + plotH, 1, 3);
    const lo = response.edges[b];
    const hi = response.edges[b + 1];
    // The bucket's edge nearer to zero names it (|g| ≥ 2^k, or below the smallest).
    const edge = lo !== null && lo !== undefined && lo >= 0 ? lo : hi;
    ctx.fillText(edge === null || edge === undefined ? '' : formatNumber(edge), x, top + plotH + 5);
  }
  ctx.fillText('value (log-spaced buckets, sign kept)', left + plotW / 2, top + plotH + 19);
  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  if (mode === 'offset') {
    const every = Math.max(1, Math.ceil(14 / ridge));
    for (let i = 0; i < I; i += every) ctx.fillText(String(response.iterations[i]), left - 6, baseline(i));
  } else {
    ctx.fillText(formatNumber(max), left - 6, top + 4);
    ctx.fillText('0', left - 6, top + plotH);
  }
  canvas.setAttribute('role', 'img');
  canvas.setAttribute(
    'aria-label',
    `histograms of ${I} iterations, ${mode === 'offset' ? 'offset (training goes down)' : 'overlaid'}`,
  );
  canvas.classList.add('histograms');
  attachReadout(canvas, (x, y) => {
    const b = Math.floor(((x - left) / plotW) * n) + from;
    if (b < from || b > to || I === 0) return null;
    let best = 0;
    if (mode === 'offset') {
      best = Math.min(I - 1, Math.max(0, Math.round((y - top - peakH) / ridge)));
    } else {
      let d = Number.POSITIVE_INFINITY;
      for (let i = 0; i < I; i++) {
        const dy = Math.abs(yOf(i, counts[i * B + b]!) - y);
        if (dy < d) {
          d = dy;
          best = i;
        }
      }
    }
    return [
      `iteration ${response.iterations[best]}`,
      `bucket ${bucketRange(response.edges, b)}`,
      `count ${counts[best * B + b]}`,
    ];
  });
  root.append(canvas);
  return { canvas, panels: 1 };
}
