// The capture's one error type: a code to branch on, a message that names the option, input or request,
// the value and what was expected (or what failed).

/** What went wrong. */
export type GradscopeErrorCode =
  /** An option, argument or input the capture cannot use (a layer name, a probe shape, a callback option). */
  | 'EINVAL'
  /** A sink could not store what it was handed (HttpSink: the server refused it, or could not be reached). */
  | 'ESINK';

export class GradscopeError extends Error {
  override readonly name = 'GradscopeError';
  readonly code: GradscopeErrorCode;

  constructor(message: string, code: GradscopeErrorCode = 'EINVAL', options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
