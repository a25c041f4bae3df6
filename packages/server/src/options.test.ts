// An unknown option is an error in buildServer and in the plugin: a misspelt one is named, with the closest
// option it may mean, instead of being ignored (a misspelt `tokn` would have served without a token).
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReader } from '@gradscope/store';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, gradscopePlugin, MAX_PARAM_LENGTH, ServerError } from './index.js';
import { type Fixture, storeWith } from './test-util/fixture.js';

let fx: Fixture;
let dir: string;

beforeAll(async () => {
  fx = await storeWith([20]);
  dir = mkdtempSync(join(tmpdir(), 'gradscope-options-'));
});

afterAll(async () => {
  await fx?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

describe('buildServer', () => {
  it('refuses an unknown option before it opens or creates the store', async () => {
    const db = join(dir, 'new.gradscope');
    const built = buildServer({ db, port: 0, tokn: 'secret-token-123' } as never);
    await expect(built).rejects.toThrow(ServerError);
    await expect(built).rejects.toThrow("unknown option 'tokn' for buildServer; did you mean 'token'?");
    await expect(buildServer({ db, port: 0, ingestlimit: 1024 } as never)).rejects.toThrow(
      "unknown option 'ingestlimit' for buildServer; did you mean 'ingestLimit'?",
    );
    expect(existsSync(db)).toBe(false);
  });

  it('refuses a missing options object by name', async () => {
    await expect(buildServer(undefined as never)).rejects.toThrow(
      'the options of buildServer must be an object, got null',
    );
  });
});

describe('gradscopePlugin', () => {
  it("refuses an unknown option; Fastify's own register options (prefix, logLevel) pass", async () => {
    const reader = openReader(fx.db);
    const app = Fastify({ routerOptions: { maxParamLength: MAX_PARAM_LENGTH } });
    try {
      await app.register(gradscopePlugin, { reader, prefix: '/ok', logLevel: 'warn' });
      await app.ready();
      expect((await app.inject('/ok/api/runs')).statusCode).toBe(200);
      const bad = Fastify();
      bad.register(gradscopePlugin, { reader, allowedHost: ['gradscope.test'] } as never);
      await expect(bad.ready()).rejects.toThrow(
        new TypeError("unknown option 'allowedHost' for gradscopePlugin; did you mean 'allowedHosts'?"),
      );
      await bad.close().catch(() => {});
    } finally {
      await app.close();
      reader.close();
    }
  });
});
