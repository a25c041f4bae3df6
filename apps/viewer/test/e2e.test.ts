// The viewer in headless Chromium over the real server and a real store: every figure, the URL state, live
// follow, PNG download, the Arrow export link, tokens, the empty state, and no CSP violation anywhere.
import { readFileSync } from 'node:fs';
import type { DiagnosisResponse } from '@gradscope/format';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Fixture,
  hook,
  launchBrowser,
  newPage,
  openView,
  rendered,
  type SeriesSpec,
  shot,
  snapshotOf,
  startServer,
  textsOf,
} from './harness';

const every20 = Array.from({ length: 21 }, (_, i) => i * 20); // 0 … 400

/** 3 samples × 20 timesteps × 4 channels; the norm decays back from the last timestep with time constant 1 + it/100. */
const ex1: SeriesSpec = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  shape: [3, 20, 4],
  dims: ['sample', 'timestep', 'channel'],
  iterations: every20,
  value: (it, s, t, c) => (s % 2 ? -1 : 1) * (c + 1) * 0.001 * Math.exp(-(19 - t) / (1 + it / 100)),
};
/** returnSequences false: sample × channel. */
const ex1Last: SeriesSpec = {
  layer: 'lstm_2',
  layerClass: 'LSTM',
  shape: [3, 4],
  dims: ['sample', 'channel'],
  iterations: every20,
  value: (_it, s, _t, c) => (c - 1.5) * 0.01 * (s + 1),
};
const bigru: SeriesSpec = {
  layer: 'bidirectional_1',
  layerClass: 'Bidirectional',
  shape: [2, 12, 8],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [20, 200, 400],
  channelParts: ['forward', 'backward'],
  value: (it, s, t, c) => Math.sin(it + s + t * 0.7 + c) * 1e-4,
};
/** Time constant 2 → 0.5 over training: at iteration 40 the norm is ≥ 1% of its peak only 2 timesteps back. */
const vanish: SeriesSpec = {
  layer: 'simple_rnn_1',
  layerClass: 'SimpleRNN',
  shape: [2, 40, 3],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [0, 20, 40],
  value: (it, _s, t, c) => (c + 1) * Math.exp(-(39 - t) / (2 - (1.5 * it) / 40)),
};
/** Growing by 10× every 10 iterations, with a NaN at iteration 40. */
const explode: SeriesSpec = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  shape: [2, 10, 3],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [0, 20, 40],
  value: (it, s, t, c) => (it === 40 && s + t + c === 0 ? Number.NaN : 10 ** (it / 10) * (t + 1) * 1e-3),
};
/** The benchmark size of the issue: three 256-unit × 500-timestep heatmaps. */
const big: SeriesSpec = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  shape: [1, 500, 256],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [20, 200, 400],
  value: (it, _s, t, c) => Math.sin(t * 0.05 + c * 0.3 + it) * Math.exp(-(499 - t) / 100) * 1e-4,
};
const live: SeriesSpec = {
  layer: 'gru_1',
  layerClass: 'GRU',
  shape: [2, 10, 3],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [0, 20],
  value: (it, s, t, c) => (it + 1) * (s + 1) * (t + 1) * (c + 1) * 1e-4,
};

/**
 * The loss-free jacobian of two layers of one stacked model, decaying back from the last step as exp(-lag / tau):
 * tau 20 keeps exp(-10 / 20) = 0.61 of the peak beyond T/2 = 10 steps back (a long reach), tau 1 keeps
 * exp(-10) = 4.5e-5 (below the diagnosis' 1e-3: vanishing). The probe loss is 1 / (1 + iteration) (harness).
 */
const jacobianOf = (layer: string, layerClass: string, tau: number): SeriesSpec => ({
  layer,
  layerClass,
  kind: 'jacobian',
  shape: [2, 20, 4],
  dims: ['sample', 'timestep', 'channel'],
  iterations: [20, 200, 400],
  value: (_it, s, t, c) => (s + 1) * (c + 1) * 1e-2 * Math.exp(-(19 - t) / tau),
});
const longReach = jacobianOf('lstm_1', 'LSTM', 20);
const shortReach = jacobianOf('gru_2', 'GRU', 1);
/** The constant predictor's probe loss of the verdict run: its loss at iteration 400 is 1/401 ÷ 0.05 = 0.05×. */
const BASELINE = 0.05;

let fx: Fixture;
let browser: Browser;
let context: BrowserContext;
let page: Page;
const errors: string[] = [];
const visited = new Set<string>();

/** A fresh page load of a view (through about:blank, so that a hash-only change still reloads). */
async function open(hash: string): Promise<void> {
  visited.add(hash);
  await openView(page, `${fx.url}${hash}`);
}

const texts = (selector: string) => textsOf(page, selector);

beforeAll(async () => {
  fx = await startServer([
    { id: 'run-ex1', name: 'ex1-lstm6', specs: [ex1, ex1Last] },
    { id: 'run-bigru', name: 'ex5-bigru', specs: [bigru] },
    { id: 'run-vanish', name: 'vanish-rnn', specs: [vanish] },
    { id: 'run-explode', name: 'explode-lstm', specs: [explode] },
    { id: 'run-big', name: 'big-lstm256', specs: [big] },
    { id: 'run-live', name: 'live-gru', specs: [live], running: true },
    { id: 'run-verdict', name: 'verdict-stack', specs: [longReach, shortReach] },
  ]);
  await fx.store.writeScalars('run-verdict', [
    { iteration: 0, name: 'probe/baseline', value: BASELINE, time: 1_764_379_200_000 },
  ]);
  await fx.store.flush();
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

describe('the viewer over the real server', () => {
  it('gallery: every run with its name and model summary, each a link to its views', async () => {
    await open('#/gallery');
    const names = await texts('.run-name');
    expect(names.sort()).toEqual([
      'big-lstm256',
      'ex1-lstm6',
      'ex5-bigru',
      'explode-lstm',
      'live-gru',
      'vanish-rnn',
      'verdict-stack',
    ]);
    expect((await hook(page)).panels).toBe(7);
    const card = page.locator('.run-card', { hasText: 'ex5-bigru' });
    expect(await card.locator('table.model td').allTextContents()).toContain('Bidirectional(GRU)');
    await card.locator('.run-name').click();
    await page.waitForFunction(() => location.hash.startsWith('#/run'));
    await rendered(page, 1);
    expect(await page.evaluate(() => location.hash)).toContain('run=ex5-bigru');
  });

  it('2D: iterations 20, 200, 400 side by side on one automatic norm, zero white, gradient red/blue', async () => {
    await open('#/run?run=ex1-lstm6');
    expect(await texts('#figure .block-title')).toEqual(['iteration 20', 'iteration 200', 'iteration 400']);
    const h = await hook(page);
    expect(h).toMatchObject({ view: '2d', panels: 9, error: null }); // 3 iterations × 3 samples
    // the largest |value| over the three iterations: 0.001 × 4 channels' factor × exp(0)
    expect(await page.textContent('.figure-title')).toContain('norm=(-0.004, 0.004) (auto)');
    // iteration 20, sample 0: the last timestep is positive (red), timestep 0 has vanished (white)
    const [right, left] = await page.$eval('canvas[aria-label^="iteration 20, sample 0"]', (c) => {
      const canvas = c as HTMLCanvasElement;
      const dpr = canvas.width / canvas.clientWidth;
      const ctx = canvas.getContext('2d')!;
      const midY = Math.round(((2 + canvas.clientHeight - 18) / 2) * dpr);
      const px = (x: number) => [...ctx.getImageData(Math.round(x * dpr), midY, 1, 1).data];
      // the plot ends 10 px before the canvas edge (room for the last x label)
      return [px(canvas.clientWidth - 10 - 2), px(canvas.clientWidth * 0.5)];
    });
    expect(right![0]).toBeGreaterThan(150);
    expect(right![2]).toBeLessThan(right![0]! - 60);
    expect(left).toEqual([255, 255, 255, 255]);
  });

  it('keeps the whole view in the URL: a reload restores it', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1');
    await page.selectOption('select[aria-label="norm"]', 'manual');
    await rendered(page, 1);
    // choosing manual starts from See RNN's (-0.01, 0.01); then type another a
    expect(await page.inputValue('input[aria-label="norm a, for (-a, a)"]')).toBe('0.01');
    await page.fill('input[aria-label="norm a, for (-a, a)"]', '0.02');
    await page.press('input[aria-label="norm a, for (-a, a)"]', 'Enter');
    await rendered(page, 2);
    await page.selectOption('select[aria-label="sample"]', '1');
    await rendered(page, 3);
    await page.selectOption('select[aria-label="iteration 2"]', '100');
    await rendered(page, 4);
    const hash = await page.evaluate(() => location.hash);
    expect(hash).toContain('norm=0.02');
    expect(hash).toContain('sample=1');
    expect(hash).toContain('it=20%2C100%2C400');
    await page.reload();
    await rendered(page);
    expect(await page.evaluate(() => location.hash)).toBe(hash);
    expect(await page.textContent('.figure-title')).toContain('norm=(-0.02, 0.02)');
    expect(await page.inputValue('select[aria-label="sample"]')).toBe('1');
    expect(await texts('#figure .block-title')).toEqual(['iteration 20', 'iteration 100', 'iteration 400']);
    expect((await hook(page)).panels).toBe(3);
  });

  it('difference against the first iteration', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1&diff=1&sample=0');
    expect(await texts('#figure .block-title')).toEqual([
      'iteration 20',
      'iteration 200 − 20',
      'iteration 400 − 20',
    ]);
  });

  it('reflect_half draws the directions of a bidirectional layer as two panels, the backward one time-flipped', async () => {
    await open('#/run?run=ex5-bigru&sample=0');
    expect((await hook(page)).panels).toBe(6);
    expect(await texts('.half-name')).toEqual([
      'forward',
      'backward (time flipped)',
      'forward',
      'backward (time flipped)',
      'forward',
      'backward (time flipped)',
    ]);
    await page.click('text=reflect_half');
    await rendered(page, 1);
    expect((await hook(page)).panels).toBe(3);
    expect(await page.evaluate(() => location.hash)).toContain('reflect=0');
  });

  it('1D: one chart per channel for each iteration, samples overlaid', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1&view=1d');
    expect((await hook(page)).panels).toBe(12); // 4 channels × 3 iterations
    expect(await page.locator('#figure .uplot').count()).toBe(12);
    expect(await texts('.channel-label')).toContain('channel 3');
  });

  it('0D: a layer without a time axis opens as a scatter per iteration', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_2');
    expect(await hook(page)).toMatchObject({ view: '0d', panels: 3 });
    expect(await page.evaluate(() => location.hash)).toContain('view=0d');
    expect(await page.isDisabled('button[role="tab"]:has-text("2D heatmaps")')).toBe(true);
  });

  it('gradient flow: memory horizons by hand, and no verdict of its own', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1&view=flow');
    expect(await page.textContent('.figure-title')).toContain(
      'Gradient flow — output-grad (dL/d output) — lstm_1',
    );
    // The store's horizon: the earliest timestep at ≥ 1% of the largest norm. norm ∝ exp(-(19 - t) / tau) is ≥ 1%
    // while 19 - t ≤ tau·ln 100: tau 1.2 → t ≥ 14, tau 3 → t ≥ 6, tau 5 → every timestep (0).
    const legend = (await texts('.u-legend .u-label')).join(' | ');
    expect(legend).toContain('iteration 20 (horizon 14)');
    expect(legend).toContain('iteration 200 (horizon 6)');
    expect(legend).toContain('iteration 400 (horizon 0)');
    // The verdict is the diagnosis' (the panel above the controls), never a badge of the flow figure.
    expect(await page.locator('#figure .badge, #figure .diagnosis, #figure .verdict-row').count()).toBe(0);
    expect((await hook(page)).panels).toBe(2);
  });

  it('shows each recurrent layer’s verdict and summary above the controls, as the server diagnoses the run', async () => {
    /** Rows on the page, and the server's /diagnosis JSON of the same run. */
    const compare = async (runId: string) => {
      const res = await context.request.get(`${fx.url}api/runs/${runId}/diagnosis`);
      expect(res.status()).toBe(200);
      const json = ((await res.json()) as DiagnosisResponse).runs[0]!;
      const rows = await page.$$eval('.verdicts .verdict-row', (els) =>
        els.map((e) => ({
          layer: e.getAttribute('data-layer'),
          verdict: e.getAttribute('data-verdict'),
          pill: e.querySelector('.verdict-pill')?.textContent,
          causes: [...e.querySelectorAll('.verdict-cause')].map((c) => c.textContent),
          summary: e.querySelector('.verdict-summary')?.textContent,
          current: e.getAttribute('aria-current') === 'true',
        })),
      );
      expect(rows.map((r) => r.layer)).toEqual(json.layers.map((l) => l.layer));
      for (const [i, l] of json.layers.entries()) {
        expect(rows[i]).toMatchObject({ verdict: l.verdict, pill: l.verdict, causes: l.causes });
        expect(`${l.layer}: ${rows[i]!.summary}`).toBe(l.summary);
      }
      return { rows, json };
    };

    await open('#/run?run=verdict-stack&layer=lstm_1');
    const stack = await compare('run-verdict');
    // By hand: loss 1/401 ÷ 0.05 = 0.05× the constant predictor (learned); tau 20 keeps 0.61 of the peak beyond
    // 10 steps back (long), tau 1 keeps 4.5e-5 (vanishing, below 1e-3).
    expect(stack.rows.map((r) => [r.layer, r.verdict, r.causes, r.current])).toEqual([
      ['lstm_1', 'learning-long', [], true],
      ['gru_2', 'learning-short', ['vanishing'], false],
    ]);
    expect(stack.rows[0]!.summary).toContain('loss 0.05× the constant predictor');
    expect(stack.rows[0]!.summary).toContain('jacobian keeps 0.607 of its peak beyond 10 steps back');
    expect(stack.rows[1]!.summary).toContain('jacobian keeps 4.5e-5 of its peak beyond 10 steps back');
    // Under the header, before the controls; nothing of the panel clipped.
    const order = await page.evaluate(() =>
      ['.topbar', '.verdicts', '.controls'].map(
        (q) => document.querySelector(q)!.getBoundingClientRect().top,
      ),
    );
    expect(order[0]).toBeLessThan(order[1]!);
    expect(order[1]).toBeLessThan(order[2]!);
    const clipped = await page.$$eval(
      '.verdicts .verdict-row > span',
      (els) =>
        els.filter((e) => e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > innerWidth)
          .length,
    );
    expect(clipped).toBe(0);
    await shot(page, 'run-verdict', false);

    // A click on another layer's row shows that layer (a new history entry) and marks its row.
    const before = (await hook(page)).renders;
    await page.click('.verdict-row[data-layer="gru_2"]');
    await rendered(page, before);
    expect(await page.evaluate(() => location.hash)).toContain('layer=gru_2');
    expect(await page.inputValue('select[aria-label="layer"]')).toBe('gru_2');
    expect(await page.getAttribute('.verdict-row[aria-current="true"]', 'data-layer')).toBe('gru_2');
    await page.goBack();
    await rendered(page, before + 1);
    expect(await page.getAttribute('.verdict-row[aria-current="true"]', 'data-layer')).toBe('lstm_1');

    // A NaN in the gradients: not learning, non-finite.
    await open('#/run?run=explode-lstm');
    const explode = await compare('run-explode');
    expect(explode.rows.map((r) => [r.verdict, r.causes.includes('non-finite')])).toEqual([
      ['not-learning', true],
    ]);
    // Only output-grad recorded: the loss fell (1/401 of the first probe loss), but no jacobian or input-grad
    // tells long from short, and the summary says what to record.
    await open('#/run?run=ex1-lstm6&layer=lstm_1');
    const ex1 = await compare('run-ex1');
    expect(ex1.rows.map((r) => [r.layer, r.verdict, r.current])).toEqual([
      ['lstm_1', 'insufficient-data', true],
      ['lstm_2', 'insufficient-data', false],
    ]);
    expect(ex1.rows[0]!.summary).toContain("record 'jacobian' or 'input-grad' to tell long from short");
  });

  it('keeps the page when the diagnosis fails: a one-line notice in its place', async () => {
    const p = await context.newPage();
    try {
      await p.route('**/api/runs/*/diagnosis', (route) =>
        route.fulfill({
          status: 500,
          contentType: 'application/json',
          body: JSON.stringify({ error: 'Internal Server Error', message: 'the diagnosis broke' }),
        }),
      );
      await p.goto(`${fx.url}#/run?run=verdict-stack&layer=lstm_1`);
      await rendered(p);
      expect(await hook(p)).toMatchObject({ error: null, panels: 6 }); // 2 samples × 3 iterations
      expect(await p.locator('.verdict-row').count()).toBe(0);
      expect((await p.textContent('.verdicts .verdict-notice'))?.trim()).toBe(
        'The verdict could not be loaded: the diagnosis broke (500). The views below do not depend on it.',
      );
    } finally {
      await p.close();
    }
  });

  it('distribution: percentile bands over the iterations', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1&view=dist');
    expect((await hook(page)).panels).toBe(1);
    expect((await texts('.u-legend .u-label')).join(' ')).toContain('(median)');
  });

  it('follows a running training: new iterations appear without a reload', async () => {
    await open('#/run?run=live-gru&follow=1');
    expect(await texts('#figure .block-title')).toEqual(['iteration 0', 'iteration 20']);
    const renders = (await hook(page)).renders;
    await fx.store.write(snapshotOf('run-live', live, 40));
    await fx.store.flush();
    await page.waitForFunction(
      () => [...document.querySelectorAll('.block-title')].some((e) => e.textContent === 'iteration 40'),
      null,
      { timeout: 30_000 },
    );
    await rendered(page, renders);
    // the defaults (first, middle, last) now reach the new iteration
    expect(await texts('#figure .block-title')).toEqual(['iteration 0', 'iteration 20', 'iteration 40']);
    expect(await page.textContent('.status[role="status"]')).toContain('3 iterations recorded (0–40)');
    // The verdict is asked again with the page: its summary now reads the loss at iteration 40.
    const json = (await (
      await context.request.get(`${fx.url}api/runs/run-live/diagnosis`)
    ).json()) as DiagnosisResponse;
    const layer = json.runs[0]!.layers[0]!;
    expect(layer.evidence.iteration).toBe(40);
    expect(await page.textContent('.verdict-row[data-layer="gru_1"] .verdict-summary')).toBe(
      layer.summary.slice('gru_1: '.length),
    );
    expect(await page.textContent('.verdict-row[data-layer="gru_1"] .verdict-layer-class')).toBe(
      'GRU · at iteration 40',
    );
  });

  it('downloads the view as one PNG', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1&sample=0');
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Download PNG')]);
    expect(download.suggestedFilename()).toBe('gradscope-ex1-lstm6-lstm_1-output-grad-2d-20_200_400.png');
    const bytes = readFileSync((await download.path())!);
    expect([...bytes.subarray(1, 4)].map((b) => String.fromCharCode(b)).join('')).toBe('PNG');
    const width = bytes.readUInt32BE(16);
    const height = bytes.readUInt32BE(20);
    expect(width).toBeGreaterThan(600);
    expect(height).toBeGreaterThan(100);
  });

  it('links to the Arrow export of the compared iterations', async () => {
    await open('#/run?run=ex1-lstm6&layer=lstm_1');
    const href = await page.getAttribute('a:has-text("Export Arrow")', 'href');
    expect(href).toContain('api/runs/run-ex1/export?');
    expect(href).toContain('format=arrow');
    expect(href).toContain('iterations=20%2C200%2C400');
    const res = await context.request.get(new URL(href!, fx.url).toString());
    expect(res.status()).toBe(200);
    expect(res.headers()['content-type']).toContain('arrow');
  });

  it('paints three 256 × 500 heatmaps and reports it through window.__gradscope', async () => {
    await open('#/run?run=big-lstm256');
    const h = await hook(page);
    expect(h).toMatchObject({ view: '2d', panels: 3, ready: true, error: null });
    expect(h.lastPaintMs).toBeGreaterThan(0);
    console.log(`three 256×500 heatmaps: ${h.lastPaintMs.toFixed(1)} ms from data arrival to the next frame`);
  });

  it('loads no inline script or style: no console error or CSP violation on any page', async () => {
    const res = await context.request.get(fx.url);
    expect(res.headers()['content-security-policy']).toContain("default-src 'self'");
    expect(visited.size).toBeGreaterThan(10);
    expect(errors, errors.join('\n')).toEqual([]);
  });
});

describe('the viewer without runs, and behind a token', () => {
  it('says what to do when there are no runs', async () => {
    const empty = await startServer([]);
    const p = await context.newPage();
    try {
      await p.goto(`${empty.url}#/gallery`);
      await rendered(p);
      expect(await p.textContent('.empty')).toContain('No runs recorded yet.');
      await p.goto(`${empty.url}#/run`);
      await rendered(p);
      expect(await p.textContent('.empty')).toContain('No runs recorded yet.');
    } finally {
      await p.close();
      await empty.close();
    }
  });

  it('takes ?token= once, keeps it out of the address bar, and works', async () => {
    const token = 'e2e-secret-token';
    const guarded = await startServer([{ id: 'run-t', name: 'tokened', specs: [live] }], { token });
    const p = await browser.newPage();
    try {
      await p.goto(`${guarded.url}?token=${token}#/run?run=tokened`);
      await rendered(p);
      expect(await p.evaluate(() => location.search)).toBe('');
      expect((await hook(p)).error).toBeNull();
      expect((await hook(p)).panels).toBe(4); // 2 samples × 2 iterations
    } finally {
      await p.close();
      await guarded.close();
    }
  });
});
