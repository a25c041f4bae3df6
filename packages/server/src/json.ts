// JSON for the routes: non-finite numbers as null (JSON has no NaN, and a run whose loss went NaN is the
// one a user most needs to open). Typed arrays travel as base64 matrices: the routes use
// @gradscope/format's encodeMatrix, the codec the viewer decodes with (one codec both ends).
import { SerializerSelector } from '@fastify/fast-json-stringify-compiler';

/** NaN, Infinity and -Infinity become null; every other number stays as it is. */
export const finiteOrNull = (v: number | null | undefined): number | null =>
  typeof v === 'number' && Number.isFinite(v) ? v : null;

/** A copy of `value` with every non-finite number replaced by null (objects and arrays, any depth). */
export function withFiniteNumbers(value: unknown): unknown {
  if (typeof value === 'number') return finiteOrNull(value);
  if (value === null || typeof value !== 'object') return value;
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>, finiteOrNull);
  if (Array.isArray(value)) return value.map(withFiniteNumbers);
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = withFiniteNumbers(v);
  return out;
}

/**
 * Fastify's own response serializer (fast-json-stringify, driven by the route's response schema), which
 * throws on NaN, with a second try on a copy whose non-finite numbers are null. The copy is made only
 * when the first try fails, so finite responses cost nothing extra.
 */
export function finiteSerializerCompiler() {
  const compile = SerializerSelector()();
  return (route: { schema?: unknown; method: string; url: string; httpStatus?: string }) => {
    const serialize = compile({ ...route, httpStatus: route.httpStatus ?? 'default' });
    return (data: unknown): string => {
      try {
        return serialize(data);
      } catch (err) {
        const finite = withFiniteNumbers(data);
        if (finite === data) throw err;
        return serialize(finite);
      }
    };
  };
}
