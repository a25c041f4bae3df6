// Errors the routes raise and the one error handler that turns any error into a JSON answer a client can
// act on: a 4xx says what was wrong with the request; a 5xx says only what kind of failure it was (the
// details, file paths and stack included, go to the server log, never to the client).
import { StoreError } from '@gradscope/store';
import type { FastifyReply, FastifyRequest } from 'fastify';

/** What went wrong. */
export type ServerErrorCode =
  /** An option of buildServer or of the plugin is invalid: the message names it, the value and the rule. */
  | 'EINVAL'
  /** The host name does not resolve (the system's code; EAI_AGAIN when the resolver failed). */
  | 'ENOTFOUND'
  | 'EAI_AGAIN'
  /** The host is not an address of this machine. */
  | 'EADDRNOTAVAIL'
  /** The port is taken. */
  | 'EADDRINUSE'
  /** A request the routes refuse: `statusCode` says how (400, 404, 405, 413, 415, 503). */
  | 'EREQUEST';

/** The server's one error type: a code to branch on, and for a refused request the status it answers with. */
export class ServerError extends Error {
  override readonly name = 'ServerError';
  readonly code: ServerErrorCode;
  /** The HTTP status of a refused request (code EREQUEST). */
  readonly statusCode: number | undefined;
  /** Headers of that answer (e.g. Retry-After). */
  readonly headers: Record<string, string>;

  constructor(
    code: ServerErrorCode,
    message: string,
    options: { statusCode?: number; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.code = code;
    this.statusCode = options.statusCode;
    this.headers = options.headers ?? {};
  }
}

/** A request refused with `statusCode`. */
export const httpError = (statusCode: number, message: string, headers: Record<string, string> = {}) =>
  new ServerError('EREQUEST', message, { statusCode, headers });
export const notFound = (message: string) => httpError(404, message);
export const badRequest = (message: string) => httpError(400, message);

const STATUS_OF: Partial<Record<StoreError['code'], number>> = {
  ENOTFOUND: 404,
  EINVAL: 400,
  EFULL: 507,
  EREADONLY: 503,
  EBUSY: 503,
  EUNAVAILABLE: 503,
};

/** What a client is told about a server-side failure, by StoreError code; the rest is in the log. */
const PUBLIC_5XX: Partial<Record<StoreError['code'], string>> = {
  EFULL: 'the disk holding the store is full',
  EREADONLY: 'the store is read-only',
  EBUSY: 'the store is busy: retry in a moment',
  EUNAVAILABLE: "the store's database server cannot be reached: retry in a moment",
};

const NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
  507: 'Insufficient Storage',
};

/** The status an error answers with: its own, or by StoreError code; 500 for anything unexpected. */
export function statusOf(err: Error & { statusCode?: number }): number {
  if (err instanceof StoreError) return STATUS_OF[err.code] ?? 500;
  const status = err.statusCode;
  return typeof status === 'number' && status >= 400 && status <= 599 ? status : 500;
}

/** Fastify error handler: `{ error, message }` (and `requestId` for a 5xx), never a stack or a server path. */
export function errorHandler(err: Error & { statusCode?: number }, req: FastifyRequest, reply: FastifyReply) {
  const status = statusOf(err);
  // Every 5xx is logged, under the request's id (reqId), which its body carries as requestId.
  if (status >= 500) reply.log[status === 500 ? 'error' : 'warn']({ err, statusCode: status }, err.message);
  if (reply.sent || reply.raw.headersSent) return;
  if (err instanceof ServerError) reply.headers(err.headers);
  const message =
    status < 500 || err instanceof ServerError
      ? withoutFile(err)
      : ((err instanceof StoreError ? PUBLIC_5XX[err.code] : undefined) ??
        'the server failed to answer this request (the details are in its log)');
  reply.code(status).send({
    error: NAMES[status] ?? (status >= 500 ? 'Internal Server Error' : 'Error'),
    message,
    ...(status >= 500 ? { requestId: req.id } : {}),
  });
}

/** A StoreError's message names its database file; the client knows the store only as this server. */
function withoutFile(err: Error): string {
  if (!(err instanceof StoreError) || err.file === undefined) return err.message;
  return err.message.split(`${err.file}: `).join('').split(err.file).join('the store');
}
