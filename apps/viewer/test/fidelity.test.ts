// Issue 12 in a real browser: every figure true to its data (one test per defect, on pixels or DOM), the weights
// page of a Bidirectional LSTM, hover readouts that show what the API returns, keyboard, histogram modes.
import { readFileSync, writeFileSync } from 'node:fs';
import { tableFromIPC } from 'apache-arrow';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatNorm } from '../src/state';
import {
  type Fixture,
  hook,
  launchBrowser,
  newPage,
  openView,
  rendered,
  type SeriesSpec,
  SHOTS,
  shot,
  startServer,
  textsOf,
} from './harness';

const every20 = Array.from({ length: 21 }, (_, i) => i * 20); // 0 … 400

/** The e2e suite's ex1: 3 samples × 20 timesteps × 4 channels, decaying back from the last timestep. */
const ex1: SeriesSpec = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  shape: [3, 20, 4],
  dims: ['sample', 'timestep', 'channel'],
  iterations: every20,
  value: (it, s, t, c) => (s % 2 ? -1 : 1) * (c + 1) * 0.001 * Math.exp(-(19 - t) / (1 + it / 100)),
};
/** 16 samples × 30 timesteps × 16 channels, max |value| exactly 0.00201, negative half of the time. */
const ex4: SeriesSpec = {
  layer: 'lstm_16',
  layerClass: 'LSTM',
  shape: [16, 30, 16],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [20, 200, 400],
  value: (it, s, t, c) =>
    t === 29 && c === 0 && s === 0 ? -0.00201 : Math.sin(it + s + t * 0.3 + c) * 0.001,
};

const UNITS = 4;
const INPUT = 3;
const GATES = 'ifco';
/** A weight's value: distinct per direction, weight, gate, row, unit and iteration. */
const weightValue = (dir: number, w: number, g: number) => (it: number, r: number, _t: number, c: number) =>
  (dir ? -1 : 1) * (1 + w) * 0.01 * (g + 1) + r * 1e-3 + c * 1e-4 + it * 1e-6;
/** Bidirectional(LSTM, 4 units) over 12 timesteps, concat: output-grad plus every weight of both directions. */
const biOutput: SeriesSpec = {
  layer: 'bidirectional_lstm',
  layerClass: 'Bidirectional',
  shape: [2, 12, 2 * UNITS],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [20, 200, 400],
  channelParts: ['forward', 'backward'],
  // forward channels grow with t, backward ones shrink with t: read in the order it ran, both grow
  value: (_it, s, t, c) => (c < UNITS ? (t + 1) * (c + 1) : (12 - t) * (c - UNITS + 1)) * 1e-4 * (s + 1),
};
const biWeights: SeriesSpec[] = ['forward', 'backward'].flatMap((dir, d) =>
  (['kernel', 'recurrent_kernel', 'bias'] as const).flatMap((weight, w) =>
    [...GATES].map((gate, g) => ({
      layer: 'bidirectional_lstm',
      layerClass: 'Bidirectional',
      kind: 'weight' as const,
      part: `${dir}/${weight}/${gate}`,
      shape: weight === 'bias' ? [UNITS] : [weight === 'kernel' ? INPUT : UNITS, UNITS],
      dims: weight === 'bias' ? ['unit'] : ['input', 'unit'],
      iterations: [20, 200, 400],
      value: weightValue(d, w, g),
    })),
  ),
);

/** A run longer than the series index the run page loads (SERIES_ROWS = 1000): iterations 1 … 1500. */
const long: SeriesSpec = {
  layer: 'gru_1',
  layerClass: 'GRU',
  shape: [1, 4, 2],
  dims: ['sample', 'timestep', 'channel'],
  iterations: Array.from({ length: 1500 }, (_, i) => i + 1),
  value: (it, _s, t, c) => it * 1e-3 + t * 1e-4 + c * 1e-5,
};

/** Bidirectional(LSTM, 256 units): the weights page at the benchmark's size. */
const bi256Weights: SeriesSpec[] = ['forward', 'backward'].flatMap((dir, d) =>
  (['kernel', 'recurrent_kernel', 'bias'] as const).flatMap((weight, w) =>
    [...GATES].map((gate, g) => ({
      layer: 'bidirectional_256',
      layerClass: 'Bidirectional',
      kind: 'weight' as const,
      part: `${dir}/${weight}/${gate}`,
      shape: weight === 'bias' ? [256] : [weight === 'kernel' ? 32 : 256, 256],
      dims: weight === 'bias' ? ['unit'] : ['input', 'unit'],
      iterations: [20, 200, 400],
      value: (it: number, r: number, _t: number, c: number) =>
        Math.sin(r * 0.1 + c * 0.07 + g + d + it) * 0.05 * (1 + w),
    })),
  ),
);

let fx: Fixture;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const errors: string[] = [];

const open = (hash: string, p: Page = page) => openView(p, `${fx.url}${hash}`);
const texts = (selector: string, p: Page = page) => textsOf(p, selector);

/** Hovers the centre of cell (x, y) of a heatmap canvas and returns its readout. */
async function hoverCell(selector: string, x: number, y: number, nx: number, ny: number): Promise<string> {
  const canvas = page.locator(selector).first();
  const plot = (await canvas.getAttribute('data-plot'))!.split(',').map(Number);
  const [px, py, pw, ph] = plot as [number, number, number, number];
  await canvas.hover({ position: { x: px + ((x + 0.5) * pw) / nx, y: py + ((y + 0.5) * ph) / ny } });
  await page.waitForFunction(
    (sel) => document.querySelector(sel)?.hasAttribute('data-readout') === true,
    selector,
  );
  return (await canvas.getAttribute('data-readout'))!;
}

/** The value the API returns for one element of a snapshot's tensor. */
async function apiValue(
  run: string,
  layer: string,
  kind: string,
  part: string | null,
  iteration: number,
  index: number,
) {
  const q = new URLSearchParams({ layer, kind });
  if (part) q.set('part', part);
  const list = (await (await fetch(`${fx.url}api/runs/${run}/snapshots?${q}`)).json()) as {
    id: number;
    iteration: number;
    part: string | null;
  }[];
  const info = list.find((s) => s.iteration === iteration && (s.part ?? null) === part)!;
  const bytes = new Uint8Array(await (await fetch(`${fx.url}api/snapshots/${info.id}/tensor`)).arrayBuffer());
  const column = tableFromIPC(bytes).getChild('tensor')!;
  const values = column.data[0]!.children[0]!;
  return (values.values as Float32Array)[values.offset + index]!;
}

/** A readout's value agrees with the API's to its 4 significant digits. */
function expectReadout(text: string, api: number): void {
  expect(Math.abs(readoutValue(text) - api)).toBeLessThanOrEqual(Math.abs(api) * 5e-4);
}

function readoutValue(text: string): number {
  const m = /value (\S+)/.exec(text);
  return Number(m![1]);
}

beforeAll(async () => {
  fx = await startServer([
    { id: 'run-ex1', name: 'ex1-lstm6', specs: [ex1] },
    { id: 'run-ex4', name: 'ex4-lstm16', specs: [ex4] },
    { id: 'run-bi', name: 'ex9-bilstm', specs: [biOutput, ...biWeights] },
    { id: 'run-bi256', name: 'bilstm-256', specs: bi256Weights },
    { id: 'run-long', name: 'long-gru', specs: [long] },
  ]);
  browser = await launchBrowser();
  ({ context, page } = await newPage(browser, errors, {
    viewport: { width: 1400, height: 900 },
    acceptDownloads: true,
    failedResponses: true,
  }));
});

afterAll(async () => {
  await browser?.close();
  await fx?.close();
});

describe('issue 12: every figure true to its data', () => {
  it('1. a weight of a Bidirectional layer is not split into forward/backward halves', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&kind=weight&part=forward/kernel/f&view=2d');
    expect(await page.locator('.half-name').count()).toBe(0);
    expect((await hook(page)).panels).toBe(3); // one panel per iteration, all 4 units in it
    const label = await page.getAttribute('canvas[aria-label^="iteration 20"]', 'aria-label');
    expect(label).not.toContain('forward');
    // the layer output still is: its snapshot says so
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&sample=0');
    expect(await texts('.half-name')).toContain('forward');
  });

  it('2. reflect_half flips the backward half about the timesteps: it reads in the order it ran', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&sample=0&it=20');
    const backward = 'canvas[aria-label*="backward"]';
    // leftmost column of the backward panel is input timestep 11, where the backward value is smallest
    expect(await hoverCell(backward, 0, 0, 12, UNITS)).toContain('timestep 11');
    expect(await hoverCell(backward, 11, 0, 12, UNITS)).toContain('timestep 0');
    // and it is drawn lighter than its last column (the colour follows the data the readout names)
    const [first, last] = await page.$eval(backward, (c) => {
      const canvas = c as HTMLCanvasElement;
      const [px, py, pw, ph] = canvas.dataset.plot!.split(',').map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const dpr = canvas.width / canvas.clientWidth;
      const ctx = canvas.getContext('2d')!;
      const at = (x: number) => [
        ...ctx.getImageData(Math.round(x * dpr), Math.round((py + ph / 8) * dpr), 1, 1).data,
      ];
      return [at(px + pw / 24), at(px + pw - pw / 24)];
    });
    expect(first![1]).toBeGreaterThan(last![1]!); // less red: closer to white
    await shot(page, '2-reflect-half');
  });

  it('3. 1D y axes are as wide as their labels: "-0.00201" keeps its minus sign', async () => {
    await open('#/run?run=ex4-lstm16&view=1d&sample=0&it=20');
    const { room, need } = await page.evaluate(() => {
      const over = document.querySelector('#figure .uplot .u-over') as HTMLElement;
      const ctx = document.createElement('canvas').getContext('2d')!;
      ctx.font = '10px system-ui';
      return { room: over.offsetLeft, need: ctx.measureText('-0.00201').width };
    });
    expect(room).toBeGreaterThanOrEqual(need + 5);
    await shot(page, '3-1d-axes');
  });

  for (const width of [1400, 1920]) {
    it(`4. 1D small multiples of 16 channels never overlap the next iteration (${width} px)`, async () => {
      const p = await context.newPage();
      await p.setViewportSize({ width, height: 900 });
      try {
        await open('#/run?run=ex4-lstm16&view=1d', p);
        const boxes = await p.$$eval('#figure .compare-block', (els) =>
          els.map((b) => {
            const r = b.getBoundingClientRect();
            const charts = [...b.querySelectorAll('.uplot')].map((u) => u.getBoundingClientRect());
            return {
              left: r.left,
              right: r.right,
              top: r.top,
              bottom: r.bottom,
              inside: charts.every((c) => c.left >= r.left - 0.5 && c.right <= r.right + 0.5),
            };
          }),
        );
        expect(boxes.length).toBe(3);
        expect(boxes.every((b) => b.inside)).toBe(true);
        for (let i = 0; i < boxes.length; i++)
          for (let j = i + 1; j < boxes.length; j++) {
            const a = boxes[i]!;
            const b = boxes[j]!;
            const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
            expect(overlap).toBe(false);
          }
        if (width === 1400) await shot(p, '4-1d-16-channels-1400');
      } finally {
        await p.close();
      }
    });
  }

  it('4. 2D fits an 800 px window', async () => {
    const p = await context.newPage();
    await p.setViewportSize({ width: 800, height: 900 });
    try {
      await open('#/run?run=ex1-lstm6', p);
      const { scroll, client } = await p.$eval('#figure', (m) => ({
        scroll: m.scrollWidth,
        client: m.clientWidth,
      }));
      expect(scroll).toBeLessThanOrEqual(client);
      await shot(p, '4-2d-800px');
    } finally {
      await p.close();
    }
  });

  it('5. the flow tab on a weight falls back to a view that draws it, and says why; no path in any error', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&kind=weight&part=forward/kernel/i&view=flow');
    const h = await hook(page);
    expect(h.error).toBeNull();
    expect(h.view).toBe('2d');
    expect(await page.evaluate(() => location.hash)).not.toContain('view=flow');
    expect((await texts('.notice')).join(' ')).toContain('has no timestep axis');
    expect(await page.isDisabled('button[role="tab"][data-view="flow"]')).toBe(true);
    // a server error reaches the user without the server's file path
    await open('#/run?run=no-such-run');
    const message = (await hook(page)).error ?? '';
    expect(message).toContain('no run');
    expect(message).not.toMatch(/\/tmp\/|runs\.gradscope/);
  });

  it('6. the automatic norm is computed over what is shown (sample 0, 10 timesteps)', async () => {
    await open('#/run?run=ex1-lstm6&sample=0&maxT=10');
    // largest |value| of sample 0 over timesteps 0–9 of iterations 20, 200, 400: channel 3, t = 9, iteration 400
    const a = 4 * 0.001 * Math.exp(-10 / 5);
    expect(await page.textContent('.figure-title')).toContain(formatNorm(a));
    // the strongest shown cell is full colour, not "almost white"
    const red = await page.$eval('canvas[aria-label^="iteration 400, sample 0"]', (c) => {
      const canvas = c as HTMLCanvasElement;
      const [px, py, pw] = canvas.dataset.plot!.split(',').map(Number) as [number, number, number];
      const dpr = canvas.width / canvas.clientWidth;
      const ctx = canvas.getContext('2d')!;
      // bottom row = channel 3, last column = t 9
      const ph = Number(canvas.dataset.plot!.split(',')[3]);
      return [
        ...ctx.getImageData(Math.round((px + pw - 2) * dpr), Math.round((py + ph - 2) * dpr), 1, 1).data,
      ];
    });
    // the end of the scale (RdBu's dark red, green ≈ 0), where the norm over every timestep left it pale
    expect(red[1]!).toBeLessThan(60);
    expect(red[0]! - red[2]!).toBeGreaterThan(50);
    await shot(page, '6-norm-shown');
  });

  it('7. flow: whole-timestep ticks, markers beside the map (not on its cells), forward before backward', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&view=flow');
    const maps = await page.$$eval('canvas[aria-label^="gradient flow ("]', (els) =>
      els.map((e) => e.getAttribute('aria-label')!.split(':')[0]),
    );
    expect(maps).toEqual(['gradient flow (forward)', 'gradient flow (backward)']);
    // the compared iteration's row: its first cell has one colour at both edges (no marker painted over it; the
    // memory-horizon dot, when the horizon is timestep 0, sits at the cell's centre and is left out)
    const [edge, middle] = await page.$eval('canvas[aria-label^="gradient flow (forward)"]', (c) => {
      const canvas = c as HTMLCanvasElement;
      const [px, py, pw, ph] = canvas.dataset.plot!.split(',').map(Number) as [
        number,
        number,
        number,
        number,
      ];
      const dpr = canvas.width / canvas.clientWidth;
      const ctx = canvas.getContext('2d')!;
      const cw = pw / 12;
      const y = py + ph / 6; // the first of three iterations: compared
      const at = (x: number) => [...ctx.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data];
      return [at(px + 1.5), at(px + cw - 1.5)];
    });
    expect(edge).toEqual(middle);
    expect(await hoverCell('canvas[aria-label^="gradient flow (forward)"]', 3, 0, 12, 3)).toMatch(
      /iteration 20 · timestep 3 · norm /,
    );
    await shot(page, '7-flow');
  });

  it('8. a requested iteration that was not recorded is replaced, the URL fixed, and the user told', async () => {
    await open('#/run?run=ex1-lstm6&it=20,250');
    expect(await texts('#figure .block-title')).toEqual(['iteration 20']);
    const hash = await page.evaluate(() => location.hash);
    expect(hash).toContain('it=20');
    expect(hash).not.toContain('250');
    expect(await texts('.notice')).toEqual(['iteration 250 was not recorded: showing 20']);
    expect((await hook(page)).notices).toEqual(['iteration 250 was not recorded: showing 20']);
  });

  it('9. Download PNG keeps swatches and direction labels, and copies the canvases sharp', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&sample=0&it=20');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download PNG')]);
    const png = readFileSync((await download.path())!).toString('base64');
    if (SHOTS) writeFileSync(`${SHOTS}/9-download-bigru.png`, Buffer.from(png, 'base64'));
    const result = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const out = document.createElement('canvas');
      out.width = img.width;
      out.height = img.height;
      const octx = out.getContext('2d')!;
      octx.drawImage(img, 0, 0);
      const root = document.getElementById('figure')!.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      // a heatmap canvas: every pixel as on screen
      const canvas = document.querySelector('canvas[aria-label*="forward"]') as HTMLCanvasElement;
      const r = canvas.getBoundingClientRect();
      const mine = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const theirs = octx.getImageData(
        Math.round((r.left - root.left) * dpr),
        Math.round((r.top - root.top) * dpr),
        canvas.width,
        canvas.height,
      ).data;
      // the canvas over the PNG's white background, pixel by pixel
      let diff = 0;
      for (let i = 0; i < mine.length; i += 4) {
        const alpha = mine[i + 3]! / 255;
        for (let k = 0; k < 3; k++) {
          const want = mine[i + k]! * alpha + 255 * (1 - alpha);
          if (Math.abs(want - theirs[i + k]!) > 2) diff++;
        }
      }

      // the direction label's box holds dark (text) pixels
      const label = document.querySelector('.half-name')!.getBoundingClientRect();
      const text = octx.getImageData(
        Math.round((label.left - root.left) * dpr),
        Math.round((label.top - root.top) * dpr),
        Math.max(1, Math.round(label.width * dpr)),
        Math.max(1, Math.round(label.height * dpr)),
      ).data;
      let dark = 0;
      for (let i = 0; i < text.length; i += 4) if (text[i]! < 160) dark++;
      return { diff, dark };
    }, png);
    expect(result.diff).toBe(0);
    expect(result.dark).toBeGreaterThan(5);
  });

  it('9. Download PNG keeps the 1D sample legend swatches in their colours', async () => {
    await open('#/run?run=ex1-lstm6&view=1d&it=20');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download PNG')]);
    const png = readFileSync((await download.path())!).toString('base64');
    const ok = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const out = document.createElement('canvas');
      out.width = img.width;
      out.height = img.height;
      const octx = out.getContext('2d')!;
      octx.drawImage(img, 0, 0);
      const root = document.getElementById('figure')!.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      return [...document.querySelectorAll<HTMLElement>('.swatch')].map((s) => {
        const r = s.getBoundingClientRect();
        const px = octx.getImageData(
          Math.round((r.left + r.width / 2 - root.left) * dpr),
          Math.round((r.top + r.height / 2 - root.top) * dpr),
          1,
          1,
        ).data;
        return { want: getComputedStyle(s).backgroundColor, got: `rgb(${px[0]}, ${px[1]}, ${px[2]})` };
      });
    }, png);
    expect(ok.length).toBe(3);
    for (const s of ok) expect(s.got).toBe(s.want);
  });

  it('10. labels beside panels, a bias titled by its units, the part in the export file name', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&sample=0');
    const overlaps = await page.$$eval('.half-name', (labels) =>
      labels.some((l) => {
        const r = l.getBoundingClientRect();
        return [...document.querySelectorAll('canvas')].some((c) => {
          const b = c.getBoundingClientRect();
          return r.left < b.right && b.left < r.right && r.top < b.bottom && b.top < r.bottom;
        });
      }),
    );
    expect(overlaps).toBe(false);
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&kind=weight&part=backward/bias/o&view=2d');
    expect(await page.textContent('.figure-title')).toMatch(/^Units — /);
    const name = await page.getAttribute('a:has-text("Export Arrow")', 'download');
    expect(name).toBe('gradscope-ex9-bilstm-bidirectional_lstm-weight-backward_bias_o-20_200_400.arrow');
  });
});

describe('See RNN weight figures, hover, keyboard, histograms', () => {
  it('weights page of a Bidirectional LSTM: every gate of kernel, recurrent kernel and bias, both directions, labelled', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&kind=weight&view=weights');
    const h = await hook(page);
    expect(h).toMatchObject({ view: 'weights', error: null, panels: 3 * 6 });
    expect(await texts('#figure .compare-block > .block-title')).toEqual([
      'iteration 20',
      'iteration 200',
      'iteration 400',
    ]);
    const maps = await page.$$eval('.weights-block:first-child canvas.weight-map', (els) =>
      els.map((e) => `${(e as HTMLElement).dataset.weight}:${(e as HTMLElement).dataset.gates}`),
    );
    expect(maps).toEqual([
      'forward/kernel:ifco',
      'forward/recurrent_kernel:ifco',
      'forward/bias:ifco',
      'backward/kernel:ifco',
      'backward/recurrent_kernel:ifco',
      'backward/bias:ifco',
    ]);
    expect(await texts('.weights-block:first-child .direction-name')).toEqual([
      'forward direction',
      'backward direction',
    ]);
    expect((await texts('.weights-block:first-child .weight-name')).slice(0, 3)).toEqual([
      'kernel [3 × 4] × 4 gates',
      'recurrent kernel [4 × 4] × 4 gates',
      'bias [4] × 4 gates',
    ]);
    // per-gate histograms with their non-finite counts
    const captions = await texts('.weights-block:first-child .gate-caption');
    expect(captions.length).toBe(24);
    expect(captions.slice(0, 4)).toEqual([
      'i · non-finite 0',
      'f · non-finite 0',
      'c · non-finite 0',
      'o · non-finite 0',
    ]);
    // one shared norm: the largest |value| of all 24 parts at all three iterations
    // forward bias (weight 2), gate o (3), unit 3, iteration 400: (1 + 2)·0.01·4 + 3e-4 + 400e-6
    const a = 3 * 0.01 * 4 + 3 * 1e-4 + 400 * 1e-6;
    expect(await page.textContent('.figure-title')).toContain(formatNorm(a));
    // gate f of the backward recurrent kernel, input row 2, unit 1: the value the API returns
    const readout = await hoverCell(
      '.weights-block:first-child canvas[data-weight="backward/recurrent_kernel"]',
      1 * UNITS + 1,
      2,
      4 * UNITS,
      UNITS,
    );
    expect(readout).toContain('gate f (forget)');
    const api = await apiValue(
      'run-bi',
      'bidirectional_lstm',
      'weight',
      'backward/recurrent_kernel/f',
      20,
      2 * UNITS + 1,
    );
    expectReadout(readout, api);
    await shot(page, 'weights-bilstm');
  });

  it('weights page: difference against the first iteration', async () => {
    await open('#/run?run=ex9-bilstm&layer=bidirectional_lstm&kind=weight&view=weights&diff=1');
    expect(await texts('#figure .compare-block > .block-title')).toEqual([
      'iteration 20',
      'iteration 200 − 20',
      'iteration 400 − 20',
    ]);
    const readout = await hoverCell(
      '.weights-block:nth-child(3) canvas[data-weight="forward/kernel"]',
      0,
      0,
      4 * UNITS,
      INPUT,
    );
    // every weight grows by 1e-6 per iteration: 380 × 1e-6 at iteration 400
    expect(readoutValue(readout)).toBeCloseTo(380e-6, 8);
  });

  it('a hover on a 2D heatmap cell shows the value the API returns for it', async () => {
    await open('#/run?run=ex1-lstm6&sample=1&it=200');
    // timesteps on x (20), channels on y (4); y cell 0 is channel 0
    const text = await hoverCell('canvas[aria-label^="iteration 200, sample 1"]', 17, 2, 20, 4);
    expect(text).toContain('sample 1');
    expect(text).toContain('channel 2');
    expect(text).toContain('timestep 17');
    expect(text).toContain('iteration 200');
    const api = await apiValue('run-ex1', 'lstm_1', 'output-grad', null, 200, (1 * 20 + 17) * 4 + 2);
    expectReadout(text, api);
    expect(await page.isVisible('#readout')).toBe(true);
    await shot(page, 'hover-2d');
  });

  it('hover readouts on 1D and 0D points', async () => {
    await open('#/run?run=ex1-lstm6&view=1d&sample=0&it=400');
    const chart = page.locator('#figure .uplot').first();
    const over = chart.locator('.u-over');
    const box = (await over.boundingBox())!;
    await over.hover({ position: { x: box.width - 2, y: 4 } });
    await page.waitForFunction(
      () => document.querySelector('#figure .uplot')?.hasAttribute('data-readout') === true,
    );
    const text = (await chart.getAttribute('data-readout'))!;
    expect(text).toMatch(/^value \S+ · sample 0 · channel 0 · timestep 19 · iteration 400$/);
    expect(readoutValue(text)).toBeCloseTo(0.001, 8);
  });

  it('arrow keys step through the recorded iterations', async () => {
    await open('#/run?run=ex1-lstm6&it=20,200');
    await page.locator('#figure').click({ position: { x: 5, y: 5 } });
    await page.keyboard.press('ArrowRight');
    await rendered(page, 1);
    expect(await texts('#figure .block-title')).toEqual(['iteration 20', 'iteration 220']);
    await page.keyboard.press('ArrowLeft');
    await rendered(page, 2);
    expect(await texts('#figure .block-title')).toEqual(['iteration 20', 'iteration 200']);
    expect(await page.evaluate(() => location.hash)).toContain('it=20%2C200');
  });

  it('arrow keys step to the very next recorded iteration of a run longer than its downsampled index', async () => {
    await open('#/run?run=long-gru&it=700');
    expect((await hook(page)).error).toBeFalsy();
    expect(await texts('#figure .block-title')).toEqual(['iteration 700']);
    const start = (await hook(page)).renders;
    await page.locator('#figure').click({ position: { x: 5, y: 5 } });
    for (const [key, want, n] of [
      ['ArrowRight', 701, 1],
      ['ArrowRight', 702, 2],
      ['ArrowLeft', 701, 3],
      ['ArrowLeft', 700, 4],
      ['ArrowLeft', 699, 5],
    ] as const) {
      await page.keyboard.press(key);
      await rendered(page, start + n - 1);
      expect(await texts('#figure .block-title')).toEqual([`iteration ${want}`]);
      expect(await page.evaluate(() => location.hash)).toContain(`it=${want}`);
    }
    // Not one of them is called "not recorded".
    expect((await hook(page)).notices).toEqual([]);
  });

  it('the view tabs are a tablist: one tab stop, arrows move and select', async () => {
    await open('#/run?run=ex1-lstm6');
    const tabs = await page.$$eval('[role="tablist"] [role="tab"]', (els) =>
      els.map((e) => ({
        sel: e.getAttribute('aria-selected'),
        tab: e.getAttribute('tabindex'),
        ctl: e.getAttribute('aria-controls'),
      })),
    );
    expect(tabs.filter((t) => t.sel === 'true').length).toBe(1);
    expect(tabs.filter((t) => t.tab === '0').length).toBe(1);
    expect(tabs.every((t) => t.ctl === 'figure')).toBe(true);
    expect(await page.getAttribute('#figure', 'role')).toBe('tabpanel');
    await page.focus('[role="tab"][aria-selected="true"]');
    await page.keyboard.press('ArrowRight');
    await rendered(page, 1);
    expect((await hook(page)).view).toBe('1d');
    expect(await page.getAttribute('[role="tab"][aria-selected="true"]', 'data-view')).toBe('1d');
  });

  for (const mode of ['overlay', 'offset'] as const) {
    it(`histograms: ${mode} mode from the counts the server sends`, async () => {
      await open(`#/run?run=ex1-lstm6&view=dist&hist=${mode}`);
      expect((await hook(page)).panels).toBe(1);
      expect(await page.textContent('.figure-title')).toContain(`(${mode})`);
      const canvas = page.locator('canvas.histograms');
      const box = (await canvas.boundingBox())!;
      await canvas.hover({ position: { x: box.width / 2, y: box.height / 2 } });
      await page.waitForFunction(() =>
        document.querySelector('canvas.histograms')?.hasAttribute('data-readout'),
      );
      expect(await canvas.getAttribute('data-readout')).toMatch(
        /^iteration \d+ · bucket \[.*\) · count \d+$/,
      );
      await shot(page, `hist-${mode}`);
    });
  }

  it('weights page of a Bidirectional LSTM-256 paints and reports its time', async () => {
    await open('#/run?run=bilstm-256&layer=bidirectional_256&kind=weight&view=weights');
    const h = await hook(page);
    expect(h).toMatchObject({ view: 'weights', error: null, panels: 18 });
    console.log(
      `weights page, Bidirectional LSTM-256: ${h.lastPaintMs.toFixed(1)} ms from data arrival to the next frame`,
    );
    await shot(page, 'weights-bilstm256');
  });

  it('serves the page compressed when asked, the content-hashed bundle cached as immutable', async () => {
    const index = await context.request.get(fx.url, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(index.headers()['content-encoding']).toBe('br');
    expect(index.headers()['cache-control']).toBe('no-cache');
    const js = /assets\/[^"]+\.js/.exec(await index.text())![0];
    for (const encoding of ['br', 'gzip']) {
      const res = await context.request.get(`${fx.url}${js}`, { headers: { 'accept-encoding': encoding } });
      expect(res.status()).toBe(200);
      expect(res.headers()['content-encoding']).toBe(encoding);
      expect(res.headers()['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(res.headers().vary).toContain('accept-encoding');
    }
    const plain = await context.request.get(`${fx.url}${js}`, { headers: { 'accept-encoding': 'identity' } });
    expect(plain.headers()['content-encoding']).toBeUndefined();
  });

  it('no console error or CSP violation on any of these pages', () => {
    expect(errors, errors.join('\n')).toEqual([]);
  });
});
