// GET /api/runs/:run/export: a selection of a run as an Arrow or Parquet file, streamed. The selection is
// checked, and the first bytes made, before the headers go out: every failure until then is a 4xx/5xx with
// a message.
import { PassThrough } from 'node:stream';
import { planExport, writeExport } from '@gradscope/export';
import type { Kind, RunReader } from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import * as S from '../schemas.js';

export function exportRoutes(app: FastifyInstance, { reader }: { reader: RunReader }): void {
  app.get<{
    Params: { run: string };
    Querystring: {
      format?: 'arrow' | 'parquet';
      layout?: 'tensor' | 'long';
      layer?: string;
      kind?: Kind;
      part?: string;
      iterations?: string;
    };
  }>(
    '/api/runs/:run/export',
    { schema: { params: S.runParams, querystring: S.exportQuery } },
    async (req, reply) => {
      const { format = 'arrow', layout, layer, kind, part, iterations } = req.query;
      // planExport checks the whole request (run, selection, format with layout, one file's worth of
      // groups) before the first byte goes out, so every error is still a 4xx with a message.
      const plan = await planExport(reader, {
        run: req.params.run,
        format,
        // Default: the tensor layout for one (layer, kind) series of one shape, else one row per value.
        layout:
          layout ?? (format === 'parquet' || layer === undefined || kind === undefined ? 'long' : 'auto'),
        ...(layer !== undefined ? { layer } : {}),
        ...(kind !== undefined ? { kind } : {}),
        ...(part !== undefined ? { part } : {}),
        ...(iterations !== undefined ? { iterations: iterations.split(',').map(Number) } : {}),
      });
      // The status line and headers go out with the first byte: a failure before it (a damaged payload
      // in the first snapshot, the store gone) is still an error answer with a message, not a reset.
      let firstByte!: () => void;
      const started = new Promise<'bytes'>((resolve) => {
        firstByte = () => resolve('bytes');
      });
      const body = new PassThrough({
        transform(chunk, _encoding, callback) {
          firstByte();
          callback(null, chunk);
        },
      });
      const written = writeExport(plan, body);
      const first = await Promise.race([started, written.then(() => 'done' as const)]).catch(
        (err: unknown) => {
          body.destroy();
          throw err;
        },
      );
      if (first === 'bytes') {
        written.catch((err: unknown) => {
          // After the headers: a broken download (the client sees it fail) rather than a short file.
          if (!body.destroyed) {
            req.log.error({ err }, 'export failed after its first byte: the download is cut short');
            body.destroy(err as Error);
          }
        });
      }
      return reply
        .type(plan.contentType)
        .header('content-disposition', `attachment; filename="${plan.files[0]!.name}"`)
        .send(body);
    },
  );
}
