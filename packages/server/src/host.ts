// The Host check against DNS rebinding: a page on evil.example whose name is made to resolve to 127.0.0.1
// reaches a loopback server as same-origin, but its requests still say `Host: evil.example`. Requests are
// answered only when their Host is an IP address this server was reached on, a loopback address, localhost
// (or a name under .localhost), or one of the names configured in `allowedHosts`. An IP address cannot be
// rebound (no name is looked up), so only names need to be listed.
import { isIP } from 'node:net';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** The name part of a Host header value: `[::1]:6006` → `::1`, `Example.org:80` → `example.org`. */
export function hostName(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') < 0 ? undefined : h.indexOf(']'));
  const colon = h.indexOf(':');
  return (colon >= 0 && h.indexOf(':', colon + 1) < 0 ? h.slice(0, colon) : h).replace(/\.$/, '');
}

const unmapped = (ip: string) => (ip.startsWith('::ffff:') ? ip.slice(7) : ip);

function isLoopbackIp(ip: string): boolean {
  const a = unmapped(ip);
  return isIP(a) === 4 ? a.startsWith('127.') : a === '::1';
}

/** Checks an `allowedHosts` list and returns it normalised (lower case; `.example.org` also allows its subdomains). */
export function checkAllowedHosts(hosts: unknown): string[] {
  if (hosts === undefined) return [];
  if (!Array.isArray(hosts)) throw new TypeError('"allowedHosts" option must be an array of host names');
  return hosts.map((h) => {
    if (typeof h !== 'string' || !/^\.?[a-z0-9]([a-z0-9.-]*[a-z0-9])?$|^\[?[0-9a-f:.]+\]?$/i.test(h)) {
      throw new TypeError(
        `"allowedHosts" option must hold host names without scheme or port (such as "gradscope.example.org"), got ${JSON.stringify(h)}`,
      );
    }
    return hostName(h);
  });
}

export function isAllowedHost(
  name: string,
  localAddress: string | undefined,
  allowed: readonly string[],
): boolean {
  if (name === 'localhost' || name.endsWith('.localhost')) return true;
  if (isIP(name) !== 0) {
    // 0.0.0.0 and :: reach this machine's own server when typed into a browser: an address, not a name.
    if (name === '0.0.0.0' || name === '::') return true;
    return isLoopbackIp(name) || (localAddress !== undefined && unmapped(localAddress) === unmapped(name));
  }
  return allowed.some((a) => a === name || (a.startsWith('.') && (name.endsWith(a) || name === a.slice(1))));
}

/** An onRequest hook answering 403 to a request whose Host header is not allowed. */
export function checkHost(allowed: readonly string[]) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const host = request.headers.host;
    if (host === undefined) return; // HTTP/1.0 or a direct client: no browser sends a request without one
    const name = hostName(host);
    if (isAllowedHost(name, request.socket?.localAddress, allowed)) return;
    return reply.code(403).send({
      error: 'Forbidden',
      message: `this gradscope server does not answer to Host ${JSON.stringify(name.slice(0, 100))}: reach it as localhost or by its address, or add the name to allowedHosts (gradscope serve --allowed-host NAME)`,
    });
  };
}
