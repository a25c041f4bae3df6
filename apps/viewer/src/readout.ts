// Hover readouts: one tooltip for the page, shown next to the pointer with the value under it (a heatmap cell,
// a chart point), and the same text kept in the figure's `data-readout` for tests and screen readers.
import { h } from './dom';

let tip: HTMLElement | null = null;

function element(): HTMLElement {
  if (!tip?.isConnected) {
    tip = h('div', { class: 'readout', role: 'tooltip', id: 'readout' });
    document.body.append(tip);
  }
  return tip;
}

/** Shows `lines` next to the pointer at (clientX, clientY). */
export function showReadout(lines: readonly string[], clientX: number, clientY: number): void {
  const el = element();
  el.replaceChildren(...lines.map((l) => h('div', {}, l)));
  el.hidden = false;
  const pad = 14;
  const w = el.offsetWidth;
  const hgt = el.offsetHeight;
  const x = clientX + pad + w > window.innerWidth ? clientX - pad - w : clientX + pad;
  const y = clientY + pad + hgt > window.innerHeight ? clientY - pad - hgt : clientY + pad;
  el.style.left = `${Math.max(0, x)}px`;
  el.style.top = `${Math.max(0, y)}px`;
}

export function hideReadout(): void {
  if (tip) tip.hidden = true;
}

/**
 * Hover readouts on a canvas: `lookup` turns a pointer position in CSS pixels relative to the canvas into the
 * lines to show (null: nothing there). The text also goes into the canvas' `data-readout`.
 */
export function attachReadout(canvas: HTMLElement, lookup: (x: number, y: number) => string[] | null): void {
  canvas.addEventListener('pointermove', (e) => {
    const r = canvas.getBoundingClientRect();
    const lines = lookup(e.clientX - r.left, e.clientY - r.top);
    if (!lines) {
      hideReadout();
      canvas.removeAttribute('data-readout');
      return;
    }
    canvas.setAttribute('data-readout', lines.join(' · '));
    showReadout(lines, e.clientX, e.clientY);
  });
  canvas.addEventListener('pointerleave', () => hideReadout());
}

/** The cell index under a coordinate: `count` cells over [start, start + size); null outside. */
export function cellAt(pos: number, start: number, size: number, count: number): number | null {
  if (count <= 0 || size <= 0) return null;
  const k = Math.floor(((pos - start) / size) * count);
  return k >= 0 && k < count ? k : null;
}

/** A value as a readout shows it: 4 significant digits, exponent form outside [1e-3, 1e4). */
export function readoutNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (v === 0) return '0';
  const abs = Math.abs(v);
  if (abs >= 1e-3 && abs < 1e4) return String(Number(v.toPrecision(4)));
  return v.toExponential(3);
}
