// The error every user-facing check throws: its message names the option or input, the value and what was expected.
export class GradscopeError extends Error {
  override name = 'GradscopeError';
}
