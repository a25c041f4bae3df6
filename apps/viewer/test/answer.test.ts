// Issue 24 in headless Chromium over the real server and store: the run page opens on the answer (each layer's
// verdict with the evidence it rests on drawn under it), every loss named by what it is with the baseline as a
// line, a run with only the loss-free jacobian gets its horizon, the gallery shows outcomes, and the pages hold
// at 1280, 1440 and 1920 px. With GRADSCOPE_SHOTS=DIR it saves screenshots of gallery, run and compare pages.
import type { DiagnosisResponse } from '@gradscope/format';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Fixture,
  hook,
  launchBrowser,
  newPage,
  openView,
  overflows,
  rendered,
  runInfo,
  type SeriesSpec,
  shot,
  snapshotOf,
  startServer,
  textsOf,
} from './harness';

const ITERATIONS = [0, 100, 200, 300, 400];
const T = 24;

/** The loss-free jacobian decaying back from the last step as exp(-lag / tau). */
const jacobian = (layer: string, layerClass: string, tau: number): SeriesSpec => ({
  layer,
  layerClass,
  kind: 'jacobian',
  shape: [4, T, 3],
  dims: ['sample', 'timestep', 'channel'],
  iterations: ITERATIONS,
  value: (_it, s, t, c) => (s + 1) * (c + 1) * 1e-2 * Math.exp(-(T - 1 - t) / tau),
});
/** tau 30: a long reach; tau 1: 10^(-1/ln 10) = 0.434 decades lost per step back (vanishing). */
const long = jacobian('lstm_1', 'LSTM', 30);
const short = jacobian('gru_2', 'GRU', 1);
const BASELINE = 0.25;
/** The last-step output gradient of a returnSequences-false LSTM: sample × channel. */
const lastStep: SeriesSpec = {
  layer: 'lstm_1',
  layerClass: 'LSTM',
  shape: [4, 3],
  dims: ['sample', 'channel'],
  iterations: ITERATIONS,
  value: (it, s, _t, c) => (s - 1.5) * (c + 1) * 1e-3 * (1 + it / 400),
};
const t0 = 1_764_379_200_000;

let fx: Fixture;
let browser: Browser;
let page: Page;
const errors: string[] = [];

const open = (hash: string, width = 1440) => openView(page, `${fx.url}${hash}`, width);
const texts = (selector: string) => textsOf(page, selector);

beforeAll(async () => {
  fx = await startServer([
    { id: 'run-stack', name: 'recall-stack', specs: [long, short] },
    { id: 'run-jac-only', name: 'jacobian-only', specs: [jacobian('lstm_1', 'LSTM', 30)] },
    // The most common model: one recurrent layer, returnSequences false (its output has no timestep axis).
    { id: 'run-last', name: 'last-step', specs: [lastStep, jacobian('lstm_1', 'LSTM', 5)] },
    // Dead units: a state that does not depend on its input at all.
    { id: 'run-dead', name: 'dead-state', specs: [{ ...jacobian('gru_1', 'GRU', 5), value: () => 0 }] },
  ]);
  // Every loss a run can record: the fit logs' batch loss, the capture's probe loss, Keras' val_loss.
  const points = [];
  for (let it = 0; it <= 400; it += 10) {
    const time = t0 + it * 50;
    points.push(
      { iteration: it, name: 'loss', value: 0.3 / (1 + it / 50), time },
      { iteration: it, name: 'probe/loss', value: 0.28 / (1 + it / 60), time },
      { iteration: it, name: 'val_loss', value: 0.32 / (1 + it / 70), time },
    );
  }
  points.push({ iteration: 0, name: 'probe/baseline', value: BASELINE, time: t0 });
  await fx.store.writeScalars('run-stack', points);
  // A run whose fit logs were not recorded: only the baseline, which is no loss.
  await fx.store.writeScalars('run-jac-only', [
    { iteration: 0, name: 'probe/baseline', value: BASELINE, time: t0 },
  ]);
  // A run and its rerun under one name: the older started a minute before.
  for (const [id, offset] of [
    ['rerun-old', -60_000],
    ['rerun-new', 0],
  ] as const) {
    const spec = jacobian('lstm_1', 'LSTM', id === 'rerun-old' ? 1 : 30);
    await fx.store.startRun({ ...runInfo(id, 'rerun', [spec]), startedAt: t0 + 3_600_000 + offset });
    for (const it of spec.iterations) await fx.store.write(snapshotOf(id, spec, it));
    await fx.store.endRun(id, 'finished');
  }
  await fx.store.flush();
  browser = await launchBrowser();
  ({ page } = await newPage(browser, errors, { viewport: { width: 1440, height: 1000 } }));
});

afterAll(async () => {
  await browser?.close();
  await fx?.close();
});

describe('the run page opens on the answer', () => {
  it('draws under each verdict the flow map of its kind, the norm per timestep with the decay fit and the loss vs baseline', async () => {
    await open('#/run?run=recall-stack');
    await page.waitForSelector('.evidence-norm-chart');
    const api = (await (await fetch(`${fx.url}api/runs/run-stack/diagnosis`)).json()) as DiagnosisResponse;
    const layers = api.runs[0]!.layers;
    expect(layers.map((l) => l.layer)).toEqual(['lstm_1', 'gru_2']);
    for (const l of layers) {
      const slot = page.locator(`.evidence[data-layer="${l.layer}"]`);
      // The flow map of the kind the verdict rests on: the jacobian (the only one recorded).
      expect(await slot.locator('.evidence-flow').getAttribute('data-kind')).toBe('jacobian');
      expect(await slot.locator('.evidence-flow canvas').count()).toBe(1);
      // The decay fit's slope is the diagnosis' own, in the legend and the title.
      const d = l.evidence.reach.find((r) => r.kind === 'jacobian')!.decadesPerStep!;
      const legend = await slot.locator('.evidence-norm-chart .u-legend .u-series').allTextContents();
      expect(legend.some((x) => x.includes('decay fit'))).toBe(true);
      const title = await slot.locator('.evidence-norms .block-title').textContent();
      expect(title).toContain(`, ${String(Number(d.toPrecision(2)))} decades per step back`);
      // The loss the verdict compares: the probe loss, against the baseline line.
      const lossLegend = (await slot.locator('.evidence-loss .u-legend .u-series').allTextContents()).join(
        '|',
      );
      expect(lossLegend).toContain('probe loss');
      expect(lossLegend).toContain('baseline (constant predictor on the probe)');
    }
    // Independently: exp(-lag / 1) loses log10(e) = 0.434 decades per step; exp(-lag / 30) 0.0145.
    const fit = (layer: string) => layers.find((l) => l.layer === layer)!.evidence.reach[0]!.decadesPerStep!;
    expect(fit('gru_2')).toBeCloseTo(Math.LOG10E, 3);
    expect(fit('lstm_1')).toBeCloseTo(Math.LOG10E / 30, 4);
    expect(errors).toEqual([]);
  });

  it('names every loss by what it is and draws the baseline as a line; the header says its loss is the probe loss', async () => {
    await open('#/run?run=recall-stack');
    const legend = (
      await texts('.training .loss-chart .u-legend .u-series:not(.raw-series) .u-label')
    ).filter((x) => x !== 'iteration');
    expect(legend).toEqual([
      'training batch loss',
      'probe loss',
      'validation loss',
      'baseline (constant predictor on the probe)',
    ]);
    expect(await page.textContent('.training .loss-chart')).not.toContain('probe/baseline');
    const status = await page.textContent('div.status[aria-live]');
    expect(status).toMatch(/probe loss [0-9.]+ at iteration \d+/);
    expect(status).not.toContain('loss@');
  });

  it('the loss x axis by step or by wall time, in the URL', async () => {
    await open('#/run?run=recall-stack');
    const before = (await hook(page)).renders;
    await page.selectOption('select[aria-label="loss x axis"]', 'time');
    await rendered(page, before);
    expect(await page.evaluate(() => location.hash)).toContain('x=time');
    await page.waitForSelector('.training .loss-chart');
    // The x series is time; the iteration marks (by step) are left out of a time axis.
    expect((await texts('.training .loss-chart .u-legend .u-series .u-label'))[0]).toBe('time');
    expect(await page.getAttribute('.training .loss-chart', 'data-marks')).toBeNull();
    await open('#/run?run=recall-stack&x=time');
    expect(await page.inputValue('select[aria-label="loss x axis"]')).toBe('time');
  });

  it('a run with only the jacobian has its memory horizon, and its baseline is never drawn as its loss', async () => {
    await open('#/run?run=jacobian-only');
    await page.waitForSelector('.training .horizon-chart');
    const strip = await page.textContent('.training');
    expect(strip).not.toContain('No memory horizon');
    expect(await texts('.training .horizon-chart .u-legend .u-label')).toContain('lstm_1 · jacobian');
    expect(await page.locator('.training .loss-chart').count()).toBe(0);
    expect(strip).toContain('No loss recorded for this run, only its baseline');
    expect((await hook(page)).error).toBeNull();
  });

  it('a jacobian that is zero everywhere is said in words, not drawn as one flat colour', async () => {
    await open('#/run?run=dead-state');
    await page.waitForSelector('.evidence[data-layer="gru_1"] .evidence-row');
    const slot = page.locator('.evidence[data-layer="gru_1"]');
    expect(await slot.locator('.evidence-zero').textContent()).toBe(
      'jacobian of gru_1 is zero (or not finite) at every timestep of every recorded iteration: its last state does not depend on its input at all.',
    );
    expect(await slot.locator('.evidence-flow').count()).toBe(0);
  });

  it('a last-step layer (returnSequences false): its jacobian, over the input timesteps, has a horizon and evidence', async () => {
    await open('#/run?run=last-step');
    await page.waitForSelector('.training .horizon-chart');
    expect(await texts('.training .horizon-chart .u-legend .u-label')).toContain('lstm_1 · jacobian');
    await page.waitForSelector('.evidence[data-layer="lstm_1"] .evidence-norm-chart');
    expect(await page.getAttribute('.evidence[data-layer="lstm_1"] .evidence-flow', 'data-kind')).toBe(
      'jacobian',
    );
  });
});

describe('the gallery shows outcomes; runs sharing a name stay apart', () => {
  it('each card: a verdict per layer as the server diagnoses it, the loss sparkline with its baseline, the cell types', async () => {
    await open('#/gallery');
    const api = (await (await fetch(`${fx.url}api/runs/run-stack/diagnosis`)).json()) as DiagnosisResponse;
    const card = page.locator('.run-card[data-run-id="run-stack"]');
    const pills = await card
      .locator('.card-verdicts > li')
      .evaluateAll((els) => els.map((e) => [e.getAttribute('data-layer'), e.getAttribute('data-verdict')]));
    expect(pills).toEqual(api.runs[0]!.layers.map((l) => [l.layer, l.verdict]));
    expect(await card.locator('.run-cells').textContent()).toBe('LSTM, GRU');
    // The probe loss (the one the verdict reads) against its baseline: 0.28 / (1 + 400/60) at the end.
    expect(await card.locator('.card-spark svg path.spark-loss').getAttribute('d')).toMatch(/^M[\d.,L]+$/);
    expect(await card.locator('.card-spark svg line.spark-baseline').count()).toBe(1);
    expect(await card.locator('.spark-text').textContent()).toContain(
      `probe loss ${String(Number((0.28 / (1 + 400 / 60)).toPrecision(3)))}`,
    );
    // The jacobian-only run recorded no loss: said, not drawn.
    expect(await page.locator('.run-card[data-run-id="run-jac-only"] .card-spark').textContent()).toBe(
      'no loss recorded',
    );
  });

  it('two runs named alike: two cards, "#1" and "#2" by start, each linking to its own run by id; compared as two', async () => {
    await open('#/gallery');
    const names = await page.$$eval('.run-card .run-name', (els) =>
      els.map((e) => [e.textContent, e.getAttribute('href')]),
    );
    expect(names).toContainEqual(['rerun #1', '#/run?run=rerun-old']);
    expect(names).toContainEqual(['rerun #2', '#/run?run=rerun-new']);
    // The older run opens as itself: its own verdict (tau 1: vanishing), not the newer one's.
    await page.click('.run-card[data-run-id="rerun-old"] .run-name');
    await page.waitForSelector('.verdict-row');
    expect(await page.evaluate(() => location.hash)).toContain('rerun-old');
    const api = (await (await fetch(`${fx.url}api/runs/rerun-old/diagnosis`)).json()) as DiagnosisResponse;
    expect(api.runs[0]!.layers[0]!.causes).toContain('vanishing');
    await page.waitForSelector('.verdict-cause');
    expect(await texts('.verdict-cause')).toEqual(api.runs[0]!.layers[0]!.causes);
    // The run selector tells them apart by start time too.
    const options = await texts('select[aria-label="run"] option');
    expect(options.filter((o) => o.startsWith('rerun'))).toHaveLength(2);
    expect(options.find((o) => o.startsWith('rerun #1'))).toContain('started');
    // Both on the compare page.
    await open('#/gallery');
    await page.check('.run-card[data-run-id="rerun-old"] input.run-select');
    await page.check('.run-card[data-run-id="rerun-new"] input.run-select');
    await page.click('a.compare-link');
    await page.waitForFunction(() => location.hash.startsWith('#/compare'));
    await rendered(page, 1);
    expect(await page.textContent('.figure-title')).toContain('Compare 2 runs');
    expect((await texts('.compare-run .run-name')).sort()).toEqual(['rerun #1', 'rerun #2']);
    await shot(page, 'compare-reruns');
  });
});

describe('compare: legends encode what titles claim', () => {
  it('the norm lines: colour per run and dash per iteration, both in the legend; the Iterations box shows all it holds', async () => {
    await open('#/compare?runs=recall-stack,rerun-old&kind=jacobian&it=0,200,400');
    expect(await page.textContent('.norm-lines .block-title')).toContain('colour: run, dash: iteration');
    const markers = await page.$$eval('.norm-chart .u-legend .u-series', (rows) =>
      rows.slice(1).map((r) => {
        const line = r.querySelector('.u-marker.line-marker line');
        return [
          r.querySelector('.u-label')?.textContent,
          line?.getAttribute('stroke'),
          r.querySelector('.u-marker')?.getAttribute('data-dash'),
        ];
      }),
    );
    // ITERATION_DASH: solid, [6, 4], [2, 3]; tableau10's first two colours.
    expect(markers).toEqual([
      ['recall-stack @0', '#4e79a7', ''],
      ['recall-stack @200', '#4e79a7', '6,4'],
      ['recall-stack @400', '#4e79a7', '2,3'],
      ['rerun #1 @0', '#f28e2c', ''],
      ['rerun #1 @200', '#f28e2c', '6,4'],
      ['rerun #1 @400', '#f28e2c', '2,3'],
    ]);
    const box = await page.$eval('input[aria-label="iterations of the norm lines"]', (el) => {
      const input = el as HTMLInputElement;
      return { value: input.value, scroll: input.scrollWidth, client: input.clientWidth };
    });
    expect(box.value).toBe('0,200,400');
    expect(box.scroll).toBeLessThanOrEqual(box.client);
  });

  it('horizon lines lying on one another stay visible: each drawn wider than the ones drawn after it', async () => {
    await open('#/compare?runs=rerun-new,jacobian-only&kind=jacobian');
    // Both runs' jacobians are alike (tau 30): their horizons coincide; the first line is the wider.
    const widths = await page.$$eval('.horizon-chart .u-legend .u-series .line-marker line', (ls) =>
      ls.map((l) => Number(l.getAttribute('stroke-width'))),
    );
    expect(widths).toEqual([4, 2]);
  });
});

describe('layouts hold at 1280, 1440 and 1920 px', () => {
  for (const width of [1280, 1440, 1920]) {
    it(`${width} px: the run page and the gallery overflow nothing`, async () => {
      for (const [name, hash] of [
        ['run', '#/run?run=recall-stack'],
        ['gallery', '#/gallery'],
        ['compare', '#/compare?runs=recall-stack,rerun-old,jacobian-only&kind=jacobian'],
      ] as const) {
        await open(hash, width);
        if (name === 'run') await page.waitForSelector('.evidence-norm-chart');
        // A card or block (not a control) wider than its parent spills into its neighbour.
        const over = await overflows(
          page,
          '.evidence-block, .run-card, .verdict-row, .training-block, .compare-block, .controls > *, .controls input',
          '.controls > *, .controls input',
        );
        expect(over, `${name} at ${width}`).toEqual([]);
        await shot(page, `${name}-${width}`);
      }
    });
  }
});
