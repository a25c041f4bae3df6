// Errors as the user sees them: the server's message, without file paths (they stay in the server's log).

/** `err`'s message with anything that looks like a file path (two or more segments) replaced by "…". */
export function userMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text
    .replace(/(?:[A-Za-z]:)?(?:[\\/][\w.@+~-]+){2,}[\\/]?/g, '…')
    .replace(/\s{2,}/g, ' ')
    .trim();
}
