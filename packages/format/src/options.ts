// Unknown options are errors: every public function that takes an options object checks its keys here, so a
// misspelt option ('captur') fails naming it and the closest known one instead of being silently ignored.

/**
 * Every key of an options interface, each once, as a value the check can read:
 * `const KEYS = { url: true, token: true } as const satisfies OptionKeys<HttpSinkOptions>` stops compiling
 * when the interface gains, loses or renames a key, so the interface stays the one list of options.
 */
export type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions. */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: distance between a[0..i) and b[0..j); three rows are enough for the transposition look-back.
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The known name `name` most likely misspells, or undefined when none is close: compared without case,
 * '-' and '_' (so `run_name` and `runname` find `runName`), within 2 edits and fewer than half its letters.
 */
export function closestName(name: string, known: Iterable<string>): string | undefined {
  const plain = (s: string) => s.toLowerCase().replace(/[-_]/g, '');
  const wanted = plain(name);
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(wanted, plain(candidate));
    if (d < bestDistance && d <= 2 && d * 2 < Math.max(wanted.length, 1)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Throws when `given` is not an options object or has a key `known` does not list, naming `where`, the
 * option and the closest known one: "unknown option 'captur' for gradientCallback; did you mean 'capture'?".
 * `undefined` passes (the caller's defaults apply). `error` makes the package's own error class.
 */
export function checkOptions(
  given: unknown,
  known: Readonly<Record<string, true>> | readonly string[],
  where: string,
  error: (message: string) => Error = (message) => new TypeError(message),
): void {
  if (given === undefined) return;
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    const got = Array.isArray(given) ? 'an array' : given === null ? 'null' : typeof given;
    throw error(`the options of ${where} must be an object, got ${got}`);
  }
  const names: readonly string[] = Array.isArray(known) ? known : Object.keys(known);
  const unknown = Object.keys(given).filter((key) => !names.includes(key));
  if (unknown.length === 0) return;
  const [first] = unknown as [string, ...string[]];
  const near = closestName(first, names);
  const hint =
    near !== undefined
      ? `did you mean '${near}'?`
      : `its options are ${names.map((n) => `'${n}'`).join(', ')}`;
  const more =
    unknown.length > 1
      ? ` (also unknown: ${unknown
          .slice(1)
          .map((n) => `'${n}'`)
          .join(', ')})`
      : '';
  throw error(`unknown option '${first}' for ${where}; ${hint}${more}`);
}
