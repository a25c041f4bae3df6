// The adding problem (Hochreiter & Schmidhuber 1997; Le et al. 2015): a sequence of U(0, 1) values with a
// marker channel that flags one timestep in each half; the target is the sum of the two flagged values.
// Predicting the mean (1) scores MSE = Var(U + U) = 2/12 ≈ 0.167; doing better needs the value flagged in the
// first half, at least T/2 timesteps before the end: a known long dependency.

/** mulberry32: a small seeded PRNG, so every cell of the memory set trains on exactly the same data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface AddingData {
  /** (samples, timesteps, 2) row-major: channel 0 the value, channel 1 the marker (0 or 1). */
  x: Float32Array;
  /** (samples, 1): the sum of the two marked values. */
  y: Float32Array;
  /** Marked timesteps per sample: [first-half index, second-half index]. */
  marks: [number, number][];
  samples: number;
  timesteps: number;
}

export function addingProblem(samples: number, timesteps: number, seed: number): AddingData {
  if (!Number.isInteger(timesteps) || timesteps < 2) throw new RangeError('timesteps must be ≥ 2');
  const r = prng(seed);
  const x = new Float32Array(samples * timesteps * 2);
  const y = new Float32Array(samples);
  const marks: [number, number][] = [];
  const half = Math.floor(timesteps / 2);
  for (let s = 0; s < samples; s++) {
    const row = s * timesteps * 2;
    for (let t = 0; t < timesteps; t++) x[row + 2 * t] = r();
    const a = Math.min(half - 1, Math.floor(r() * half));
    const b = half + Math.min(timesteps - half - 1, Math.floor(r() * (timesteps - half)));
    x[row + 2 * a + 1] = 1;
    x[row + 2 * b + 1] = 1;
    y[s] = x[row + 2 * a]! + x[row + 2 * b]!;
    marks.push([a, b]);
  }
  return { x, y, marks, samples, timesteps };
}

/** MSE of the best constant prediction (the targets' mean) on these targets: their population variance. */
export function meanPredictorMse(y: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < y.length; i++) mean += y[i]!;
  mean /= y.length;
  let v = 0;
  for (let i = 0; i < y.length; i++) v += (y[i]! - mean) ** 2;
  return v / y.length;
}
