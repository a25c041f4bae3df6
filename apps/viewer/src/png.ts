// PNG download of a view: every canvas of the figure (heatmaps, uPlot charts, colorbars) and its text labels
// composed onto one canvas at their on-screen positions.

/**
 * Draws `root`'s canvases, `[data-png-box]` swatches, uPlot legend markers and `[data-png-text]` labels onto one
 * white canvas at the device pixel ratio. Canvases are copied 1:1 at whole device pixels with smoothing off, so
 * lines and cells stay as sharp as on screen.
 */
export function composeCanvas(root: HTMLElement): HTMLCanvasElement {
  const box = root.getBoundingClientRect();
  const width = Math.ceil(Math.max(root.scrollWidth, box.width));
  const height = Math.ceil(Math.max(root.scrollHeight, box.height));
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const out = document.createElement('canvas');
  out.width = Math.round(width * dpr);
  out.height = Math.round(height * dpr);
  const ctx = out.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, out.width, out.height);
  const left = box.left - root.scrollLeft;
  const top = box.top - root.scrollTop;
  // Device pixel of a CSS coordinate relative to the root.
  const px = (v: number) => Math.round(v * dpr);
  for (const canvas of root.querySelectorAll('canvas')) {
    const r = canvas.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const x = px(r.left - left);
    const y = px(r.top - top);
    const w = px(r.width);
    const hgt = px(r.height);
    // A backing store of exactly the on-screen device size is copied as is; any other is scaled without smoothing.
    if (canvas.width === w && canvas.height === hgt) ctx.drawImage(canvas, x, y);
    else ctx.drawImage(canvas, x, y, w, hgt);
  }
  for (const el of root.querySelectorAll<HTMLElement>('[data-png-box], .u-legend .u-marker')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    const style = getComputedStyle(el);
    const fill = style.backgroundColor;
    const stroke = style.borderLeftColor;
    const x = px(r.left - left);
    const y = px(r.top - top);
    if (fill && fill !== 'rgba(0, 0, 0, 0)') {
      ctx.fillStyle = fill;
      ctx.fillRect(x, y, px(r.width), px(r.height));
    }
    const bw = Number.parseFloat(style.borderLeftWidth) || 0;
    if (bw > 0 && stroke && stroke !== 'rgba(0, 0, 0, 0)') {
      ctx.strokeStyle = stroke;
      ctx.lineWidth = bw * dpr;
      ctx.strokeRect(x + (bw * dpr) / 2, y + (bw * dpr) / 2, px(r.width) - bw * dpr, px(r.height) - bw * dpr);
    }
  }
  ctx.scale(dpr, dpr);
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
    ctx.fillText(
      text,
      Math.round(r.left - left + padX),
      Math.round(r.top - top + padY),
      Math.max(1, r.width - padX),
    );
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
  return fileName(parts, 'png');
}

/** A file name from parts (empty ones dropped, others reduced to letters, digits, '-', '_', '.') and an extension. */
export function fileName(parts: (string | number | null | undefined)[], ext: string): string {
  const name = parts
    .filter((p) => p !== null && p !== undefined && p !== '')
    .map((p) => String(p).replace(/[^A-Za-z0-9_.-]+/g, '_'))
    .join('-');
  return `${name || 'gradscope'}.${ext}`;
}

/**
 * The Arrow export's file name: run, layer, kind, part (a gate's part, e.g. forward/kernel/i, becomes
 * forward_kernel_i) and the iterations, so that every gate downloads under its own name.
 */
export function exportName(
  run: string,
  key: { layer: string; kind: string; part: string | null },
  iterations: readonly number[],
): string {
  return fileName(['gradscope', run, key.layer, key.kind, key.part, iterations.join('_')], 'arrow');
}
