// User errors: printed as one line, no stack trace, exit code 1.
export class UserError extends Error {
  override readonly name = 'UserError';
}
