// Bearer-token check for every route of the plugin (API, SSE, static files). A browser cannot put a header
// on a page load, an <img> or an EventSource, so a valid `?token=` is also accepted once and turned into a
// same-site HttpOnly cookie, scoped to the plugin's prefix, that later requests carry.
import { timingSafeEqual } from 'node:crypto';
import { fastifyCookie } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';

const COOKIE = 'gradscope_token';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The token cookie, parsed by @fastify/cookie when the plugin registered it (request.cookies) or by its
 * parser here; a value that is not valid percent-encoding stays as sent (and so does not match).
 */
function cookieToken(request: FastifyRequest): string | undefined {
  const cookies =
    (request as { cookies?: Record<string, string | undefined> }).cookies ??
    (request.headers.cookie ? fastifyCookie.parse(request.headers.cookie) : {});
  return cookies[COOKIE];
}

function queryToken(url: string): string | undefined {
  const q = url.indexOf('?');
  return q < 0 ? undefined : (new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined);
}

export interface RequireTokenOptions {
  /** Path of the cookie set after a valid `?token=`: the plugin's prefix. Default `/`. */
  cookiePath?: string;
}

/** An onRequest hook refusing requests without the token, with 401 and a JSON body saying how to send it. */
export function requireToken(token: string, options: RequireTokenOptions = {}) {
  const cookie = `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=${options.cookiePath ?? '/'}`;
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ') && same(header.slice(7), token)) return;
    const fromCookie = cookieToken(request);
    if (fromCookie !== undefined && same(fromCookie, token)) return;
    const fromQuery = queryToken(request.url);
    if (fromQuery !== undefined && same(fromQuery, token)) {
      reply.header('set-cookie', cookie);
      return;
    }
    reply.header('www-authenticate', 'Bearer realm="gradscope"');
    return reply.code(401).send({
      error: 'Unauthorized',
      message:
        'this gradscope server needs its token: send "Authorization: Bearer <token>", or open the page once with ?token=<token>',
    });
  };
}
