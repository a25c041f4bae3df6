// A run's group and parameters (RunInfo.group, RunInfo.params): the checks every surface applies to them
// (the callback, the store, the server, the CLI) and how a value is shown. docs/format.md lists the keys
// the callback reads itself.

/**
 * The parameters the callback reads from the model and the fit without being asked (RunInfo.params).
 * A key is left out when it cannot be read (e.g. `batchSize` under fitDataset). The user's own
 * `params` are merged over them: a user key of the same name wins.
 */
export const AUTO_PARAMS = {
  /** The cell class of the recurrent layers, e.g. 'GRU'; 'Bidirectional(GRU)'; several joined with '+' in model order. */
  cell: true,
  /** Units of the recurrent cell (per direction), a number when every recurrent layer has the same, else one per layer. */
  units: true,
  /** Number of recurrent layers. */
  recurrentLayers: true,
  /** Timesteps of the (first) model input, when fixed. */
  timesteps: true,
  /** The optimizer class, e.g. 'Adam'. */
  optimizer: true,
  /** The optimizer's learning rate (its getConfig().learningRate). */
  lr: true,
  /** The fit's batch size (the `params` tfjs passes callbacks). */
  batchSize: true,
  /** The fit's epochs. */
  epochs: true,
  /** The loss function's name, e.g. 'meanSquaredError' (one per output, joined with '+'). */
  loss: true,
} as const;
export type AutoParam = keyof typeof AUTO_PARAMS;

/** The longest group name (the server's limit on names). */
export const MAX_GROUP_LENGTH = 512;

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  return `a ${typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value}`;
}

type MakeError = (message: string) => Error;
const plainError: MakeError = (message) => new TypeError(message);

/** Checks a group name: a non-empty string of at most MAX_GROUP_LENGTH characters. */
export function checkGroup(value: unknown, where: string, error: MakeError = plainError): string {
  if (typeof value !== 'string' || value.trim() === '')
    throw error(
      `${where} must be a non-empty string (e.g. the seed-free name of a configuration), got ${show(value)}`,
    );
  if (value.length > MAX_GROUP_LENGTH)
    throw error(`${where} must be at most ${MAX_GROUP_LENGTH} characters, got ${value.length}`);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** How deep params may nest (a parameter is a value, not a document; the copy below recurses). */
const MAX_PARAMS_DEPTH = 32;

/** A deep JSON copy of `value`, or an error naming the path of the first value JSON cannot hold. */
function jsonCopy(value: unknown, path: string, error: MakeError, depth = 0): unknown {
  if (depth > MAX_PARAMS_DEPTH) throw error(`${path} nests deeper than ${MAX_PARAMS_DEPTH} levels`);
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw error(`${path} must be a finite number (JSON has no ${value}), got ${value}`);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => jsonCopy(v, `${path}[${i}]`, error, depth + 1));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = jsonCopy(v, `${path}.${k}`, error, depth + 1);
    return out;
  }
  throw error(
    `${path} must be JSON (a string, finite number, boolean, null, array or object), got ${show(value)}`,
  );
}

/**
 * Checks run parameters and returns a plain JSON copy: an object whose keys are non-empty and whose values
 * are JSON (finite numbers, strings, booleans, null, arrays, objects); the error names the first bad value.
 */
export function checkParams(
  value: unknown,
  where: string,
  error: MakeError = plainError,
): Record<string, unknown> {
  if (!isPlainObject(value))
    throw error(`${where} must be a JSON object such as { "lr": 0.005, "seed": 1 }, got ${show(value)}`);
  for (const key of Object.keys(value)) if (key === '') throw error(`${where} has an empty key`);
  return jsonCopy(value, where, error) as Record<string, unknown>;
}

/** A parameter value as text: strings as they are, numbers as JavaScript writes them, anything else as JSON. */
export function paramText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? String(value);
}
