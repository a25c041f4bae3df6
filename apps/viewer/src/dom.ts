// Building DOM without HTML strings (the server's CSP forbids inline styles and scripts; text stays text).

type Attrs = Record<string, string | number | boolean | null | undefined>;
type Child = Node | string | null | undefined | false;

/** document.createElement with attributes (null/false/undefined skipped) and children (strings become text). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = String(value);
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return el;
}

/** A <select> of options; `onChange` gets the chosen value. */
export function select(
  label: string,
  options: { value: string; label: string }[],
  value: string,
  onChange: (value: string) => void,
  attrs: Attrs = {},
): HTMLLabelElement {
  const el = h(
    'select',
    attrs,
    options.map((o) => h('option', { value: o.value, selected: o.value === value }, o.label)),
  );
  el.value = value;
  el.addEventListener('change', () => onChange(el.value));
  return h('label', { class: 'field' }, h('span', {}, label), el);
}

export function checkbox(
  label: string,
  checked: boolean,
  onChange: (checked: boolean) => void,
  attrs: Attrs = {},
) {
  const input = h('input', { type: 'checkbox', checked, ...attrs });
  input.checked = checked;
  input.addEventListener('change', () => onChange(input.checked));
  return h('label', { class: 'field check' }, input, h('span', {}, label));
}

/** A text/number input committing on change (Enter or blur). */
export function textInput(
  label: string,
  value: string,
  onChange: (value: string) => void,
  attrs: Attrs = {},
): HTMLLabelElement {
  const input = h('input', { type: 'text', value, size: 6, ...attrs });
  input.value = value;
  input.addEventListener('change', () => onChange(input.value.trim()));
  return h('label', { class: 'field' }, h('span', {}, label), input);
}

export function button(label: string, onClick: () => void, attrs: Attrs = {}): HTMLButtonElement {
  const el = h('button', { type: 'button', ...attrs }, label);
  el.addEventListener('click', onClick);
  return el;
}

/** A canvas of `width` × `height` CSS pixels backed at the device pixel ratio; the context is pre-scaled. */
export function hiDpiCanvas(
  width: number,
  height: number,
): { canvas: HTMLCanvasElement; ctx: CanvasRenderingContext2D } {
  const dpr = Math.max(1, Math.min(3, window.devicePixelRatio || 1));
  const canvas = h('canvas', { width: Math.round(width * dpr), height: Math.round(height * dpr) });
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d')!;
  ctx.scale(dpr, dpr);
  return { canvas, ctx };
}
