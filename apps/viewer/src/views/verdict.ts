// The verdict of every recurrent layer of a run, at the top of its page: what GET /api/runs/:run/diagnosis
// answers (@gradscope/format's `diagnose`, run by the server; docs/diagnosis.md has the rules). Nothing is
// judged here: one row per layer shows the verdict, its causes and the summary sentence with the numbers it
// rests on (loss ÷ baseline, and how far the jacobian or input-grad reaches). A click on a row shows that layer.
import type { Cause, LayerDiagnosis, RunDiagnosis, Verdict } from '@gradscope/format';
import { h } from '../dom';
import { userMessage } from '../errors';

/** A verdict in words, for the pill's accessible name and tooltip (the pill shows the verdict itself). */
export const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  'learning-long': 'learning a long-term dependency',
  'learning-short': 'learning only short-term dependencies',
  'not-learning': 'not learning',
  'insufficient-data': 'not enough data to tell',
};

/** One layer's row, as shown. */
export interface VerdictRow {
  layer: string;
  layerClass: string;
  verdict: Verdict;
  causes: Cause[];
  /** The summary sentence without its leading "layer: " (the row names the layer already). */
  summary: string;
  /** The iteration the verdict is read at (the last capture with a probe loss); null when none. */
  iteration: number | null;
  /** The layer the page shows. */
  current: boolean;
}

/** The summary sentence of a layer, without the "layer: " it starts with. */
export function summaryText(layer: Pick<LayerDiagnosis, 'layer' | 'summary'>): string {
  const prefix = `${layer.layer}: `;
  return layer.summary.startsWith(prefix) ? layer.summary.slice(prefix.length) : layer.summary;
}

/** A layer's verdict as of an iteration: the diagnosis' own, or the one of an earlier capture. */
export interface VerdictAt {
  verdict: Verdict;
  causes: Cause[];
  iteration: number | null;
  lossRatio: number | null;
  /** False when it is an earlier capture's (the page's frame has not reached the diagnosis' iteration). */
  latest: boolean;
}

/**
 * A layer's verdict as of the page's frame (frame.ts: the newest iteration every view has reached; null: no
 * bound): the diagnosis' own when it was read at or before `upTo`, else the verdict its `iterations` hold for
 * the newest capture at or before `upTo` (the diagnosis is read at the last capture; the loss the page draws
 * beside it can lag, sent in batches).
 */
export function verdictAt(l: LayerDiagnosis, upTo: number | null): VerdictAt {
  const e = l.evidence;
  const own = {
    verdict: l.verdict,
    causes: l.causes,
    iteration: e.iteration,
    lossRatio: e.lossRatio,
    latest: true,
  };
  if (upTo === null || e.iteration === null || e.iteration <= upTo) return own;
  const earlier = l.iterations.filter((x) => x.iteration <= upTo).at(-1);
  if (!earlier) return own;
  return {
    verdict: earlier.verdict,
    causes: earlier.causes,
    iteration: earlier.iteration,
    lossRatio: earlier.lossRatio,
    latest: false,
  };
}

/** The rows of a run's diagnosis, in the server's order, the shown layer marked, as of the page's frame. */
export function verdictRows(
  run: RunDiagnosis,
  shownLayer: string | null,
  upTo: number | null = null,
): VerdictRow[] {
  return run.layers.map((l) => {
    const at = verdictAt(l, upTo);
    return {
      layer: l.layer,
      layerClass: l.layerClass,
      verdict: at.verdict,
      causes: at.causes,
      summary: at.latest
        ? summaryText(l)
        : `${VERDICT_WORDS[at.verdict]} at this capture${
            at.lossRatio === null ? '' : ` (loss ${Number(at.lossRatio.toPrecision(2))}× the baseline)`
          }; the verdict of iteration ${l.evidence.iteration} with its evidence follows once the loss reaches it.`,
      iteration: at.iteration,
      current: l.layer === shownLayer,
    };
  });
}

/** The one line shown instead of the rows when the diagnosis could not be loaded. */
export function diagnosisNotice(err: unknown): string {
  return `The verdict could not be loaded: ${userMessage(err)}. The views below do not depend on it.`;
}

/** What the verdict panel shows: the run's diagnosis, the error that kept it away, or nothing (cleared). */
export type VerdictState = RunDiagnosis | Error | null;

/**
 * Fills `root` (the run page's verdict panel) with one row per recurrent layer, or a one-line notice when the
 * diagnosis failed or has no layer; empties it for null. `pick` shows another layer (a row's click).
 */
export function renderVerdicts(
  root: HTMLElement,
  state: VerdictState,
  shownLayer: string | null,
  pick: (layer: string) => void,
  /** The page's frame (frame.ts): the verdicts as of that iteration; null: the diagnosis' own. */
  upTo: number | null = null,
): void {
  if (state === null) {
    root.replaceChildren();
    root.hidden = true;
    return;
  }
  root.hidden = false;
  if (state instanceof Error) {
    root.replaceChildren(h('p', { class: 'verdict-notice', role: 'status' }, diagnosisNotice(state)));
    return;
  }
  const rows = verdictRows(state, shownLayer, upTo);
  if (rows.length === 0) {
    root.replaceChildren(
      h('p', { class: 'verdict-notice' }, 'No recurrent layer recorded: there is no verdict to give.'),
    );
    return;
  }
  root.replaceChildren(
    h(
      'ul',
      { class: 'verdict-list', 'aria-label': 'verdict per recurrent layer' },
      rows.map((row) =>
        h(
          'li',
          {},
          verdictButton(row, pick),
          // The evidence the verdict rests on, drawn by views/evidence.ts once its series arrive.
          h('div', { class: 'evidence', 'data-layer': row.layer }),
        ),
      ),
    ),
  );
}

function verdictButton(row: VerdictRow, pick: (layer: string) => void): HTMLButtonElement {
  const button = h(
    'button',
    {
      type: 'button',
      class: `verdict-row${row.current ? ' current' : ''}`,
      'data-layer': row.layer,
      'data-verdict': row.verdict,
      'aria-current': row.current ? 'true' : null,
      title: row.current ? `${row.layer} is shown below` : `show ${row.layer}`,
    },
    h(
      'span',
      { class: 'verdict-layer' },
      h('span', { class: 'verdict-layer-name' }, row.layer),
      h(
        'span',
        { class: 'verdict-layer-class' },
        `${row.layerClass}${row.iteration === null ? '' : ` · at iteration ${row.iteration}`}`,
      ),
    ),
    h(
      'span',
      {
        class: `verdict-pill verdict-${row.verdict}`,
        title: VERDICT_WORDS[row.verdict],
      },
      row.verdict,
    ),
    h(
      'span',
      { class: 'verdict-causes' },
      row.causes.length === 0
        ? h('span', { class: 'verdict-no-cause' }, 'no cause found')
        : row.causes.map((c) => h('span', { class: 'verdict-cause' }, c)),
    ),
    h('span', { class: 'verdict-summary' }, row.summary),
  );
  button.addEventListener('click', () => {
    if (!row.current) pick(row.layer);
  });
  return button;
}
