// The runs table and groups in compare (issue 27) in headless Chromium over the real server and a real store
// of 1,000 runs (a synthetic sweep: cells × learning rates × units × seeds, scripts/bench/lib/sweep.mjs). The
// table's order, counts and tallies are checked against what the sweep wrote and the store's own diagnosis; a
// group band's mean and spread against the runs' stored scalars and flow matrices read with the store's reader.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildServer, type RunningServer } from '@gradscope/server';
import { openReader, openStore, type Reader } from '@gradscope/store';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  SWEEP_BASELINE,
  SWEEP_ITERATIONS,
  type SweepRun,
  sweepRun,
  sweepRunInfo,
  writeSweep,
  writeSweepRun,
} from '../../../scripts/bench/lib/sweep.mjs';
import type { DrawnBand } from '../src/views/compareBands';
import {
  hook,
  launchBrowser,
  newPage,
  openView,
  overflows,
  rendered,
  SHOTS,
  shot,
  VIEWER_DIST,
} from './harness';

const N = 1000;
let dir: string;
let db: string;
let server: RunningServer;
let reader: Reader;
let browser: Browser;
let page: Page;
let runs: SweepRun[];
/** The store's own verdict of each run (by id). */
const verdicts = new Map<string, string>();
const errors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-runs-e2e-'));
  db = join(dir, 'runs.gradscope');
  const store = await openStore(db);
  runs = await writeSweep(store, N);
  await store.close();
  reader = openReader(db);
  const { diagnoseReader } = await import('@gradscope/store');
  for (const d of (await diagnoseReader(reader)).runs) verdicts.set(d.id, d.layers[0]!.verdict);
  server = await buildServer({ db, port: 0, ingest: false, viewerDir: VIEWER_DIST });
  browser = await launchBrowser();
  ({ page } = await newPage(browser, errors, { viewport: { width: 1440, height: 1000 } }));
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  reader?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(hash: string, width = 1440): Promise<void> {
  await openView(page, `${server.url}/${hash}`, width);
  const h = await hook(page);
  expect(h.error).toBeNull();
}

/** Waits for the render after the current one (a sort, a filter, a grouping: the URL changes, the page renders). */
async function next(action: () => Promise<void>): Promise<void> {
  const before = (await hook(page)).renders;
  await action();
  await rendered(page, before);
}

const shownIds = () =>
  page.$$eval('.runs-table .run-row', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.run!));
const byId = (id: string) => runs[Number(id.slice('sweep-'.length))]!;
const ratio = (r: SweepRun) => r.ratioAt(SWEEP_ITERATIONS.at(-1)!);

describe('the runs table of 1,000 runs', () => {
  it('lists every run, newest first, with its parameters and verdict; sorts by a click on a header', async () => {
    await open('#/runs');
    const ids = await shownIds();
    expect(ids).toHaveLength(N);
    // Newest first, as the server lists them: the sweep's runs start one second apart.
    expect(ids).toEqual(runs.map((r) => r.id).reverse());
    // A row says what the store's diagnosis says.
    const first = await page.$eval('.run-row[data-run="sweep-0999"]', (tr) => ({
      verdict: tr.querySelector('.verdict-pill')!.getAttribute('data-verdict'),
      cells: [...tr.querySelectorAll('.cell')].map((td) => td.textContent),
    }));
    expect(first.verdict).toBe(verdicts.get('sweep-0999'));
    expect(first.cells).toContain(runs[999]!.group);
    expect(first.cells).toContain(runs[999]!.params.cell);
    await next(() => page.click('button.sort-button[data-column="lossRatio"]'));
    expect(page.url()).toContain('sort=lossRatio');
    const sorted = [...runs].reverse().sort((a, b) => ratio(a) - ratio(b));
    expect(await shownIds()).toEqual(sorted.map((r) => r.id));
    await next(() => page.click('button.sort-button[data-column="lossRatio"]'));
    expect(await shownIds()).toEqual([...sorted].reverse().map((r) => r.id));
    // Text columns sort naturally: names in the order a person reads them.
    await next(() => page.click('button.sort-button[data-column="p.seed"]'));
    const bySeed = await shownIds();
    const seeds = bySeed.map((id) => byId(id).params.seed);
    expect(seeds).toEqual([...seeds].sort((a, b) => a - b));
    expect(bySeed[0]).toBe('sweep-0035'); // seed 0, the newest of its 36 runs
  });

  it('filters by numeric ranges and words, each column at once; counts what passes', async () => {
    await open('#/runs');
    await next(() => page.fill('input.column-filter[data-column="lossRatio"]', '..0.05'));
    const low = runs.filter((r) => ratio(r) <= 0.05);
    expect((await shownIds()).sort()).toEqual(low.map((r) => r.id).sort());
    expect(await page.textContent('.status')).toBe(`${low.length} of ${N} runs pass the filters`);
    await next(() => page.fill('input.column-filter[data-column="p.cell"]', 'gru'));
    const gru = low.filter((r) => r.params.cell === 'GRU');
    expect((await shownIds()).sort()).toEqual(gru.map((r) => r.id).sort());
    await next(() => page.fill('input.column-filter[data-column="p.lr"]', '>0.001'));
    const fast = gru.filter((r) => r.params.lr > 0.001);
    expect((await shownIds()).sort()).toEqual(fast.map((r) => r.id).sort());
    expect(fast.length).toBeGreaterThan(0);
    expect(fast.length).toBeLessThan(gru.length);
    // The filters live in the URL: a reload shows the same rows.
    await page.reload();
    await rendered(page);
    expect((await shownIds()).sort()).toEqual(fast.map((r) => r.id).sort());
    // An unreadable range is said, and filters nothing.
    await next(() => page.fill('input.column-filter[data-column="p.units"]', 'abc'));
    expect((await hook(page)).notices).toEqual([
      'units: "abc" is not a range: write 0.1..1, ..0.5, 2.., >0.5, <=3 or a number',
    ]);
    expect((await shownIds()).length).toBe(fast.length);
  });

  it('groups by a column: group rows with counts and verdict tallies; a group collapses; ticked groups open compare', async () => {
    await open('#/runs?by=p.cell');
    const groups = await page.$$eval('.group-row', (trs) =>
      trs.map((tr) => ({
        group: (tr as HTMLElement).dataset.group,
        count: Number((tr as HTMLElement).dataset.count),
        tallies: Object.fromEntries(
          [...tr.querySelectorAll('.verdict-pill')].map((p) => [
            p.getAttribute('data-verdict'),
            Number(p.getAttribute('data-count')),
          ]),
        ),
      })),
    );
    const expected = ['GRU', 'LSTM', 'SimpleRNN'].map((cell) => {
      const members = runs.filter((r) => r.params.cell === cell);
      const tallies: Record<string, number> = {};
      for (const r of members) tallies[verdicts.get(r.id)!] = (tallies[verdicts.get(r.id)!] ?? 0) + 1;
      return { group: cell, count: members.length, tallies };
    });
    expect(groups).toEqual(expected);
    expect(expected.map((g) => g.count)).toEqual([333, 334, 333]);
    // The rows under each group row are its runs, newest first.
    const order = await page.$$eval('.runs-table .tbody > .trow', (trs) =>
      trs.map((tr) => (tr as HTMLElement).dataset.group ?? (tr as HTMLElement).dataset.run),
    );
    const want = expected.flatMap((g) => [
      g.group,
      ...[...runs]
        .reverse()
        .filter((r) => r.params.cell === g.group)
        .map((r) => r.id),
    ]);
    expect(order).toEqual(want);
    // Collapsing LSTM hides its 334 rows and keeps its group row.
    await page.click('.group-row[data-group="LSTM"] button.group-toggle');
    expect((await shownIds()).length).toBe(N - 334);
    expect(await page.$$eval('.group-row', (t) => t.length)).toBe(3);
    // Grouped by lr and filtered to one configuration's seeds: ticking two groups opens compare by lr.
    await open('#/runs?by=p.lr&f.p.cell=GRU&f.p.units=16&f.p.seed=..9');
    const rows = await page.$$eval('.group-row', (trs) =>
      trs.map((tr) => [(tr as HTMLElement).dataset.group, Number((tr as HTMLElement).dataset.count)]),
    );
    expect(rows).toEqual([
      ['0.001', 10],
      ['0.003', 10],
      ['0.01', 10],
      ['0.03', 10],
    ]);
    await page.check('.group-row[data-group="0.001"] input.group-select');
    await page.check('.group-row[data-group="0.03"] input.group-select');
    const href = await page.getAttribute('a.compare-link', 'href');
    expect(await page.textContent('a.compare-link')).toBe('Compare selected (20) by lr');
    expect(href).toContain('by=lr');
    const picked = new URLSearchParams(href!.slice(href!.indexOf('?'))).get('runs')!.split(',');
    const wantPicked = runs.filter(
      (r) =>
        r.params.cell === 'GRU' &&
        r.params.units === 16 &&
        r.params.seed <= 9 &&
        [0.001, 0.03].includes(r.params.lr),
    );
    expect(picked.sort()).toEqual(wantPicked.map((r) => r.name).sort());
    // Ungrouped: up to 8 ticked runs are lines; a ninth makes the selection bands of the runs' groups.
    await open('#/runs?f.p.cell=GRU&f.p.units=16&f.p.seed=..9');
    const boxes = page.locator('.run-row input.run-select');
    for (let i = 0; i < 8; i++) await boxes.nth(i).check();
    expect(await page.textContent('a.compare-link')).toBe('Compare selected (8)');
    expect(await page.getAttribute('a.compare-link', 'href')).not.toContain('by=');
    await boxes.nth(8).check();
    expect(await page.textContent('a.compare-link')).toBe('Compare selected (9) by group');
    expect(await page.getAttribute('a.compare-link', 'href')).toContain('by=group');
  });

  it('charts the outcome against a parameter: one point per run shown, verdict counts in the legend', async () => {
    await open('#/runs?f.p.cell=SimpleRNN&x=p.lr');
    const simple = runs.filter((r) => r.params.cell === 'SimpleRNN');
    expect(await page.getAttribute('.outcome-chart', 'data-points')).toBe(String(simple.length));
    const legend = await page.$$eval('.outcome-legend li', (lis) =>
      lis.map((li) => [li.getAttribute('data-verdict'), li.textContent!.trim()]),
    );
    const count = (v: string) => simple.filter((r) => verdicts.get(r.id) === v).length;
    expect(legend).toEqual(
      ['learning-long', 'learning-short', 'not-learning']
        .filter((v) => count(v) > 0)
        .map((v) => [v, `${v} (${count(v)})`]),
    );
  });
});

/** The runs of one configuration of the sweep at its first ten seeds, for each learning rate. */
function gruSeeds(): SweepRun[] {
  return runs.filter((r) => r.params.cell === 'GRU' && r.params.units === 16 && r.params.seed < 10);
}

/** Mean and population std of numbers. */
function stats(xs: number[]): { mean: number; std: number; min: number; max: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const std = Math.sqrt(xs.reduce((a, v) => a + (v - mean) ** 2, 0) / xs.length);
  return { mean, std, min: Math.min(...xs), max: Math.max(...xs) };
}

describe('groups in compare', () => {
  const members = () => gruSeeds();
  const url = (extra = '') =>
    `#/compare?runs=${members()
      .map((r) => r.name)
      .join(',')}&by=lr${extra}`;

  it("draws each group as one band whose mean and spread are the stored runs' (loss ÷ baseline, norms)", async () => {
    await open(url());
    // The kind the verdict rests on, by default.
    expect(await page.textContent('h2.figure-title')).toBe(
      'Compare 4 groups by lr (40 runs) — recurrent layer 1 · jacobian',
    );
    const legend = await page.$$eval('li.compare-group', (lis) =>
      lis.map((li) => ({
        group: (li as HTMLElement).dataset.group,
        runs: Number((li as HTMLElement).dataset.runs),
        tallies: [...li.querySelectorAll('.verdict-pill')].map((p) => p.textContent),
      })),
    );
    const lrs = [0.001, 0.003, 0.01, 0.03];
    expect(legend).toEqual(
      lrs.map((lr) => {
        const g = members().filter((r) => r.params.lr === lr);
        const counts = new Map<string, number>();
        for (const r of g) counts.set(verdicts.get(r.id)!, (counts.get(verdicts.get(r.id)!) ?? 0) + 1);
        const short: Record<string, string> = {
          'learning-long': 'long',
          'learning-short': 'short',
          'not-learning': 'not learning',
        };
        return {
          group: String(lr),
          runs: 10,
          tallies: ['learning-long', 'learning-short', 'not-learning']
            .filter((v) => counts.has(v))
            .map((v) => `${short[v]} ${counts.get(v)} of 10`),
        };
      }),
    );
    // The loss band: at every recorded step, mean and std of each run's stored loss ÷ its stored baseline.
    const loss: DrawnBand[] = JSON.parse((await page.getAttribute('.loss-band-chart', 'data-bands'))!);
    expect(loss.map((b) => [b.group, b.label, b.runs])).toEqual(
      lrs.map((lr) => [String(lr), `${lr} (n=10)`, 10]),
    );
    for (const [k, lr] of lrs.entries()) {
      const ids = members()
        .filter((r) => r.params.lr === lr)
        .map((r) => r.id);
      const stored = await Promise.all(
        ids.map(async (id) => {
          const s = await reader.scalars(id, { names: ['loss', 'probe/baseline'] });
          const l = s.find((x) => x.name === 'loss')!;
          const base = s.find((x) => x.name === 'probe/baseline')!.values[0]!;
          expect(base).toBe(SWEEP_BASELINE);
          return new Map(Array.from(l.iterations, (it, i) => [it, l.values[i]! / base]));
        }),
      );
      const b = loss[k]!;
      for (const it of [0, 50, 100, 200]) {
        const i = b.x.indexOf(it);
        const want = stats(stored.map((m) => m.get(it)!));
        expect(b.n[i]).toBe(10);
        expect(b.mean[i]).toBeCloseTo(want.mean, 10);
        expect(b.lo[i]).toBeCloseTo(want.mean - want.std, 10);
        expect(b.hi[i]).toBeCloseTo(want.mean + want.std, 10);
      }
    }
    // The norms at iteration 200: per timestep, the mean and std of the runs' stored jacobian norms.
    const norms: DrawnBand[] = JSON.parse(
      (await page.getAttribute('.norm-lines .band-chart', 'data-bands'))!,
    );
    const at200 = norms.filter((b) => b.label.endsWith('@200'));
    expect(at200.map((b) => b.group)).toEqual(lrs.map(String));
    for (const [k, lr] of lrs.entries()) {
      const g = members().filter((r) => r.params.lr === lr);
      const rows = await Promise.all(
        g.map(async (r) => {
          const f = await reader.flowMatrix({ run: r.id, layer: r.layer, kind: 'jacobian', part: null });
          const row = f.iterations.indexOf(200);
          return Array.from(f.norms.subarray(row * f.timesteps, (row + 1) * f.timesteps));
        }),
      );
      const b = at200[k]!;
      for (let t = 0; t < rows[0]!.length; t++) {
        const want = stats(rows.map((row) => row[t]!));
        expect(b.mean[t]).toBeCloseTo(want.mean, 9);
        expect(b.hi[t]! - b.mean[t]!).toBeCloseTo(want.std, 9);
      }
    }
    // min–max instead: the edges are the extreme runs.
    await open(url('&band=minmax'));
    const mm: DrawnBand[] = JSON.parse((await page.getAttribute('.norm-lines .band-chart', 'data-bands'))!);
    const g0 = members().filter((r) => r.params.lr === 0.001);
    const last = await Promise.all(
      g0.map(async (r) => {
        const f = await reader.flowMatrix({ run: r.id, layer: r.layer, kind: 'jacobian', part: null });
        const row = f.iterations.indexOf(200);
        return f.norms[row * f.timesteps + 0]!;
      }),
    );
    const b0 = mm.find((b) => b.group === '0.001' && b.label.endsWith('@200'))!;
    expect(b0.lo[0]).toBeCloseTo(Math.min(...last), 12);
    expect(b0.hi[0]).toBeCloseTo(Math.max(...last), 12);
    expect(errors).toEqual([]);
  });

  it("shows every run's verdicts ungrouped, on the verdict's kind, with a line per run", async () => {
    const two = members()
      .filter((r) => r.params.lr === 0.03 || r.params.lr === 0.001)
      .slice(0, 2);
    await open(`#/compare?runs=${two.map((r) => r.name).join(',')}`);
    const pills = await page.$$eval('li.compare-run', (lis) =>
      lis.map((li) => [
        (li as HTMLElement).dataset.run,
        li.querySelector('.verdict-pill')?.getAttribute('data-verdict'),
      ]),
    );
    expect(pills).toEqual(two.map((r) => [r.name, verdicts.get(r.id)]));
    expect(page.url()).not.toContain('kind=');
    expect(await page.textContent('h2.figure-title')).toBe('Compare 2 runs — recurrent layer 1 · jacobian');
  });
});

describe('layouts hold at 1280, 1440 and 1920 px', () => {
  for (const width of [1280, 1440, 1920]) {
    it(`${width} px: the runs table and a group compare page overflow nothing`, async () => {
      for (const [name, hash] of [
        ['runs-table', '#/runs?by=p.cell'],
        [
          'group-compare',
          `#/compare?runs=${gruSeeds()
            .map((r) => r.name)
            .join(',')}&by=lr`,
        ],
      ] as const) {
        await open(hash, width);
        const over = await overflows(
          page,
          '.training-block, .compare-run, .table-scroll, .outcome-chart, .controls > *, .controls label, .controls input, .controls select, .controls a',
        );
        expect(over, `${name} at ${width}`).toEqual([]);
        if (SHOTS) {
          // The table's rows off screen are not painted (content-visibility): the table as a user first sees it,
          // and its outcome chart on its own.
          await shot(page, `${name}-${width}`, name !== 'runs-table');
          if (name === 'runs-table') {
            // Rows scrolled past get their real heights: two frames, then the chart stands still.
            await page.locator('.outcome-chart').scrollIntoViewIfNeeded();
            await page.evaluate(
              () => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))),
            );
            await page
              .locator('.outcome-chart')
              .screenshot({ path: join(SHOTS, `${name}-outcome-${width}.png`) });
          }
        }
      }
    });
  }
});

describe('live', () => {
  it('a run that starts while the table is open gets its row, and the row follows its captures', async () => {
    await open('#/runs?f.name=live');
    expect(await shownIds()).toEqual([]);
    const store = await openStore(db);
    try {
      const r = { ...sweepRun(1), id: 'live-1', name: 'live-gru', startedAt: Date.now() };
      await store.startRun(sweepRunInfo(r));
      await store.flush();
      await page.waitForSelector('.run-row[data-run="live-1"]');
      expect(await page.textContent('.run-row[data-run="live-1"] .status')).toBe('running');
      // The typed filter keeps its focus through the rebuild a live update makes.
      await page.focus('input.column-filter[data-column="name"]');
      await writeSweepRun(store, r);
      await store.flush();
      await page.waitForSelector('.run-row[data-run="live-1"] .verdict-pill');
      const reader2 = openReader(db);
      try {
        const [d] = (await (await import('@gradscope/store')).diagnoseReader(reader2, ['live-1'])).runs;
        expect(await page.getAttribute('.run-row[data-run="live-1"] .verdict-pill', 'data-verdict')).toBe(
          d!.layers[0]!.verdict,
        );
      } finally {
        reader2.close();
      }
      const cells = await page.$$eval('.run-row[data-run="live-1"] .cell', (c) =>
        c.map((x) => x.textContent),
      );
      // loss ÷ baseline at the last capture, as the sweep wrote it (shown to three significant digits).
      expect(cells).toContain(String(Number(r.ratioAt(200).toPrecision(3))));
      expect(await page.evaluate(() => (document.activeElement as HTMLElement)?.dataset.column)).toBe('name');
      expect(await page.inputValue('input.column-filter[data-column="name"]')).toBe('live');
    } finally {
      await store.close();
    }
  });
});
