// PNG download of a view: every canvas of the figure (heatmaps, uPlot charts, colorbars) and its text labels
// composed onto one canvas at their on-screen positions.

/** Draws `root`'s canvases and `[data-png-text]` labels onto one white canvas at the device pixel ratio. */
export function composeCanvas(root: HTMLElement): HTMLCanvasElement {
  const box = root.getBoundingClientRect();
  const width = Math.ceil(Math.max(root.scrollWidth, box.width));
  const height = Math.ceil(Math.max(root.scrollHeight, box.height));
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const out = document.createElement('canvas');
  out.width = Math.round(width * dpr);
  out.height = Math.round(height * dpr);
  const ctx = out.getContext('2d')!;
  ctx.scale(dpr, dpr);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  const left = box.left - root.scrollLeft;
  const top = box.top - root.scrollTop;
  for (const canvas of root.querySelectorAll('canvas')) {
    const r = canvas.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    ctx.drawImage(canvas, r.left - left, r.top - top, r.width, r.height);
  }
  ctx.textBaseline = 'top';
  // Our own labels, and uPlot's legend entries (iteration names, horizons).
  for (const el of root.querySelectorAll<HTMLElement>('[data-png-text], .u-legend .u-label')) {
    const r = el.getBoundingClientRect();
    const style = getComputedStyle(el);
    const text = el.textContent?.trim() ?? '';
    if (!text || r.width === 0) continue;
    if (style.backgroundColor && style.backgroundColor !== 'rgba(0, 0, 0, 0)') {
      ctx.fillStyle = style.backgroundColor;
      ctx.fillRect(r.left - left, r.top - top, r.width, r.height);
    }
    ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    ctx.fillStyle = style.color;
    const padX = Number.parseFloat(style.paddingLeft) || 0;
    const padY = Number.parseFloat(style.paddingTop) || 0;
    ctx.fillText(text, r.left - left + padX, r.top - top + padY, Math.max(1, r.width - padX));
  }
  return out;
}

/** Composes `root` and starts a download of it as `filename`. */
export async function downloadPng(root: HTMLElement, filename: string): Promise<void> {
  const canvas = composeCanvas(root);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the browser could not encode the PNG');
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file name from the view's parts: letters, digits, '-', '_' and '.' only. */
export function pngName(parts: (string | number | null | undefined)[]): string {
  const name = parts
    .filter((p) => p !== null && p !== undefined && p !== '')
    .map((p) => String(p).replace(/[^A-Za-z0-9_.-]+/g, '_'))
    .join('-');
  return `${name || 'gradscope'}.png`;
}
