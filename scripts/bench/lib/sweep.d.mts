// Types of sweep.mjs (a synthetic sweep written into a store) for the TypeScript tests that use it.
import type { RunInfo, Store } from '@gradscope/store';

export declare const SWEEP_CELLS: string[];
export declare const SWEEP_LRS: number[];
export declare const SWEEP_UNITS: number[];
export declare const SWEEP_CONFIGS: number;
export declare const SWEEP_BASELINE: number;
export declare const SWEEP_T: number;
export declare const SWEEP_ITERATIONS: number[];
export declare const SWEEP_LOSS_EVERY: number;

export interface SweepRun {
  id: string;
  name: string;
  group: string;
  params: {
    cell: string;
    units: number;
    lr: number;
    seed: number;
    optimizer: string;
    batchSize: number;
    epochs: number;
    loss: string;
    timesteps: number;
  };
  layer: string;
  cell: string;
  /** Decay of the gradients back in time at the last iteration. */
  tau: number;
  /** loss ÷ baseline at an iteration. */
  ratioAt(iteration: number): number;
  /** The training loss at a step. */
  lossAt(iteration: number): number;
  startedAt: number;
}

export declare function sweepRun(i: number): SweepRun;
export declare function sweepValue(
  run: SweepRun,
  kind: 'jacobian' | 'input-grad',
  iteration: number,
  t: number,
  c: number,
): number;
export declare function writeSweep(
  store: Store,
  n: number,
  options?: { running?: number },
): Promise<SweepRun[]>;
export declare function sweepRunInfo(run: SweepRun): RunInfo;
export declare function writeSweepRun(store: Store, run: SweepRun): Promise<void>;
