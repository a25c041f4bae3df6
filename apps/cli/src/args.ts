// Parsing and printing shared by the commands.
import { UserError } from './errors.js';

export function parseIterations(text: string, flag = '--iterations'): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p))) {
    throw new UserError(
      `${flag} must be a comma-separated list of integers >= 0 (e.g. 20,200,400), got "${text}"`,
    );
  }
  return parts.map(Number);
}

export function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/** Commander's collector of a repeatable option (`--run a --run b`). */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
