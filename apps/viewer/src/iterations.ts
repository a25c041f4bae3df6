// Which iterations to compare.

/** See RNN's examples compare 20, 200 and 400 training iterations. */
export const SEE_RNN_ITERATIONS = [20, 200, 400] as const;
export const MAX_COMPARED = 4;

/**
 * Default iterations to compare: 20, 200 and 400 when the run has all three, else the first, middle and last
 * recorded ones (fewer when the run has fewer). `available` must be ascending.
 */
export function defaultIterations(available: readonly number[]): number[] {
  if (available.length === 0) return [];
  const have = new Set(available);
  if (SEE_RNN_ITERATIONS.every((i) => have.has(i))) return [...SEE_RNN_ITERATIONS];
  const picks = [
    available[0]!,
    available[Math.floor((available.length - 1) / 2)]!,
    available[available.length - 1]!,
  ];
  return [...new Set(picks)];
}

/**
 * The iterations to show: the wanted ones that exist (ascending order kept as given, duplicates dropped, at most
 * MAX_COMPARED), or the defaults when none of them exist. When `follow` is set the last one becomes the newest
 * recorded iteration, so a live view keeps up with training.
 */
export function resolveIterations(
  wanted: readonly number[],
  available: readonly number[],
  follow = false,
): number[] {
  const have = new Set(available);
  let picked = [...new Set(wanted.filter((i) => have.has(i)))].slice(0, MAX_COMPARED);
  if (picked.length === 0) picked = defaultIterations(available);
  if (follow && available.length > 0) {
    const newest = available[available.length - 1]!;
    if (!picked.includes(newest)) {
      if (picked.length >= MAX_COMPARED || picked.length > 1) picked[picked.length - 1] = newest;
      else picked.push(newest);
    }
  }
  return picked;
}

/**
 * Arrow-key stepping: the last compared iteration moves to the next (`dir` 1) or previous (-1) recorded one,
 * skipping those already compared and staying after the one before it; null at either end (nothing to do).
 * `available` must be ascending.
 */
export function stepIteration(
  chosen: readonly number[],
  available: readonly number[],
  dir: 1 | -1,
): number[] | null {
  if (chosen.length === 0 || available.length === 0) return null;
  const last = chosen[chosen.length - 1]!;
  const floor = chosen.length > 1 ? chosen[chosen.length - 2]! : Number.NEGATIVE_INFINITY;
  const taken = new Set(chosen);
  let i = available.indexOf(last);
  if (i < 0) return null;
  for (i += dir; i >= 0 && i < available.length; i += dir) {
    const it = available[i]!;
    if (it <= floor) return null;
    if (!taken.has(it)) return [...chosen.slice(0, -1), it];
  }
  return null;
}
