// The verdict panel's pure parts: the rows it shows of a diagnosis, its notice, and that every verdict has a
// pill whose text is readable on its colour (the drawing itself is checked in a browser, test/e2e.test.ts).
import { readFileSync } from 'node:fs';
import {
  diagnose,
  type IterationObservation,
  type LayerDiagnosis,
  type RunDiagnosis,
  VERDICTS,
  type Verdict,
} from '@gradscope/format';
import { describe, expect, it } from 'vitest';
import { diagnosisNotice, summaryText, VERDICT_WORDS, verdictAt, verdictRows } from './verdict';

/** A capture whose jacobian decays back from the last step as exp(-lag / tau) over 20 timesteps. */
function capture(iteration: number, loss: number, tau: number): IterationObservation {
  const norms = Array.from({ length: 20 }, (_, t) => Math.exp(-(19 - t) / tau));
  return { iteration, loss, nonFinite: 0, profiles: [{ kind: 'jacobian', part: null, norms }] };
}

/** Two layers diagnosed by @gradscope/format, as the server answers them. */
function run(): RunDiagnosis {
  return diagnose({
    id: 'r1',
    name: 'stack',
    baseline: 0.5,
    layers: [
      // loss 0.05 / 0.5 = 0.1× the constant predictor; exp(-10 / 20) = 0.61 of the peak beyond T/2: long.
      { layer: 'lstm_1', layerClass: 'LSTM', iterations: [capture(0, 0.5, 20), capture(100, 0.05, 20)] },
      // loss 0.45 / 0.5 = 0.9×: not learning; exp(-10 / 1) = 4.5e-5 < 1e-3 of the peak: vanishing.
      { layer: 'gru_2', layerClass: 'GRU', iterations: [capture(0, 0.5, 1), capture(100, 0.45, 1)] },
    ],
  });
}

describe('verdict rows', () => {
  it('show each layer’s verdict, causes and summary as the diagnosis gives them, the shown layer marked', () => {
    const d = run();
    const rows = verdictRows(d, 'gru_2');
    expect(rows.map((r) => [r.layer, r.layerClass, r.verdict, r.causes, r.iteration, r.current])).toEqual([
      ['lstm_1', 'LSTM', 'learning-long', [], 100, false],
      ['gru_2', 'GRU', 'not-learning', ['vanishing'], 100, true],
    ]);
    // The summary without the layer name the row already shows, otherwise word for word.
    for (const [i, row] of rows.entries()) {
      expect(`${row.layer}: ${row.summary}`).toBe(d.layers[i]!.summary);
      expect(row.summary).not.toMatch(/^(lstm_1|gru_2):/);
    }
    expect(rows[0]!.summary).toMatch(/^learning a long-term dependency \(loss 0\.1× the constant predictor/);
    expect(rows[0]!.summary).toContain('jacobian keeps 0.607 of its peak beyond 10 steps back');
    expect(rows[1]!.summary).toMatch(/^not learning; vanishing \(loss 0\.9× the constant predictor/);
    expect(verdictRows(d, null).some((r) => r.current)).toBe(false);
    expect(verdictRows({ ...d, layers: [] }, 'lstm_1')).toEqual([]);
  });

  it('keep a summary that does not start with its layer’s name whole', () => {
    expect(summaryText({ layer: 'a', summary: 'a: not learning (x)' })).toBe('not learning (x)');
    expect(summaryText({ layer: 'a', summary: 'ab: not learning' })).toBe('ab: not learning');
  });

  it('say in one line, without a server path, that the diagnosis failed', () => {
    const notice = diagnosisNotice(new Error('cannot read /srv/data/runs.gradscope (500)'));
    expect(notice).toBe(
      'The verdict could not be loaded: cannot read … (500). The views below do not depend on it.',
    );
    expect(notice).not.toContain('\n');
  });
});

/** sRGB relative luminance (WCAG 2.x). */
function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = Number.parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}

describe('verdict pills', () => {
  const css = readFileSync(new URL('../style.css', import.meta.url), 'utf8');
  const vars = new Map([...css.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6});/gi)].map((m) => [m[1]!, m[2]!]));
  const value = (v: string) => (v.startsWith('var(') ? vars.get(v.slice(6, -1))! : v);
  const pill = (verdict: Verdict) => {
    const block = new RegExp(`\\.verdict-${verdict} \\{([^}]*)\\}`).exec(css)?.[1] ?? '';
    return {
      fg: value(/(?:^|\s)color:\s*([^;]+);/.exec(block)?.[1] ?? ''),
      bg: value(/background:\s*([^;]+);/.exec(block)?.[1] ?? ''),
    };
  };

  it('name every verdict in words and give each its own colours, the text at WCAG AA contrast (≥ 4.5)', () => {
    expect(Object.keys(VERDICT_WORDS).sort()).toEqual([...VERDICTS].sort());
    const colours = VERDICTS.map(pill);
    for (const [i, { fg, bg }] of colours.entries()) {
      expect(fg, VERDICTS[i]).toMatch(/^#[0-9a-f]{6}$/i);
      expect(bg, VERDICTS[i]).toMatch(/^#[0-9a-f]{6}$/i);
      expect(contrast(fg, bg), VERDICTS[i]).toBeGreaterThanOrEqual(4.5);
    }
    expect(new Set(colours.map((c) => c.bg)).size).toBe(VERDICTS.length);
  });

  it('use the colours the issue names: learning-long green, learning-short amber, not-learning red', () => {
    // hue of the background: green ~140°, amber ~40°, red ~0°; insufficient-data grey (no saturation).
    const hue = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16) / 255) as [
        number,
        number,
        number,
      ];
      const max = Math.max(r, g, b);
      const min = Math.min(r, g, b);
      if (max - min < 0.05) return null;
      const d = max - min;
      const h = max === r ? ((g - b) / d) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4;
      return (h * 60 + 360) % 360;
    };
    expect(hue(pill('learning-long').bg)).toBeGreaterThan(100);
    expect(hue(pill('learning-long').bg)).toBeLessThan(160);
    expect(hue(pill('learning-short').bg)).toBeGreaterThan(30);
    expect(hue(pill('learning-short').bg)).toBeLessThan(55);
    expect(Math.min(hue(pill('not-learning').bg)!, 360 - hue(pill('not-learning').bg)!)).toBeLessThan(15);
    expect(hue(pill('insufficient-data').bg)).toBeNull();
  });
});

describe('a verdict as of the page frame (issue 24, live follow)', () => {
  const layer = {
    layer: 'gru_1',
    layerClass: 'GRU',
    verdict: 'learning-long' as const,
    causes: [],
    summary: 'gru_1: learning a long-term dependency',
    evidence: { iteration: 320, lossRatio: 0.1 } as LayerDiagnosis['evidence'],
    iterations: [
      { iteration: 280, verdict: 'not-learning' as const, causes: ['vanishing' as const], lossRatio: 0.98 },
      { iteration: 300, verdict: 'learning-short' as const, causes: [], lossRatio: 0.5 },
      { iteration: 320, verdict: 'learning-long' as const, causes: [], lossRatio: 0.1 },
    ],
  };
  it("is the diagnosis' own when the frame reached it, else the newest capture the frame reached", () => {
    expect(verdictAt(layer, null)).toMatchObject({ verdict: 'learning-long', iteration: 320, latest: true });
    expect(verdictAt(layer, 320)).toMatchObject({ verdict: 'learning-long', iteration: 320, latest: true });
    expect(verdictAt(layer, 310)).toEqual({
      verdict: 'learning-short',
      causes: [],
      iteration: 300,
      lossRatio: 0.5,
      latest: false,
    });
    const rows = verdictRows({ id: 'r', name: 'r', layers: [layer] }, null, 299);
    expect(rows[0]).toMatchObject({ verdict: 'not-learning', causes: ['vanishing'], iteration: 280 });
    expect(rows[0]!.summary).toContain('iteration 320');
  });
});
