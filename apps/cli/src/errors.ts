// The CLI's one error type: a wrong command line or a file the command cannot use. Printed as one line that
// names the flag, argument or file, the value and what was expected; no stack trace; exit code 1.

/** What went wrong. */
export type UserErrorCode =
  /** A flag or argument that is missing, unknown or malformed. */
  | 'EUSAGE'
  /** A file or run the command cannot use (missing, of another kind, not in the store). */
  | 'EINPUT';

export class UserError extends Error {
  override readonly name = 'UserError';
  readonly code: UserErrorCode;

  constructor(message: string, code: UserErrorCode = 'EUSAGE') {
    super(message);
    this.code = code;
  }
}
