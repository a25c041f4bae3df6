// End-to-end harness: a real store file with synthetic runs, the real server over it (serving the built viewer),
// and Debian's Chromium driven by playwright-core.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildServer, type RunningServer } from '@gradscope/server';
import { openStore, type RunInfo, type Snapshot, type Store } from '@gradscope/store';
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Page,
} from 'playwright-core';
import { launchChromium } from '../../../scripts/chromium.mjs';

const here = dirname(fileURLToPath(import.meta.url));
export const VIEWER_DIST = join(here, '..', 'dist');
/** GRADSCOPE_SHOTS=DIR: where the tests save their screenshots ('' for none). */
export const SHOTS = process.env.GRADSCOPE_SHOTS ?? '';

/** What a layer's gradient looks like at one iteration: norm decaying going back from the last timestep. */
export interface SeriesSpec {
  layer: string;
  layerClass: string;
  shape: number[];
  dims: string[];
  iterations: number[];
  channelParts?: string[];
  /** Default 'output-grad'. */
  kind?: Snapshot['kind'];
  /** A weight's part, e.g. 'forward/kernel/i'. */
  part?: string;
  /** value of (sample, timestep, channel) at an iteration; for rank 2, timestep is 0; for rank 1, s = t = 0. */
  value: (iteration: number, s: number, t: number, c: number) => number;
}

export function tensorOf(spec: SeriesSpec, iteration: number): Float32Array {
  const [S, T, C] =
    spec.shape.length === 3
      ? spec.shape
      : spec.shape.length === 1
        ? [1, 1, spec.shape[0]!]
        : [spec.shape[0]!, 1, spec.shape[1]!];
  const data = new Float32Array(S! * T! * C!);
  for (let s = 0; s < S!; s++)
    for (let t = 0; t < T!; t++)
      for (let c = 0; c < C!; c++) data[(s * T! + t) * C! + c] = spec.value(iteration, s, t, c);
  return data;
}

export function snapshotOf(run: string, spec: SeriesSpec, iteration: number): Snapshot {
  const data = tensorOf(spec, iteration);
  let nonFinite = 0;
  for (const v of data) if (!Number.isFinite(v)) nonFinite++;
  return {
    run,
    iteration,
    epoch: 0,
    batch: iteration,
    layer: spec.layer,
    layerClass: spec.layerClass,
    kind: spec.kind ?? 'output-grad',
    ...(spec.part ? { part: spec.part } : {}),
    shape: spec.shape,
    dims: spec.dims,
    data,
    loss: 1 / (1 + iteration),
    time: 1_764_379_200_000 + iteration,
    nonFinite,
    ...(spec.channelParts ? { channelParts: spec.channelParts } : {}),
  };
}

export function runInfo(id: string, name: string, specs: SeriesSpec[]): RunInfo {
  return {
    id,
    name,
    startedAt: 1_764_379_200_000,
    model: {
      name: `${name}-model`,
      className: 'Sequential',
      // One model layer per layer name (a layer's weights are several specs).
      layers: specs
        .filter((s, i) => specs.findIndex((x) => x.layer === s.layer) === i)
        .map((s, index) => ({
          index,
          name: s.layer,
          className: s.layerClass,
          units: s.shape[s.shape.length - 1]! / (s.channelParts ? 2 : 1),
          returnSequences: s.shape.length === 3,
          ...(s.channelParts ? { mergeMode: 'concat' as const, innerClassName: 'GRU' } : {}),
          outputShape: [null, ...s.shape.slice(1)],
          captured: true,
        })),
      inputShape: [[null, 20, 3]],
      outputShape: [[null, 1]],
      losses: ['meanSquaredError'],
      optimizer: 'Adam',
    },
    options: { mode: 'probe', every: 20, capture: ['output-grad'], layers: specs.map((s) => s.layer) },
    backend: 'cpu',
    tfjsVersion: '4.22.0',
    host: 'e2e',
  };
}

export interface Fixture {
  url: string;
  store: Store;
  server: RunningServer;
  close(): Promise<void>;
}

/** A store with the given runs (each written in full, then ended unless `running`), and the server over it. */
export async function startServer(
  runs: { id: string; name: string; specs: SeriesSpec[]; running?: boolean }[],
  options: { token?: string } = {},
): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'gradscope-viewer-e2e-'));
  const db = join(dir, 'runs.gradscope');
  const store = await openStore(db);
  for (const run of runs) {
    await store.startRun(runInfo(run.id, run.name, run.specs));
    for (const spec of run.specs)
      for (const it of spec.iterations) await store.write(snapshotOf(run.id, spec, it));
    if (!run.running) await store.endRun(run.id, 'finished');
  }
  await store.flush();
  const server = await buildServer({
    db,
    port: 0,
    pollMs: 100,
    viewerDir: VIEWER_DIST,
    ...(options.token ? { token: options.token } : {}),
  });
  return {
    url: `${server.url}/`,
    store,
    server,
    async close() {
      await server.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Chromium from Debian (installed on demand by scripts/ensure-chromium.mjs), headless, loopback only. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(join(VIEWER_DIST, 'index.html')))
    throw new Error(`the viewer is not built (${VIEWER_DIST}): run pnpm build first`);
  return launchChromium(chromium);
}

/** Waits until the app has finished the render after `after` renders (see window.__gradscope). */
export async function rendered(page: Page, after = 0): Promise<void> {
  await page.waitForFunction(
    (n) => window.__gradscope?.ready === true && window.__gradscope.renders > n,
    after,
    { timeout: 30_000 },
  );
}

export async function hook(page: Page) {
  return page.evaluate(() => ({ ...window.__gradscope }));
}

/**
 * A page in a browser context of its own (`options`: its viewport, downloads) that records what goes wrong in
 * `errors`: console errors and uncaught exceptions; with `failedResponses`, also every response of status 400
 * or more as "status url" (which request failed, beside the browser's "Failed to load resource").
 */
export async function newPage(
  browser: Browser,
  errors: string[],
  options: BrowserContextOptions & { failedResponses?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const { failedResponses, ...contextOptions } = options;
  const context = await browser.newContext(contextOptions);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  if (failedResponses)
    page.on('response', (r) => {
      if (r.status() >= 400) errors.push(`${r.status()} ${r.url()}`);
    });
  return { context, page };
}

/**
 * A fresh load of `url` (through about:blank, so that a hash-only change still reloads) until the app has
 * rendered; with `width`, the viewport is made `width` × 1000 px first.
 */
export async function openView(page: Page, url: string, width?: number): Promise<void> {
  if (width !== undefined) await page.setViewportSize({ width, height: 1000 });
  await page.goto('about:blank');
  await page.goto(url);
  await rendered(page);
}

/** The trimmed text of every element `selector` matches, in document order. */
export function textsOf(page: Page, selector: string): Promise<string[]> {
  return page.$$eval(selector, (els) => els.map((e) => (e.textContent ?? '').trim()));
}

/** With GRADSCOPE_SHOTS=DIR, saves the page as DIR/`name`.png (the full page, or the viewport only). */
export async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage });
}

/**
 * What overflows at the page's width, [] when nothing does: the page wider than the viewport, an element of
 * `selector` past either edge of it, an input whose text is clipped; with `parentExcept`, also an element not
 * matching it that ends past its parent's right edge (a card wider than its parent spills into its neighbour).
 */
export function overflows(page: Page, selector: string, parentExcept?: string): Promise<string[]> {
  return page.evaluate(
    ([selector, parentExcept]) => {
      const vw = document.documentElement.clientWidth;
      const out: string[] = [];
      if (document.documentElement.scrollWidth > vw) out.push(`page ${document.documentElement.scrollWidth}`);
      for (const el of document.querySelectorAll<HTMLElement>(selector)) {
        const r = el.getBoundingClientRect();
        if (r.right > vw + 0.5 || r.left < -0.5) out.push(`${el.className} ${r.left}–${r.right}`);
        if (el instanceof HTMLInputElement && el.scrollWidth > el.clientWidth)
          out.push(`${el.getAttribute('aria-label')} clipped: ${el.scrollWidth} > ${el.clientWidth}`);
        if (parentExcept === null || el.matches(parentExcept)) continue;
        const p = el.parentElement!.getBoundingClientRect();
        if (p.width > 0 && r.right > p.right + 1)
          out.push(`${el.className} ends at ${r.right} past its parent's ${p.right}`);
      }
      return out;
    },
    [selector, parentExcept ?? null] as const,
  );
}
