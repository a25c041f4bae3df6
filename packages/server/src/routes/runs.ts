// Run management: rename and delete a run (PATCH / DELETE /api/runs/:run), through the server's writable
// store. Behind the plugin's token like every route; without a store (ingest off) they say why they cannot.
import type { Store } from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import { HttpError } from '../errors.js';
import * as S from '../schemas.js';

export function runRoutes(app: FastifyInstance, { store }: { store: Store | undefined }): void {
  const writable = () => {
    if (store === undefined) {
      throw new HttpError(
        405,
        'this server has no writable store (it was started with ingest off): rename or delete runs with `gradscope runs`',
      );
    }
    return store;
  };

  app.patch<{ Params: { run: string }; Body: { name: string } }>(
    '/api/runs/:run',
    { schema: { params: S.runParams, body: S.renameBody, response: { 200: S.okResponse } } },
    async (req) => {
      await writable().renameRun(req.params.run, req.body.name);
      return { ok: true };
    },
  );

  app.delete<{ Params: { run: string } }>(
    '/api/runs/:run',
    { schema: { params: S.runParams, response: { 200: S.okResponse } } },
    async (req) => {
      await writable().deleteRun(req.params.run);
      return { ok: true };
    },
  );
}
