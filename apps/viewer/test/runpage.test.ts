// Issue 24's run page in headless Chromium over the real server and store: 2D of a large probe shows a readable
// subset by default (never hundreds of thumbnails) and says which; a colour scale per iteration beside the shared
// one; live follow consistent while the run is written during the test (selectors, status, verdicts, evidence,
// flow, norms and loss end at one iteration at every render); exports carry the run's name and id. With
// GRADSCOPE_SHOTS=DIR it saves the run page at 1280, 1440 and 1920 px.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReader } from '@gradscope/store';
import { tableFromIPC } from 'apache-arrow';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The export package is the server's; the viewer does not depend on it, its test reads the built one.
import { exportRun } from '../../../packages/export/dist/index.js';
import {
  type Fixture,
  hook,
  launchBrowser,
  newPage,
  openView,
  overflows,
  rendered,
  type SeriesSpec,
  shot,
  snapshotOf,
  startServer,
  textsOf,
} from './harness';

// ---- a 64-sample probe: amplitude per sample, decaying back in time, smaller with training ----
const S = 64;
const T = 12;
const C = 4;
const amp = (s: number) => 1 + ((s * 37) % 64) / 64;
const shrink = (it: number) => 1 / (1 + it / 20);
const wide: SeriesSpec = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  shape: [S, T, C],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [20, 200, 400],
  value: (it, s, t, c) => amp(s) * (c + 1) * Math.exp(-(T - 1 - t) / 3) * shrink(it),
};
/** The 3 samples with the largest norm, worked out from the amplitudes (the norms factor as amp(s) × the rest). */
const TOP3 = Array.from({ length: S }, (_, s) => s)
  .sort((a, b) => amp(b) - amp(a) || a - b)
  .slice(0, 3);
/** Largest |value| of an iteration: the top sample, channel C−1, the last timestep, in float32. */
const peak = (it: number) => Math.fround(wide.value(it, TOP3[0]!, T - 1, C - 1));

// ---- a running run, written during the test the way a capture writes it ----
const LT = 10;
const grad = (layer: string, layerClass: string, kind: SeriesSpec['kind'], tau: number): SeriesSpec => ({
  layer,
  layerClass,
  kind,
  shape: [2, LT, 3],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [0, 20, 40, 60, 80],
  value: (it, s, t, c) => (s + 1) * (c + 1) * 1e-2 * Math.exp(-(LT - 1 - t) / (tau + it / 40)),
});
const liveOut = grad('lstm_1', 'LSTM', 'output-grad', 2);
const liveJac = grad('lstm_1', 'LSTM', 'jacobian', 4);
const liveJac2 = grad('gru_2', 'GRU', 'jacobian', 1);
const T0 = 1_764_379_200_000;
/** The training batch loss of every step from..to, and the probe loss at the captures among them. */
function lossPoints(from: number, to: number) {
  const points = [];
  for (let it = from; it <= to; it++) {
    points.push({ iteration: it, name: 'loss', value: 0.3 / (1 + it / 50), time: T0 + it });
    if (it % 20 === 0) points.push({ iteration: it, name: 'probe/loss', value: 1 / (1 + it), time: T0 + it });
  }
  return points;
}

let fx: Fixture;
let browser: Browser;
let page: Page;
const errors: string[] = [];

const open = (hash: string, width = 1440) => openView(page, `${fx.url}${hash}`, width);
const texts = (selector: string) => textsOf(page, selector);

beforeAll(async () => {
  fx = await startServer([
    { id: 'run-wide', name: 'wide-probe', specs: [wide] },
    { id: 'run-live', name: 'live-follow', specs: [liveOut, liveJac, liveJac2], running: true },
  ]);
  await fx.store.writeScalars('run-live', lossPoints(0, 80));
  await fx.store.writeScalars('run-wide', [{ iteration: 0, name: 'loss', value: 0.5, time: T0 }]);
  await fx.store.flush();
  browser = await launchBrowser();
  ({ page } = await newPage(browser, errors, {
    viewport: { width: 1440, height: 1000 },
    acceptDownloads: true,
  }));
});

afterAll(async () => {
  await browser?.close();
  await fx?.close();
});

describe('2D of a large probe', () => {
  it('shows the mean |value| and the 3 samples with the largest norms per iteration, and says which', async () => {
    await open('#/run?run=wide-probe');
    const h = await hook(page);
    // (mean + 3 samples) × 3 iterations, not 64 × 3 = 192.
    expect(h).toMatchObject({ view: '2d', panels: 12, error: null });
    expect(await page.locator('#figure canvas[role="img"][aria-label^="iteration"]').count()).toBe(12);
    const note = await page.textContent('.sample-note');
    expect(note).toContain('mean |value| over all 64');
    expect(note).toContain(`samples ${TOP3.join(', ')}`);
    const captions = await texts('#figure .compare-block:first-child figcaption');
    // The mean |value| on its own scale (0 to its largest, by hand: the mean amplitude × C at the last step).
    let meanTop = 0;
    for (let s = 0; s < S; s++) meanTop += Math.fround(wide.value(20, s, T - 1, C - 1)) / S;
    expect(captions).toEqual([
      `mean |v| 0–${Number(meanTop.toPrecision(3))}`,
      ...TOP3.map((s) => `sample ${s}`),
    ]);
    // The shared automatic norm: the largest |value| shown, the top sample at iteration 20.
    expect(await page.textContent('.figure-title')).toContain(`norm=(-${Number(peak(20).toPrecision(3))}, `);
    expect(await page.inputValue('select[aria-label="sample"]')).toBe('auto');
    expect(errors).toEqual([]);
  });

  it('all samples, or the ones typed, on request', async () => {
    await open('#/run?run=wide-probe');
    let before = (await hook(page)).renders;
    await page.selectOption('select[aria-label="sample"]', 'all');
    await rendered(page, before);
    expect(await page.evaluate(() => location.hash)).toContain('sample=all');
    expect((await hook(page)).panels).toBe(S * 3);
    expect(await page.locator('.sample-note').count()).toBe(0);
    before = (await hook(page)).renders;
    await page.fill('input[aria-label="samples to show (comma-separated)"]', '5, 9');
    await page.press('input[aria-label="samples to show (comma-separated)"]', 'Enter');
    await rendered(page, before);
    expect((await hook(page)).panels).toBe(2 * 3);
    expect(await texts('#figure .compare-block:first-child figcaption')).toEqual(['sample 5', 'sample 9']);
  });

  it('a colour scale per iteration: each block its own norm and colorbar, a trained iteration no longer pale', async () => {
    await open('#/run?run=wide-probe');
    /** Colour of the top sample's largest cell (channel C−1: the bottom row; the last timestep: the right end). */
    const hottest = (it: number) =>
      page.$eval(`canvas[aria-label^="iteration ${it}, sample ${TOP3[0]}:"]`, (c) => {
        const canvas = c as HTMLCanvasElement;
        const [x, y, w, hgt] = canvas.dataset.plot!.split(',').map(Number) as [
          number,
          number,
          number,
          number,
        ];
        const dpr = canvas.width / canvas.clientWidth;
        const px = x + w - w / 24;
        const py = y + hgt - hgt / 8;
        return [
          ...canvas.getContext('2d')!.getImageData(Math.round(px * dpr), Math.round(py * dpr), 1, 1).data,
        ];
      });
    const shared = await page.$$eval('#figure .compare-block', (els) =>
      els.map((e) => Number(e.dataset.norm)),
    );
    expect(shared).toEqual([shared[0], shared[0], shared[0]]);
    // Iteration 400 is 1/21 ÷ 1/2 = 0.095 of the shared scale: pale.
    const pale = await hottest(400);
    expect(Math.min(pale[0]!, pale[1]!, pale[2]!)).toBeGreaterThan(190);
    const before = (await hook(page)).renders;
    await page.selectOption('select[aria-label="colour scale"]', 'each');
    await rendered(page, before);
    expect(await page.evaluate(() => location.hash)).toContain('scale=each');
    const norms = await page.$$eval('#figure .compare-block', (els) =>
      els.map((e) => Number(e.dataset.norm)),
    );
    [20, 200, 400].forEach((it, i) => {
      expect(Math.abs(norms[i]! - peak(it)) / peak(it)).toBeLessThan(1e-6);
    });
    // One colorbar per iteration, each over its own domain.
    const bars = await page.$$eval('#figure .colorbar canvas', (els) =>
      els.map((e) => e.getAttribute('aria-label')),
    );
    expect(bars).toHaveLength(3);
    expect(new Set(bars).size).toBe(3);
    expect(await page.textContent('.figure-title')).toContain('one norm per iteration');
    // The largest cell of iteration 400 is now the end of its own scale: dark red.
    const red = await hottest(400);
    expect(red[0]).toBeGreaterThan(red[2]! + 40);
    expect(red[1]).toBeLessThan(80);
  });
});

/** The newest iteration each part of the run page shows. */
interface ShownParts {
  selector: number | null;
  options: number | null;
  status: number | null;
  verdicts: number[];
  evidenceMaps: number[];
  evidenceNorms: number | null;
  flowMap: number[];
  flowNorms: number | null;
  lossSteps: number | null;
  lossLast: number;
}

describe('live follow while the run is written', () => {
  /**
   * Installed in the page before it loads: what every part of the page says is the newest iteration it shows
   * (window.__shownNow), recorded after every completed render (window.__seen), every one of them.
   */
  function recorder() {
    const w = window as unknown as {
      __shownNow: () => Record<string, unknown>;
      __seen: Record<string, unknown>[];
      __gradscope?: { ready: boolean; renders: number };
    };
    w.__shownNow = () => {
      const last = (xs: number[]) => (xs.length ? Math.max(...xs) : null);
      const selects = [...document.querySelectorAll<HTMLSelectElement>('select[aria-label^="iteration "]')];
      const numbers = (sel: string, re: RegExp) =>
        [...document.querySelectorAll(sel)].flatMap((e) => {
          const m = re.exec(e.textContent ?? '');
          return m ? [Number(m[1])] : [];
        });
      const status = /\((\d+)–(\d+)\)/.exec(document.querySelector('div.status')?.textContent ?? '');
      const lossTitle = /over training \((\d+) steps recorded/.exec(
        document.querySelector('.training .loss-chart')?.closest('.training-col')?.textContent ?? '',
      );
      return {
        selector: last(selects.map((s) => Number(s.value)).filter((v) => Number.isFinite(v) && v > 0)),
        options: last(
          selects.flatMap((s) => [...s.options].map((o) => Number(o.value)).filter(Number.isFinite)),
        ),
        status: status ? Number(status[2]) : null,
        verdicts: numbers('.verdict-layer-class', /at iteration (\d+)/),
        evidenceMaps: [...document.querySelectorAll<HTMLElement>('.evidence-flow')].map((e) =>
          Number(e.dataset.lastIteration),
        ),
        evidenceNorms: last(numbers('.evidence-norm-chart .u-legend .u-label', /^iteration (\d+)/)),
        flowMap: [
          ...document.querySelectorAll<HTMLElement>('#figure .compare-block[data-last-iteration]'),
        ].map((e) => Number(e.dataset.lastIteration)),
        flowNorms: last(numbers('#figure .u-legend .u-label', /^iteration (\d+)/)),
        lossSteps: lossTitle ? Number(lossTitle[1]) - 1 : null,
        lossLast: Number(document.querySelector<HTMLElement>('.training .loss-chart')?.dataset.lastStep),
      };
    };
    w.__seen = [];
    let last = -1;
    const tick = () => {
      const g = w.__gradscope;
      if (g?.ready && g.renders !== last && document.querySelector('.evidence-norm-chart')) {
        last = g.renders;
        w.__seen.push({ renders: g.renders, ...w.__shownNow() });
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  async function shown() {
    return page.evaluate(() => (window as unknown as { __shownNow: () => ShownParts }).__shownNow());
  }

  /** Every part at iteration `it` (the loss recorded every step from 0, so it counts it + 1 steps). */
  function expectAllAt(s: ShownParts, it: number) {
    expect(s).toEqual({
      selector: it,
      options: it,
      status: it,
      verdicts: [it, it],
      evidenceMaps: [it, it],
      evidenceNorms: it,
      flowMap: [it],
      flowNorms: it,
      lossSteps: it,
      lossLast: it,
    });
  }

  async function settled(after: number): Promise<void> {
    await rendered(page, after);
    await page.waitForSelector('.evidence-norm-chart');
  }

  it('selectors, status, verdicts, evidence, flow, norms and loss show the same iterations at every render', async () => {
    await page.addInitScript(recorder);
    await open('#/run?run=live-follow&view=flow&follow=1');
    await page.waitForSelector('.evidence-norm-chart');
    expectAllAt(await shown(), 80);

    // The capture stores the shown series' snapshot of iteration 100 first; the jacobians and the loss follow.
    let renders = (await hook(page)).renders;
    await fx.store.write(snapshotOf('run-live', liveOut, 100));
    await fx.store.flush();
    await settled(renders);
    expectAllAt(await shown(), 80);

    renders = (await hook(page)).renders;
    await fx.store.write(snapshotOf('run-live', liveJac, 100));
    await fx.store.write(snapshotOf('run-live', liveJac2, 100));
    await fx.store.flush();
    await settled(renders);
    // Every series has 100; the loss (sent in batches) still ends at 80: the page stays at 80 as one.
    expectAllAt(await shown(), 80);

    // The loss batch arrives (no event says so: the followed page asks again while the loss holds it back).
    await fx.store.writeScalars('run-live', lossPoints(81, 100));
    await fx.store.flush();
    // Its render done: the status says the frame's iteration as the render starts drawing.
    await page.waitForFunction(
      () =>
        window.__gradscope.ready &&
        document.querySelector<HTMLElement>('div.status')?.dataset.upTo === '100' &&
        document.querySelector('.evidence-norm-chart') !== null,
      null,
      { timeout: 30_000 },
    );
    expectAllAt(await shown(), 100);
    // Not only at these four: at every render of the test, every part showed one iteration (80, then 100).
    const seen = (await page.evaluate(
      () => (window as unknown as { __seen: ShownParts[] }).__seen,
    )) as (ShownParts & {
      renders: number;
    })[];
    expect(seen.length).toBeGreaterThanOrEqual(4);
    for (const { renders: _r, ...parts } of seen) expectAllAt(parts, parts.selector!);
    expect([...new Set(seen.map((x) => x.selector))]).toEqual([80, 100]);
    expect(errors).toEqual([]);
  });
});

describe('exports carry the run name and id', () => {
  it("the run page's Arrow download: run is the name, run_id the id, on every row", async () => {
    await open('#/run?run=wide-probe');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Export Arrow')]);
    const t = tableFromIPC(readFileSync((await download.path())!));
    expect(t.schema.fields.slice(0, 2).map((f) => f.name)).toEqual(['run', 'run_id']);
    expect([...t.getChild('run')!.toArray()]).toEqual(['wide-probe', 'wide-probe', 'wide-probe']);
    expect([...t.getChild('run_id')!.toArray()]).toEqual(['run-wide', 'run-wide', 'run-wide']);
  });

  it('the scalars CSV (gradscope export --scalars): run is the name, run_id the id', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gradscope-csv-'));
    try {
      const out = join(dir, 'loss.csv');
      // The store file the server reads.
      const reader = openReader(fx.store.path);
      await exportRun(reader, { run: 'run-wide', data: 'scalars', out });
      reader.close();
      expect(readFileSync(out, 'utf8')).toBe(
        `run,run_id,name,iteration,value,time\nwide-probe,run-wide,loss,0,0.5,${T0}\n`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the run page at 1280, 1440 and 1920 px', () => {
  for (const width of [1280, 1440, 1920])
    it(`${width} px: the 2D controls and figure of a large probe overflow nothing`, async () => {
      await open('#/run?run=wide-probe&scale=each', width);
      const over = await overflows(
        page,
        '.controls > *, .controls input, .controls select, #figure .compare-block, #figure .colorbar, .sample-note',
      );
      expect(over).toEqual([]);
      await shot(page, `runpage-2d-${width}`);
    });
});
