// GET /api/outcomes: every run with the verdict of each recurrent layer, in one answer (the viewer's runs table
// of a sweep: 1,000 diagnosis requests would be 1,000 round trips). Each run's diagnosis reads the store's
// write-time summaries (diagnoseRun) and is kept per run until the run changes, so a live run being written
// costs one diagnosis per poll, not one per run in the store.
import {
  type Cause,
  decisiveReach,
  type LayerDiagnosis,
  type LayerOutcome,
  type OutcomesResponse,
  type RunOutcomeJson,
  type RunRecord,
} from '@gradscope/format';
import { diagnoseRun, type RunReader, StoreError } from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import { CACHED_LIVE } from '../cache.js';
import { badRequest } from '../errors.js';
import * as S from '../schemas.js';

/** Diagnoses computed between two turns of the event loop (about 2 ms each here). */
const YIELD_EVERY = 16;

/**
 * Runs diagnosed at once: on PostgreSQL each diagnosis waits on round trips, which overlap instead of adding
 * up; over SQLite (synchronous underneath) it changes nothing but the order the work is done in.
 */
const CONCURRENCY = 8;

/** A run's state as far as its diagnosis is concerned: any new snapshot or an end changes it. */
function fingerprint(run: RunRecord): string {
  return `${run.snapshots}:${run.lastIteration}:${run.endedAt}`;
}

/** The table's summary of one layer's diagnosis. */
export function layerOutcome(l: LayerDiagnosis): LayerOutcome {
  const reach = decisiveReach(l.evidence.reach);
  return {
    layer: l.layer,
    layerClass: l.layerClass,
    verdict: l.verdict,
    causes: [...l.causes] as Cause[],
    iteration: l.evidence.iteration,
    lossRatio:
      l.evidence.lossRatio !== null && Number.isFinite(l.evidence.lossRatio) ? l.evidence.lossRatio : null,
    reachKind: reach?.kind ?? null,
    reach: reach?.reach1e2 ?? null,
    farRatio: reach?.farRatio ?? null,
    timesteps: reach?.timesteps ?? null,
  };
}

/** Diagnoses of runs, each kept while the run is unchanged (runs no longer listed are dropped). */
export class OutcomeCache {
  private readonly byRun = new Map<
    string,
    { fingerprint: string; outcome: Promise<{ verdicts: LayerOutcome[]; error?: string }> }
  >();
  /** Diagnoses computed since the cache was made (a test reads it to see what was reused). */
  computed = 0;

  constructor(
    private readonly reader: RunReader,
    /** Where a run's failure goes (the server log): the client is told only what kind of failure it was. */
    private readonly logError: (err: unknown, run: string) => void = () => {},
  ) {}

  async outcomes(): Promise<OutcomesResponse> {
    // Awaited whether the reader answers at once or later (a provider over another database).
    const runs: RunRecord[] = await this.reader.listRuns();
    const listed = new Set(runs.map((r) => r.id));
    for (const id of this.byRun.keys()) if (!listed.has(id)) this.byRun.delete(id);
    // CONCURRENCY workers take the runs in turn, each answer written at its run's index (the order listed).
    // A SQLite reader answers synchronously underneath: a first answer over 1,000 runs is seconds of work, so
    // every YIELD_EVERY diagnoses all workers wait for one turn of the event loop (other requests, live
    // updates) instead of holding it throughout; one worker's setImmediate alone would not free it while the
    // others go on in microtasks.
    const out = new Array<RunOutcomeJson>(runs.length);
    let next = 0;
    let computedBefore = this.computed;
    let pause: Promise<void> | undefined;
    const work = async () => {
      for (let i = next++; i < runs.length; i = next++) {
        out[i] = await this.outcome(runs[i]!);
        if (pause === undefined && this.computed - computedBefore >= YIELD_EVERY) {
          computedBefore = this.computed;
          pause = new Promise<void>((resolve) =>
            setImmediate(() => {
              pause = undefined;
              resolve();
            }),
          );
        }
        if (pause !== undefined) await pause;
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, runs.length) }, work));
    return { runs: out };
  }

  private async outcome(run: RunRecord): Promise<RunOutcomeJson> {
    const fp = fingerprint(run);
    let hit = this.byRun.get(run.id);
    if (hit === undefined || hit.fingerprint !== fp) {
      // The promise is kept, so that two requests at once diagnose a run once.
      hit = { fingerprint: fp, outcome: this.diagnose(run.id) };
      this.byRun.set(run.id, hit);
    }
    const { verdicts, error } = await hit.outcome;
    return { ...run, verdicts, ...(error === undefined ? {} : { diagnosisError: error }) };
  }

  private async diagnose(id: string): Promise<{ verdicts: LayerOutcome[]; error?: string }> {
    this.computed++;
    try {
      return { verdicts: (await diagnoseRun(this.reader, id)).layers.map(layerOutcome) };
    } catch (err) {
      this.logError(err, id);
      // One unreadable run does not fail the table; the client is told what kind of failure it was, never a
      // path (the details are in the server log).
      if (err instanceof StoreError && err.code === 'ENOTFOUND')
        return { verdicts: [], error: 'the run was deleted while it was being read' };
      return { verdicts: [], error: 'the run could not be diagnosed (see the server log)' };
    }
  }
}

export function outcomeRoutes(app: FastifyInstance, { reader }: { reader: RunReader }): void {
  const cache = new OutcomeCache(reader, (err, run) =>
    app.log.error({ err, run }, `GET /api/outcomes: the diagnosis of run ${run} failed`),
  );
  // Runs carry their status: cached only briefly, like GET /api/runs.
  app.get(
    '/api/outcomes',
    { config: CACHED_LIVE, schema: { response: { 200: S.outcomesResponse } } },
    async (req) => {
      const unknown = Object.keys((req.query as Record<string, unknown>) ?? {});
      if (unknown.length > 0)
        throw badRequest(
          `GET /api/outcomes takes no query parameters, got ${unknown.map((k) => `'${k}'`).join(', ')}`,
        );
      return cache.outcomes();
    },
  );
}
