// The compare page, the run page's training strip and the gallery's run list in headless Chromium over the
// real server and a real store: three runs whose layers have different names (LSTM, GRU, SimpleRNN), per-step
// loss scalars, input-grad, output-grad and output (activations), one run still training while the page is open.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer, type RunningServer } from '@gradscope/server';
import { type Kind, openStore, type ScalarPoint, type Snapshot, type Store } from '@gradscope/store';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hook,
  launchBrowser,
  newPage,
  openView,
  rendered,
  runInfo,
  type SeriesSpec,
  shot,
  VIEWER_DIST,
} from './harness';

const T = 30;
/** Time constant of the decay back from the last timestep: grows over training for the gated cells. */
const CELLS = {
  'memory-lstm': {
    layer: 'lstm',
    layerClass: 'LSTM',
    tau: (it: number) => 2 + it / 8,
    loss: (it: number) => 0.17 * Math.exp(-it / 60) + 0.002,
  },
  'memory-gru': {
    layer: 'gru',
    layerClass: 'GRU',
    tau: (it: number) => 2 + it / 12,
    loss: (it: number) => 0.17 * Math.exp(-it / 40) + 0.001,
  },
  'memory-simplernn': { layer: 'simple_rnn', layerClass: 'SimpleRNN', tau: () => 1.5, loss: () => 0.16 },
} as const;
type Name = keyof typeof CELLS;
const NAMES = Object.keys(CELLS) as Name[];
const FINISHED_TO = 200;
const LIVE_TO = 100;

function spec(name: Name): SeriesSpec {
  const c = CELLS[name];
  return {
    layer: c.layer,
    layerClass: c.layerClass,
    shape: [2, T, 4],
    dims: ['sample', 'timestep', 'channel'],
    iterations: [],
    value: (it, s, t, ch) => (s + 1) * (ch + 1) * 1e-3 * Math.exp(-(T - 1 - t) / c.tau(it)),
  };
}

function snapshot(run: string, name: Name, kind: Kind, iteration: number): Snapshot {
  const sp = spec(name);
  const [S, TT, C] = sp.shape as [number, number, number];
  const data = new Float32Array(S * TT * C);
  for (let s = 0; s < S; s++)
    for (let t = 0; t < TT; t++)
      for (let ch = 0; ch < C; ch++)
        data[(s * TT + t) * C + ch] =
          kind === 'output'
            ? (s + 1) * (ch + 1) * 0.1 * (1 + t / TT) // activations: no decay back in time
            : sp.value(iteration, s, t, ch) * (kind === 'input-grad' ? 0.5 : 1);
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration,
    layer: sp.layer,
    layerClass: sp.layerClass,
    kind,
    shape: sp.shape,
    dims: sp.dims as Snapshot['dims'],
    data,
    loss: CELLS[name].loss(iteration),
    time: 1_764_379_200_000 + iteration,
    nonFinite: 0,
  };
}

/** One loss point per step, with a deterministic wobble for the smoothing to remove. */
function lossPoints(name: Name, from: number, to: number): ScalarPoint[] {
  const out: ScalarPoint[] = [];
  for (let it = from; it <= to; it++)
    out.push({
      iteration: it,
      name: 'loss',
      value: CELLS[name].loss(it) * (1 + 0.25 * Math.sin(it * 2.3)),
      time: 1_764_379_200_000 + it,
    });
  return out;
}

/** Snapshots every 20 iterations from `from` to `to`, loss points every step from `scalarsFrom`. */
async function writeSteps(
  store: Store,
  id: string,
  name: Name,
  from: number,
  to: number,
  scalarsFrom = from,
): Promise<void> {
  for (let it = from; it <= to; it += 20)
    for (const kind of ['output-grad', 'input-grad', 'output'] as const)
      await store.write(snapshot(id, name, kind, it));
  await store.writeScalars(id, lossPoints(name, scalarsFrom, to));
}

let dir: string;
let store: Store;
let server: RunningServer;
let url: string;
let browser: Browser;
let page: Page;
const errors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-compare-e2e-'));
  const db = join(dir, 'runs.gradscope');
  store = await openStore(db);
  for (const [i, name] of NAMES.entries()) {
    const id = `run-${name}`;
    const info = runInfo(id, name, [spec(name)]);
    info.startedAt += i * 1000;
    info.options = { ...info.options, capture: ['output-grad', 'input-grad'] };
    if (name === 'memory-lstm')
      info.meta = {
        gallery: [
          {
            id: 'MEM',
            title: 'Memory: LSTM vs GRU vs SimpleRNN (compare)',
            lookFor: 'the loss falls for the gated cells',
            view: { view: 'flow', layer: 'lstm', kind: 'input-grad' },
            href: '#/compare?runs=memory-lstm,memory-gru,memory-simplernn&kind=input-grad',
          },
        ],
      };
    await store.startRun(info);
    const running = name === 'memory-simplernn';
    await writeSteps(store, id, name, 0, running ? LIVE_TO : FINISHED_TO);
    if (!running) await store.endRun(id, 'finished');
  }
  await store.flush();
  server = await buildServer({ db, port: 0, pollMs: 100, viewerDir: VIEWER_DIST });
  url = `${server.url}/`;
  browser = await launchBrowser();
  ({ page } = await newPage(browser, errors, { viewport: { width: 1400, height: 1000 } }));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const COMPARE = '#/compare?runs=memory-lstm,memory-gru,memory-simplernn&kind=input-grad';

const open = (hash: string) => openView(page, `${url}${hash}`);

/** Pixels of a canvas within 40 (per channel) of a colour. */
async function colourPixels(selector: string, colour: string): Promise<number[]> {
  return page.$$eval(
    selector,
    (canvases, hex) => {
      const n = Number.parseInt(hex.slice(1), 16);
      const [r, g, b] = [n >> 16, (n >> 8) & 255, n & 255];
      return canvases.map((c) => {
        const canvas = c as HTMLCanvasElement;
        const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
        let hits = 0;
        for (let i = 0; i < d.length; i += 4)
          if (
            Math.abs(d[i]! - r) < 40 &&
            Math.abs(d[i + 1]! - g) < 40 &&
            Math.abs(d[i + 2]! - b) < 40 &&
            d[i + 3]! > 200
          )
            hits++;
        return hits;
      });
    },
    colour,
  );
}

/** Distinct colours in a canvas (a painted heatmap has many, a blank one one). */
async function distinctColours(selector: string): Promise<number[]> {
  return page.$$eval(selector, (canvases) =>
    canvases.map((c) => {
      const canvas = c as HTMLCanvasElement;
      const d = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
      const seen = new Set<number>();
      for (let i = 0; i < d.length; i += 4) seen.add((d[i]! << 16) | (d[i + 1]! << 8) | d[i + 2]!);
      return seen.size;
    }),
  );
}

// schemeTableau10's first three: the runs' colours in the order of the URL.
const COLOURS = ['#4e79a7', '#f28e2c', '#e15759'];

describe('the compare page', () => {
  it('paints the three runs: loss curves, horizon charts, norm lines and flow maps, each run named', async () => {
    await open(COMPARE);
    const h = await hook(page);
    expect(h).toMatchObject({ view: 'compare', error: null, panels: 7 }); // loss, 2 horizon, norms, 3 maps
    expect(h.lastPaintMs).toBeGreaterThan(0);
    await shot(page, 'compare');
    expect(
      await page.$$eval('.compare-run', (els) => els.map((e) => (e as HTMLElement).dataset.run)),
    ).toEqual(NAMES);
    // Layers matched by role: three different names, one role.
    expect(await page.textContent('.figure-title')).toContain('recurrent layer 1 · input-grad');
    const facts = await page.$$eval('.compare-run .run-facts', (els) => els.map((e) => e.textContent ?? ''));
    expect(facts[0]).toContain('lstm · LSTM');
    expect(facts[1]).toContain('gru · GRU');
    expect(facts[2]).toContain('simple_rnn · SimpleRNN');
    expect(facts[0]).toContain('201 loss points');
    expect(facts[2]).toContain('input-grad at 6 iterations (last 100)');
    // Every chart names every run in its legend.
    const legends = await page.$$eval('.uplot', (charts) =>
      charts.map((c) =>
        [...c.querySelectorAll('.u-legend .u-label')].map((l) => l.textContent ?? '').join(' | '),
      ),
    );
    expect(legends).toHaveLength(4);
    for (const legend of legends) for (const name of NAMES) expect(legend).toContain(name);
    // The norm lines are at the default iterations, each run at its nearest recorded one.
    expect(legends[3]).toContain('memory-lstm @200');
    expect(legends[3]).toContain('memory-simplernn @100');
    // Each run's colour is painted in the loss chart, both horizon charts and the norm lines.
    for (const [i, colour] of COLOURS.entries()) {
      for (const chart of ['.loss-chart', '.horizon-chart', '.t0-chart', '.norm-chart']) {
        const [hits] = await colourPixels(`${chart} canvas`, colour);
        expect(hits, `${NAMES[i]} in ${chart}`).toBeGreaterThan(30);
      }
    }
    // Three flow maps side by side, painted (many colours), on one colour scale (one colorbar).
    expect(await page.$$eval('.flow-map', (els) => els.map((e) => (e as HTMLElement).dataset.run))).toEqual(
      NAMES,
    );
    for (const n of await distinctColours('.flow-map canvas')) expect(n).toBeGreaterThan(20);
    expect(await page.locator('.flow-maps .colorbar').count()).toBe(1);
  });

  it('horizon over training: the gated runs reach further back as they train, the SimpleRNN does not', async () => {
    await open(COMPARE);
    // Read the plotted horizon values back from uPlot's legend at the last point of the horizon chart.
    const box = (await page.locator('.horizon-chart .u-over').boundingBox())!;
    await page.mouse.move(box.x + box.width - 1, box.y + box.height / 2);
    const values = await page.$$eval('.horizon-chart .u-legend .u-value', (els) =>
      els.map((e) => e.textContent),
    );
    // x, then the runs. exp(-(29 - t)/τ) ≥ 0.01 ⇔ t ≥ 29 − τ ln 100: LSTM τ = 27 → 0; GRU τ = 18.7 → 0 (≥ 0).
    expect(values.slice(1, 3)).toEqual(['0', '0']);
    // SimpleRNN τ = 1.5: t ≥ 29 − 6.9 → 23 (its last point, iteration 100, is the one the x-cursor snaps to).
    expect(values[3]).toBe('23');
  });

  it('keeps its state in the URL: a reload shows the same page', async () => {
    await open(`${COMPARE}&it=40,160&smooth=0.9&logy=1`);
    expect(await page.inputValue('input[aria-label="loss smoothing"]')).toBe('0.9');
    expect(await page.isChecked('.training-options input[type="checkbox"]')).toBe(true);
    const before = await page.evaluate(() => location.hash);
    const legend = await page.textContent('.norm-chart .u-legend');
    expect(legend).toContain('memory-gru @40');
    expect(legend).toContain('memory-gru @160');
    await page.reload();
    await rendered(page);
    expect(await page.evaluate(() => location.hash)).toBe(before);
    expect(await page.textContent('.norm-chart .u-legend')).toBe(legend);
    expect((await hook(page)).panels).toBe(7);
  });

  it('a click on a captured iteration under the loss curves shows that iteration', async () => {
    await open(COMPARE);
    const marks = JSON.parse((await page.getAttribute('.loss-chart', 'data-marks'))!) as [number, number][];
    const at120 = marks.find(([it]) => it === 120)!;
    const box = (await page.locator('.loss-chart .u-over').boundingBox())!;
    const renders = (await hook(page)).renders;
    await page.mouse.click(box.x + at120[1], box.y + box.height - 3);
    await rendered(page, renders);
    expect(await page.evaluate(() => location.hash)).toContain('it=120');
    expect(await page.textContent('.norm-chart .u-legend')).toContain('memory-lstm @120');
  });

  it('matches layers by role when names differ, and a layer picked by name', async () => {
    await open(`${COMPARE}&layer=gru`);
    const facts = await page.$$eval('.compare-run .run-facts', (els) => els.map((e) => e.textContent ?? ''));
    expect(facts.map((f) => f.split(' · ')[0])).toEqual(['lstm', 'gru', 'simple_rnn']);
    const label = await page.$eval(
      'select[aria-label="layer (matched by role)"]',
      (s) => (s as HTMLSelectElement).selectedOptions[0]!.textContent,
    );
    expect(label).toBe('recurrent layer 1 (lstm / gru / simple_rnn)');
  });

  it('names each kind’s norm in its titles and colour bar; activations get no memory horizon', async () => {
    await open(COMPARE);
    const texts = (sel: string) => page.$$eval(sel, (els) => els.map((e) => e.textContent ?? ''));
    expect(await texts('.flow-maps > .block-title')).toEqual([
      'Gradient flow — input-grad (dL/d input) — log10 ‖dL/dx_t‖ over iteration × timestep, one colour scale for every run',
    ]);
    expect(await texts('.flow-maps .colorbar-title')).toEqual(['log10 ‖dL/dx_t‖']);
    expect((await texts('.norm-lines > .block-title'))[0]).toMatch(/^‖dL\/dx_t‖ \(input-grad\) vs timestep/);
    // The bar's title wraps within its 78 px column rather than widening it.
    const bar = await page.$eval('.flow-maps .colorbar', (e) => e.getBoundingClientRect().width);
    expect(bar).toBeLessThanOrEqual(80);

    await open(COMPARE.replace('kind=input-grad', 'kind=output-grad'));
    expect(await texts('.flow-maps .colorbar-title')).toEqual(['log10 ‖dL/dy_t‖']);
    expect((await texts('.flow-maps > .block-title'))[0]).toMatch(
      /^Gradient flow — output-grad \(dL\/d output\) — log10 ‖dL\/dy_t‖/,
    );
    expect(await page.locator('.horizon-chart').count()).toBe(1);

    await open(COMPARE.replace('kind=input-grad', 'kind=output'));
    const h = await hook(page);
    expect(h).toMatchObject({ view: 'compare', error: null, panels: 5 }); // loss, norms, 3 maps: no horizon
    expect(await page.textContent('.figure-title')).toContain('recurrent layer 1 · output');
    expect(await texts('.flow-maps > .block-title')).toEqual([
      'Activation norms over training — log10 ‖y_t‖ over iteration × timestep, one colour scale for every run',
    ]);
    expect(await texts('.flow-maps .colorbar-title')).toEqual(['log10 ‖y_t‖']);
    expect((await texts('.norm-lines > .block-title'))[0]).toMatch(/^‖y_t‖ \(output\) vs timestep/);
    expect(await page.getAttribute('.norm-chart', 'aria-label')).toBe(
      '‖y_t‖ per timestep of every compared run, log scale',
    );
    const labels = await page.$$eval('.flow-map canvas[aria-label]', (els) =>
      els.map((e) => e.getAttribute('aria-label') ?? ''),
    );
    expect(labels.some((l) => l.startsWith('activation norms of memory-lstm: log10 ‖y_t‖'))).toBe(true);
    for (const l of labels) expect(l).not.toMatch(/gradient/i);
    expect(await page.locator('.horizon-chart, .t0-chart').count()).toBe(0);
    expect(await texts('.training-pair .horizon-empty')).toEqual([
      'No memory horizon for output (activation norms): it measures how far back a gradient reaches; pick jacobian, input-grad or output-grad.',
    ]);
    await shot(page, 'compare-output');
  });

  it('follows the run that is still training, live', async () => {
    await open(COMPARE);
    const last = () =>
      page.$eval('.compare-run[data-run="memory-simplernn"]', (e) => (e as HTMLElement).dataset.last);
    expect(await last()).toBe(String(LIVE_TO));
    await writeSteps(
      store,
      'run-memory-simplernn',
      'memory-simplernn',
      LIVE_TO + 20,
      LIVE_TO + 40,
      LIVE_TO + 1,
    );
    await store.flush();
    await page.waitForFunction(
      () =>
        document.querySelector<HTMLElement>('.compare-run[data-run="memory-simplernn"]')?.dataset.last ===
        '140',
      undefined,
      { timeout: 20_000 },
    );
    await rendered(page);
    const facts = await page.textContent('.compare-run[data-run="memory-simplernn"] .run-facts');
    expect(facts).toContain('input-grad at 8 iterations (last 140)');
    expect(facts).toContain('141 loss points');
    expect(await page.textContent('.norm-chart .u-legend')).toContain('memory-simplernn @140');
    expect(await page.textContent('.status')).toContain('following memory-simplernn live');
    await shot(page, 'compare-live');
  });
});

describe('the gallery run list and the run page training strip', () => {
  it('the MEM entry opens the compare page of the memory set', async () => {
    await open('#/gallery');
    expect(await page.getAttribute('a.example-link', 'href')).toBe(COMPARE);
    await page.click('a.example-link');
    await page.waitForFunction(() => window.__gradscope.view === 'compare' && window.__gradscope.ready);
    expect((await hook(page)).panels).toBe(7);
  });

  it('filters, sorts and selects runs to compare', async () => {
    await open('#/gallery');
    const names = () => page.$$eval('.run-card', (els) => els.map((e) => (e as HTMLElement).dataset.run));
    expect(await names()).toEqual(['memory-simplernn', 'memory-gru', 'memory-lstm']); // newest first
    await page.selectOption('select[aria-label="sort runs"]', 'status');
    expect((await names())[0]).toBe('memory-simplernn'); // running first
    await page.selectOption('select[aria-label="sort runs"]', 'name');
    expect(await names()).toEqual(['memory-gru', 'memory-lstm', 'memory-simplernn']);
    await page.fill('input[aria-label="filter runs"]', 'GRU');
    expect(await names()).toEqual(['memory-gru']);
    expect(await page.textContent('.run-count')).toBe('1 of 3 runs');
    await page.fill('input[aria-label="filter runs"]', '');
    await page.check('input[aria-label="select memory-lstm to compare"]');
    expect(await page.getAttribute('a.compare-link', 'aria-disabled')).toBe('true');
    await page.check('input[aria-label="select memory-gru to compare"]');
    await shot(page, 'gallery-run-list');
    expect(await page.getAttribute('a.compare-link', 'href')).toBe('#/compare?runs=memory-gru,memory-lstm');
    await page.click('a.compare-link');
    await page.waitForFunction(() => window.__gradscope.view === 'compare' && window.__gradscope.ready);
    expect((await hook(page)).panels).toBe(1 + 2 + 1 + 2);
  });

  it('run page: the loss chart with smoothing and log y, the horizon of every layer and kind; a mark picks an iteration', async () => {
    await open('#/run?run=memory-gru&layer=gru&kind=input-grad&view=flow');
    const h = await hook(page);
    expect(h.lossPaintMs).toBeGreaterThan(0);
    expect(await page.locator('.training .loss-chart').count()).toBe(1);
    const horizonLegend = await page.textContent('.training .horizon-chart .u-legend');
    expect(horizonLegend).toContain('gru · output-grad');
    expect(horizonLegend).toContain('gru · input-grad');
    // The activations (kind output, recorded too) are no memory horizon: not in either chart.
    for (const chart of ['.horizon-chart', '.t0-chart']) {
      const labels = await page.$$eval(`.training ${chart} .u-legend .u-label`, (els) =>
        els.map((e) => e.textContent ?? ''),
      );
      expect(labels).toEqual(['iteration', 'gru · output-grad', 'gru · input-grad']);
    }
    await shot(page, 'run-training');
    const marks = JSON.parse((await page.getAttribute('.training .loss-chart', 'data-marks'))!) as [
      number,
      number,
    ][];
    expect(marks.map(([it]) => it)).toEqual([0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200]);
    const box = (await page.locator('.training .loss-chart .u-over').boundingBox())!;
    await page.mouse.click(box.x + marks[3]![1], box.y + box.height - 3);
    await rendered(page, h.renders);
    expect(await page.evaluate(() => location.hash)).toContain('it=60');
    // Smoothing and log y are in the URL.
    await page.check('.training-options input[type="checkbox"]');
    await rendered(page, h.renders + 1);
    expect(await page.evaluate(() => location.hash)).toContain('logy=1');
  });

  it('run page: the flow tab is called what its figure shows — activation norms for the output', async () => {
    await open('#/run?run=memory-gru&layer=gru&kind=output&view=flow');
    const tab = () => page.textContent('[role="tab"][data-view="flow"]');
    expect(await tab()).toBe('Activation norms');
    expect(await page.getAttribute('[role="tab"][data-view="flow"]', 'aria-selected')).toBe('true');
    const title = await page.textContent('#figure .figure-title');
    expect(title).toMatch(/^Activation norms over training — gru — log10 ‖y_t‖/);
    // The strip still has the gradients' horizon (not the shown activations').
    const labels = await page.$$eval('.training .horizon-chart .u-legend .u-label', (els) =>
      els.map((e) => e.textContent ?? ''),
    );
    expect(labels).toEqual(['iteration', 'gru · output-grad', 'gru · input-grad']);
    const renders = (await hook(page)).renders;
    await page.selectOption('select[aria-label="kind"]', 'input-grad');
    await rendered(page, renders);
    expect(await tab()).toBe('Gradient flow');
    expect(await page.textContent('#figure .figure-title')).toMatch(/^Gradient flow — input-grad/);
  });

  it('no console error or CSP violation', () => {
    expect(errors).toEqual([]);
  });
});
