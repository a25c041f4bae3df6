// Hover readouts on uPlot charts: the point nearest the pointer (at the hovered x, the series closest in y)
// described in words, in the page's one tooltip.
import type uPlot from 'uplot';
import { hideReadout, showReadout } from './readout';

/**
 * A plugin showing `describe(dataIndex, seriesIndex)` for the point nearest the cursor; null: nothing.
 * Charts using it need `cursor.show` (the crosshair may be hidden with `x: false, y: false`).
 */
export function hoverReadout(
  describe: (idx: number, series: number, u: uPlot) => string[] | null,
): uPlot.Plugin {
  return {
    hooks: {
      setCursor: (u) => {
        const idx = u.cursor.idx;
        const top = u.cursor.top ?? -1;
        if (idx === null || idx === undefined || top < 0) {
          hideReadout();
          return;
        }
        let best = -1;
        let dist = Number.POSITIVE_INFINITY;
        for (let s = 1; s < u.series.length; s++) {
          if (u.series[s]!.show === false) continue;
          const v = (u.data[s] as ArrayLike<number | null>)[idx];
          if (v === null || v === undefined || !Number.isFinite(v)) continue;
          const d = Math.abs(u.valToPos(v, u.series[s]!.scale ?? 'y') - top);
          if (d < dist) {
            dist = d;
            best = s;
          }
        }
        const lines = best > 0 ? describe(idx, best, u) : null;
        if (!lines) {
          hideReadout();
          return;
        }
        u.root.setAttribute('data-readout', lines.join(' · '));
        const r = u.over.getBoundingClientRect();
        showReadout(lines, r.left + (u.cursor.left ?? 0), r.top + top);
      },
    },
  };
}

/** Cursor options for a chart with a hover readout: no crosshair, no drag zoom, no point markers. */
export const READOUT_CURSOR: uPlot.Cursor = {
  show: true,
  x: false,
  y: false,
  points: { show: false },
  drag: { x: false, y: false, setScale: false },
};
