// The memory set over several seeds: seed 1 is the gallery's run as before; each further seed is the same
// configuration on other data and initial weights, grouped with seed 1 under the cell's run name.
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MEMORY_SEEDS,
  demoRuns,
  MAX_MEMORY_SEEDS,
  MEMORY_RUNS,
  memoryRuns,
  SIZES,
} from './examples.js';
import { MEMORY_SEED, memorySeed } from './train.js';

describe('memoryRuns at several seeds', () => {
  it('seed 1 unchanged, then each cell at seeds 2 and 3, grouped by the seed-1 name, without gallery entries', () => {
    const one = memoryRuns(SIZES.default);
    const three = memoryRuns(SIZES.default, 3);
    expect(DEFAULT_MEMORY_SEEDS).toBe(1);
    expect(three.slice(0, 3)).toEqual(one);
    expect(three.map((r) => [r.name, r.group, r.seed, r.gallery.length > 0])).toEqual([
      ['memory-lstm', 'memory-lstm', 1, true],
      ['memory-gru', 'memory-gru', 1, true],
      ['memory-simplernn', 'memory-simplernn', 1, true],
      ['memory-lstm-s2', 'memory-lstm', 2, false],
      ['memory-gru-s2', 'memory-gru', 2, false],
      ['memory-simplernn-s2', 'memory-simplernn', 2, false],
      ['memory-lstm-s3', 'memory-lstm', 3, false],
      ['memory-gru-s3', 'memory-gru', 3, false],
      ['memory-simplernn-s3', 'memory-simplernn', 3, false],
    ]);
    expect(one.map((r) => r.name)).toEqual([...MEMORY_RUNS]);
    expect(demoRuns(SIZES.tiny, 2).length - demoRuns(SIZES.tiny).length).toBe(3);
  });

  it('seeds of data and weights: MEMORY_SEED at seed 1, 7919 apart after, clear of the probe seed', () => {
    const [lstm1, , , lstm2, , , lstm3] = memoryRuns(SIZES.full, 3);
    expect([memorySeed(lstm1!), memorySeed(lstm2!), memorySeed(lstm3!)]).toEqual([
      2026,
      2026 + 7919,
      2026 + 2 * 7919,
    ]);
    expect(memorySeed(lstm1!)).toBe(MEMORY_SEED);
    // The data of seed s uses memorySeed + done for done < iterations (2000 at --full): below seed s + 1's.
    expect(memorySeed(lstm1!) + SIZES.full.memory.iterations).toBeLessThan(memorySeed(lstm2!));
    // The last seed --seeds takes: its data seeds stay below the probe's, MEMORY_SEED + 1,000,003.
    const last = memoryRuns(SIZES.full, MAX_MEMORY_SEEDS).at(-1)!;
    expect(last.seed).toBe(MAX_MEMORY_SEEDS);
    expect(memorySeed(last) + SIZES.full.memory.iterations).toBeLessThan(MEMORY_SEED + 1_000_003);
  });
});
