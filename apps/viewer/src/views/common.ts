// What every tensor figure shares: the compared snapshots, their cubes and labels, titles (the page's context is
// context.ts' ViewContext).
import type { SnapshotInfo } from '../api';
import { h } from '../dom';
import type { SampleChoice } from '../state';
import { type Cube, difference, type Tensor, toCube } from '../tensor';

/** One compared iteration: its snapshot, tensor and display label. */
export interface Compared {
  iteration: number;
  info: SnapshotInfo;
  tensor: Tensor;
  /** e.g. "iteration 200" or "iteration 200 − 20". */
  label: string;
}

/**
 * The cubes to draw: one per compared iteration; with `diff`, every one after the first minus the first (when
 * the shapes match; otherwise the raw values and a note saying why).
 */
export function comparedCubes(
  items: readonly Compared[],
  diff: boolean,
): { cubes: Cube[]; diffNote: string } {
  const cubes = items.map((it) => toCube(it.tensor));
  if (!diff || items.length < 2) return { cubes, diffNote: '' };
  const base = cubes[0]!;
  let note = '';
  const out = cubes.map((cube, i) => {
    if (i === 0) return cube;
    if (cube.data.length !== base.data.length) {
      note = `iteration ${items[i]!.iteration} has another shape than ${items[0]!.iteration}: shown as is`;
      return cube;
    }
    return { ...cube, data: difference(cube.data, base.data) };
  });
  return { cubes: out, diffNote: note };
}

/** Labels of the compared iterations ("iteration 200 − 20" in difference mode). */
export function comparedLabel(iteration: number, first: number, index: number, diff: boolean): string {
  return diff && index > 0 ? `iteration ${iteration} − ${first}` : `iteration ${iteration}`;
}

/** Samples to draw: all of them ('all', 'auto'), or the ones asked for (clamped to the tensor, each once). */
export function sampleList(samples: number, wanted: SampleChoice): number[] {
  if (wanted === 'all' || wanted === 'auto') return Array.from({ length: samples }, (_, i) => i);
  const list = (Array.isArray(wanted) ? wanted : [wanted]).map((s) => Math.max(0, Math.min(samples - 1, s)));
  return [...new Set(list)];
}

export function figureTitle(text: string): HTMLElement {
  return h('h2', { class: 'figure-title', 'data-png-text': '' }, text);
}

/** "timestep" → "Timestep". */
export function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
