// The labelled benchmark's task: delayed recall. Each sequence has three channels: the value to recall on
// channel 0 at one timestep (the cue) and 0 elsewhere, a marker on channel 1 flagging the cue, and noise
// in (−1, 1) on channel 2 at every timestep; the target is the value, to be output after the last timestep. The cue's position fixes the dependency's
// lag (timesteps from the cue to the last input), so a run's truth is known from the task and its measured
// outcome. With `independent` targets the target is drawn apart from the inputs: nothing to learn.
import { meanPredictorMse, prng } from '../adding.js';

export interface RecallTask {
  timesteps: number;
  /** Timesteps where the cue may be shown, inclusive: the lags are T − 1 − cue.last … T − 1 − cue.first. */
  cue: { first: number; last: number };
  /** Targets drawn independently of the inputs (the cue is still shown): nothing to learn. */
  independent?: boolean;
}

export interface RecallData {
  /** (samples, timesteps, CHANNELS) row-major: the value at the cue, the marker (0 or 1), the noise. */
  x: Float32Array;
  /** (samples, 1): the cued value (or, for independent targets, an unrelated one), uniform in (−1, 1). */
  y: Float32Array;
  /** The cue's timestep per sample. */
  cues: Int32Array;
  samples: number;
  timesteps: number;
}

/** Channels of every timestep: value (at the cue), marker, noise. */
export const CHANNELS = 3;

/** The shortest and longest lag of a task: timesteps between the cue and the last input. */
export function lagRange(task: RecallTask): { min: number; max: number } {
  return { min: task.timesteps - 1 - task.cue.last, max: task.timesteps - 1 - task.cue.first };
}

export function checkTask(task: RecallTask): void {
  const { timesteps: T, cue } = task;
  if (!Number.isInteger(T) || T < 2) throw new RangeError(`timesteps must be an integer ≥ 2, got ${T}`);
  if (
    !Number.isInteger(cue.first) ||
    !Number.isInteger(cue.last) ||
    cue.first < 0 ||
    cue.last < cue.first ||
    cue.last >= T
  )
    throw new RangeError(`cue must be 0 ≤ first ≤ last < ${T}, got ${cue.first}…${cue.last}`);
}

/** `samples` sequences of the task from `seed` (mulberry32: the same data on every machine). */
export function delayedRecall(samples: number, task: RecallTask, seed: number): RecallData {
  checkTask(task);
  const T = task.timesteps;
  const span = task.cue.last - task.cue.first + 1;
  const r = prng(seed);
  // A second stream for independent targets, so the inputs are the same as the dependent task's.
  const other = prng(seed ^ 0x5bd1e995);
  const x = new Float32Array(samples * T * CHANNELS);
  const y = new Float32Array(samples);
  const cues = new Int32Array(samples);
  for (let s = 0; s < samples; s++) {
    const row = s * T * CHANNELS;
    for (let t = 0; t < T; t++) x[row + CHANNELS * t + 2] = 2 * r() - 1;
    const cue = task.cue.first + Math.min(span - 1, Math.floor(r() * span));
    const value = 2 * r() - 1;
    x[row + CHANNELS * cue] = value;
    x[row + CHANNELS * cue + 1] = 1;
    cues[s] = cue;
    y[s] = task.independent ? 2 * other() - 1 : value;
  }
  return { x, y, cues, samples, timesteps: T };
}

/** MSE of the best constant prediction on these targets (their variance): the outcome's baseline. */
export const constantPredictorMse = meanPredictorMse;
