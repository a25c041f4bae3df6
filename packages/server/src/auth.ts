// Bearer-token check for every route (API, SSE, static files). A browser cannot put a header on a page
// load, an <img> or an EventSource, so a valid `?token=` is also accepted once and turned into a
// same-site HttpOnly cookie that later requests carry.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

const COOKIE = 'gradscope_token';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(header: string | undefined): string | undefined {
  for (const part of header?.split(';') ?? []) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function queryToken(url: string): string | undefined {
  const q = url.indexOf('?');
  return q < 0 ? undefined : (new URLSearchParams(url.slice(q + 1)).get('token') ?? undefined);
}

/** An onRequest hook refusing requests without the token, with 401 and a JSON body saying how to send it. */
export function requireToken(token: string) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer ') && same(header.slice(7), token)) return;
    const fromCookie = cookieToken(request.headers.cookie);
    if (fromCookie !== undefined && same(fromCookie, token)) return;
    const fromQuery = queryToken(request.url);
    if (fromQuery !== undefined && same(fromQuery, token)) {
      reply.header('set-cookie', `${COOKIE}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
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
