// Viewer, the runs table (issue 27): a store of 1,000 runs (a synthetic sweep, scripts/bench/lib/sweep.mjs: one
// recurrent layer each, jacobian and input-grad at 3 captures, a training loss every 10 steps), served by the
// real server, opened on `#/runs` in headless Chromium, one row per run. Measured: GET /api/outcomes cold (every
// run diagnosed) and warm (each run's diagnosis kept until it changes); time from navigation to the painted
// table (window.__gradscope.readyAt); and from a re-sort, a filter and a grouping (the URL changes, the page
// re-renders) to the next painted frame (lastPaintMs).
import { mkdtempSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { viewerDir } from '../../apps/viewer/index.js';
import { buildServer } from '../../packages/server/dist/index.js';
import { openStore } from '../../packages/store/dist/index.js';
import { launchChromium } from '../chromium.mjs';
import { median } from './lib/numbers.mjs';
import { sweepRun, writeSweep } from './lib/sweep.mjs';

/** Waits for the render after `after` renders; returns the hook. */
async function rendered(page, after) {
  await page.waitForFunction(
    (n) => window.__gradscope?.ready === true && window.__gradscope.renders > n,
    after,
    { timeout: 120_000 },
  );
  const h = await page.evaluate(() => ({ ...window.__gradscope }));
  if (h.error) throw new Error(`the runs table failed: ${h.error}`);
  return h;
}

/** Does `action` and returns the page's paint time of the render it causes (lastPaintMs). */
async function timed(page, action) {
  const before = await page.evaluate(() => window.__gradscope.renders);
  await action();
  return (await rendered(page, before)).lastPaintMs;
}

export async function run({ quick = false, log = () => {} } = {}) {
  const n = quick ? 300 : 1000;
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-bench-viewer-table-'));
  try {
    const db = join(dir, 'runs.gradscope');
    const store = await openStore(db);
    const t0 = performance.now();
    await writeSweep(store, n);
    await store.close();
    log(`${n} runs written in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const server = await buildServer({ db, port: 0, ingest: false, viewerDir, cacheBytes: 0 });
    const browser = await launchChromium(chromium);
    const api = [];
    const first = [];
    const sort = [];
    const filter = [];
    const group = [];
    const groupCompare = { 40: [], all: [] };
    let cold = 0;
    let bytes = 0;
    try {
      // The server's side: the first answer diagnoses every run; later ones reuse each run's diagnosis (the
      // response cache is off here, so that this is the per-run cache's time, not a cached body's).
      for (let i = 0; i <= (quick ? 3 : 9); i++) {
        const t = performance.now();
        const res = await fetch(`${server.url}/api/outcomes`);
        const body = await res.text();
        const ms = performance.now() - t;
        if (!res.ok) throw new Error(`GET /api/outcomes answered ${res.status}: ${body.slice(0, 200)}`);
        if (i === 0) {
          cold = ms;
          bytes = body.length;
        } else api.push(ms);
      }
      const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
      const reps = quick ? 3 : 9;
      for (let i = 0; i <= reps; i++) {
        await page.goto('about:blank');
        await page.goto(`${server.url}/#/runs`);
        const h = await rendered(page, 0);
        const rows = await page.$$eval('.runs-table .run-row', (t) => t.length);
        if (rows !== n) throw new Error(`the table shows ${rows} rows, not ${n}`);
        // The first load also compiles the page's code.
        if (i > 0) first.push(h.readyAt);
      }
      const columns = ['lossRatio', 'p.lr', 'name', 'verdict', 'reach'];
      for (let i = 0; i < reps; i++) {
        const c = columns[i % columns.length];
        sort.push(await timed(page, () => page.click(`button.sort-button[data-column="${c}"]`)));
      }
      const filters = [
        ['lossRatio', '..0.05'],
        ['lossRatio', ''],
        ['p.cell', 'gru'],
        ['p.cell', ''],
      ];
      for (let i = 0; i < reps; i++) {
        const [c, text] = filters[i % filters.length];
        filter.push(await timed(page, () => page.fill(`input.column-filter[data-column="${c}"]`, text)));
      }
      const keys = ['p.cell', 'p.lr', 'group', ''];
      for (let i = 0; i < reps; i++) {
        const k = keys[i % keys.length];
        group.push(await timed(page, () => page.selectOption('select[aria-label="group runs by"]', k)));
      }
      // Groups in compare: navigation → painted page (every run's details shared by its stand-in, its scalars
      // and its flow asked), for one configuration's 10 seeds at 4 learning rates, and for every GRU run.
      const names = (keep) => {
        const out = [];
        for (let i = 0; i < n; i++) if (keep(sweepRun(i))) out.push(sweepRun(i).name);
        return out;
      };
      for (const [key, runs, count] of [
        ['40', names((r) => r.cell === 'GRU' && r.params.units === 16 && r.params.seed < 10), reps],
        ['all', names((r) => r.cell === 'GRU'), quick ? 1 : 3],
      ]) {
        for (let i = 0; i <= count; i++) {
          await page.goto('about:blank');
          await page.goto(`${server.url}/#/compare?runs=${runs.join(',')}&by=lr`);
          const h = await rendered(page, 0);
          if (h.view !== 'compare') throw new Error(`the compare page did not render: ${h.view}`);
          if (i > 0) groupCompare[key].push({ ms: h.readyAt, runs: runs.length });
        }
      }
    } finally {
      await browser.close();
      await server.close();
    }
    const load = os.loadavg()[0].toFixed(1);
    log(
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    log(
      `api warm ${api.map((t) => t.toFixed(0)).join(', ')} ms; first paint ${first.map((t) => t.toFixed(0)).join(', ')} ms; sort ${sort.map((t) => t.toFixed(0)).join(', ')}; filter ${filter.map((t) => t.toFixed(0)).join(', ')}; group ${group.map((t) => t.toFixed(0)).join(', ')}`,
    );
    const note = (xs, what) =>
      `${what}; median of ${xs.length}, max ${Math.max(...xs).toFixed(0)} ms; load average ${load} on ${os.cpus().length} cores`;
    return [
      {
        suite: 'viewer-table',
        metric: `GET /api/outcomes, ${n} runs, first answer (every run diagnosed)`,
        value: cold,
        unit: 'ms',
        aim: '',
        note: `${(bytes / 1024).toFixed(0)} KiB of JSON; one diagnosis per run from its write-time summaries`,
      },
      {
        suite: 'viewer-table',
        metric: `GET /api/outcomes, ${n} runs, later answers (no run changed)`,
        value: median(api),
        unit: 'ms',
        aim: '',
        note: note(api, 'each run’s diagnosis kept until the run changes; the response cache off'),
      },
      {
        suite: 'viewer-table',
        metric: `navigation → painted runs table, ${n} runs`,
        value: median(first),
        unit: 'ms',
        aim: '≤ 1000',
        note: note(
          first,
          'headless Chromium at 1440 px, one row per run and the outcome chart; the server warm; includes the page load, the request and building every row',
        ),
      },
      {
        suite: 'viewer-table',
        metric: `re-sort → painted table, ${n} runs`,
        value: median(sort),
        unit: 'ms',
        aim: '≤ 100',
        note: note(
          sort,
          'a click on a header (loss ratio, lr, name, verdict, reach): URL change → next frame',
        ),
      },
      {
        suite: 'viewer-table',
        metric: `filter → painted table, ${n} runs`,
        value: median(filter),
        unit: 'ms',
        aim: '≤ 100',
        note: note(
          filter,
          'a range or words typed into a column filter (after its 120 ms debounce) → next frame',
        ),
      },
      {
        suite: 'viewer-table',
        metric: `group → painted table, ${n} runs`,
        value: median(group),
        unit: 'ms',
        aim: '≤ 100',
        note: note(
          group,
          'group by cell, lr, group, none: group rows with counts and verdict tallies → next frame',
        ),
      },
      ...Object.values(groupCompare).map((xs) => ({
        suite: 'viewer-table',
        metric: `navigation → painted compare page, ${xs[0].runs} runs in 4 groups by lr`,
        value: median(xs.map((x) => x.ms)),
        unit: 'ms',
        aim: '',
        note: note(
          xs.map((x) => x.ms),
          'bands of the loss ÷ baseline, horizon, norm(t=0)/max and norms at 3 iterations; per run its scalars and its flow (2 requests), the model of one run standing for its sweep',
        ),
      })),
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const row of await run({ quick: process.argv.includes('--quick'), log: console.error }))
    console.log(row);
}
