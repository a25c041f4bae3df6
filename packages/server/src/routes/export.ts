// GET /api/runs/:run/export: a selection of a run as an Arrow or Parquet file, streamed. The selection is
// checked before the first byte goes out, so every error is still a 4xx with a message.
import { planExport, writeExport } from '@gradscope/export';
import type { Kind, Reader } from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import * as S from '../schemas.js';

export function exportRoutes(app: FastifyInstance, { reader }: { reader: Reader }): void {
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
      const plan = planExport(reader, {
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
      reply
        .type(plan.contentType)
        .header('content-disposition', `attachment; filename="${plan.files[0]!.name}"`);
      reply.hijack();
      reply.raw.writeHead(200, reply.getHeaders() as Record<string, string>);
      try {
        await writeExport(plan, reply.raw);
      } catch (err) {
        // Headers are out: break the connection so the client sees a failed download, not a short file.
        reply.log.error(err);
        reply.raw.destroy();
      }
    },
  );
}
