// The training scalars of a run on PostgreSQL, bucketed as the SQLite reader buckets them (read/scalars.ts).
import type { ScalarSeries } from '@gradscope/format';
import type { ScalarsOptions } from '../provider.js';
import { bucketPoints, checkMaxPoints } from '../read/scalars.js';
import { type PgReadContext, RUN_KEY } from './read-context.js';

/** The training scalars of a run, one series per name (names in byte order), at most `maxPoints` points each. */
export async function scalars(
  c: PgReadContext,
  run: string,
  options: ScalarsOptions = {},
): Promise<ScalarSeries[]> {
  checkMaxPoints(options);
  const out = await c.q('reading scalars', async (p) => {
    // Names in byte order (as SQLite sorts them), whatever the database's collation.
    const { rows } = await p.query({
      name: options.names ? 'gs_scalars_named' : 'gs_scalars',
      text: `SELECT name, iteration, value, time FROM gradscope.scalars WHERE run_key = (${RUN_KEY})
             ${options.names ? 'AND name = ANY($2::text[])' : ''}
             ORDER BY name COLLATE "C", iteration, seq`,
      values: options.names ? [run, options.names] : [run],
      rowMode: 'array',
    });
    const out: ScalarSeries[] = [];
    let from = 0;
    while (from < rows.length) {
      const name = rows[from]![0] as string;
      let to = from;
      while (to < rows.length && rows[to]![0] === name) to++;
      const col = (j: number) => {
        const a = new Float64Array(to - from);
        for (let i = from; i < to; i++) a[i - from] = (rows[i]![j] as number | null) ?? Number.NaN;
        return a;
      };
      out.push({
        ...bucketPoints({ iterations: col(1), values: col(2), times: col(3) }, options.maxPoints),
        name,
      });
      from = to;
    }
    return out;
  });
  // No points: of a run without scalars, or of no run (NotFoundError).
  if (out.length === 0) await c.runKey(run);
  return out;
}
