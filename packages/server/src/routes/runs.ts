// Run management: rename, group and tag a run (PATCH /api/runs/:run) and delete it (DELETE), through the
// server's writable store. Behind the plugin's token like every route; without a store (ingest off) they say why they cannot.
import type { RunTag, RunWriter } from '@gradscope/store';
import type { FastifyInstance } from 'fastify';
import { httpError } from '../errors.js';
import * as S from '../schemas.js';

export function runRoutes(app: FastifyInstance, { store }: { store: RunWriter | undefined }): void {
  const writable = () => {
    if (store === undefined) {
      throw httpError(
        405,
        'this server has no writable store (it was started with ingest off): rename or delete runs with `gradscope runs`',
      );
    }
    return store;
  };

  app.patch<{ Params: { run: string }; Body: { name?: string } & RunTag }>(
    '/api/runs/:run',
    { schema: { params: S.runParams, body: S.patchRunBody, response: { 200: S.okResponse } } },
    async (req) => {
      const { name, group, params } = req.body;
      if (name === undefined && group === undefined && params === undefined)
        throw httpError(400, 'PATCH /api/runs/:run needs a name, group or params');
      const store = writable();
      // The tag first: it checks the run and the values, so a bad one changes nothing (not even the name).
      if (group !== undefined || params !== undefined)
        await store.tagRun(req.params.run, {
          ...(group !== undefined ? { group } : {}),
          ...(params !== undefined ? { params } : {}),
        });
      if (name !== undefined) await store.renameRun(req.params.run, name);
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
