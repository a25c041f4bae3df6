// Numbers for the benches: the median of measurements, and deterministic gradient-like data to write.

/** The median of numbers (the mean of the middle two of an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** `n` deterministic float32 values from `seed` (xorshift32): signed, 1 to 10⁻⁶ in size, cycling over 7 decades. */
export function gradientValues(n, seed) {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = (x / 4294967296 - 0.5) * 10 ** -(i % 7);
  }
  return out;
}
