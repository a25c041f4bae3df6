// gradscope serve logs (issue 23): JSON lines of each request and error on stderr by default, the level
// from --log-level, and never the token, whether sent as ?token=, a cookie or an Authorization header.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../dist/main.js', import.meta.url));
const TOKEN = 'serve-log-secret-77';
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gradscope-cli-serve-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `gradscope serve --create` on a new file, does `work` against its URL, stops it with Ctrl-C. */
async function served(args: string[], work: (url: string) => Promise<void>) {
  const proc = spawn(
    process.execPath,
    [MAIN, 'serve', join(dir, `${args.join('')}.gradscope`), '--create', '--port', '0', ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => {
    stdout += c.toString();
  });
  proc.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = once(proc, 'exit');
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${stdout}${stderr}`)), 30_000);
      proc.stdout!.on('data', () => {
        const m = /open (http:\/\/\S+?)\/(\?|\n)/.exec(stdout);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    await work(url);
  } finally {
    proc.kill('SIGINT');
  }
  const [code] = await exited;
  return { code, stdout, stderr };
}

describe('gradscope serve logs', () => {
  it('by default: a JSON line per request to stderr, without the token in any form', async () => {
    const r = await served(['--token', TOKEN], async (url) => {
      const first = await fetch(`${url}/api/runs?token=${TOKEN}`);
      expect(first.status).toBe(200);
      const cookie = first.headers.get('set-cookie')!.split(';')[0]!;
      expect((await fetch(`${url}/api/runs`, { headers: { cookie } })).status).toBe(200);
      expect(
        (await fetch(`${url}/api/health`, { headers: { authorization: `Bearer ${TOKEN}` } })).status,
      ).toBe(200);
      expect((await fetch(`${url}/api/runs`)).status).toBe(401);
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`?token=${TOKEN}`); // the URL to open is for the user, on stdout
    expect(r.stderr).not.toContain(TOKEN);
    const lines = r.stderr
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const done = lines.filter((l) => l.msg === 'request completed');
    expect(done.map((l) => l.res.statusCode)).toEqual([200, 200, 200, 401]);
    expect(lines.filter((l) => l.msg === 'incoming request').map((l) => l.req.url)).toEqual([
      '/api/runs?token=[redacted]',
      '/api/runs',
      '/api/health',
      '/api/runs',
    ]);
    for (const l of lines) expect(typeof l.time).toBe('number');
  });

  it('--log-level warn leaves the requests out; a level it does not know is refused in one line', async () => {
    const r = await served(['--log-level', 'warn'], async (url) => {
      expect((await fetch(`${url}/api/runs`)).status).toBe(200);
    });
    expect([r.code, r.stderr]).toEqual([0, '']);
    const bad = spawnSync(
      process.execPath,
      [MAIN, 'serve', join(dir, 'x.gradscope'), '--log-level', 'loud'],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(
      /argument 'loud' is invalid\. Allowed choices are fatal, error, warn, info, debug, trace, silent/,
    );
  });
});
