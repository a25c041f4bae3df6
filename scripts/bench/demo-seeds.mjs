// The demo's memory set over seeds (issue 27): `pnpm demo --set memory --no-serve --seeds N` at the
// default size (--quick: tiny) for N = 1 and N = 3, run as a user would through the built demo on the wasm
// backend with its default workers (one per core). Reports the wall time and the CPU time of each (the CPU
// time is what another seed costs whatever else the machine is doing), and the doctor's groups of the 3 seeds.
// Run alone: pnpm bench --only demo-seeds [--write].
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const DEMO = join(root, 'apps/demo/dist/main.js');

const load = () =>
  loadavg()
    .map((v) => v.toFixed(1))
    .join(' ');

/** One demo run: wall and CPU seconds (GNU time's user + system of the process and its threads). */
function demo(size, seeds, db, log) {
  rmSync(db, { force: true });
  const before = load();
  const t0 = performance.now();
  const res = spawnSync(
    '/usr/bin/time',
    [
      '-f',
      'cpu %U %S',
      process.execPath,
      DEMO,
      '--size',
      size,
      '--set',
      'memory',
      '--no-serve',
      '--seeds',
      String(seeds),
      '--db',
      db,
      '--force',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  const wall = (performance.now() - t0) / 1000;
  if (res.status !== 0)
    throw new Error(`demo --seeds ${seeds} failed (${res.status}): ${res.stderr.slice(-2000)}`);
  const [, user, system] = /cpu ([\d.]+) ([\d.]+)/.exec(res.stderr) ?? [];
  const cpu = Number(user) + Number(system);
  log(`--seeds ${seeds}: ${wall.toFixed(0)} s wall, ${cpu.toFixed(0)} s CPU, load ${before} → ${load()}`);
  return { wall, cpu, before, after: load(), stderr: res.stderr };
}

export async function run({ quick, log }) {
  const size = quick ? 'tiny' : 'default';
  const dir = join(root, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const one = demo(size, 1, join(dir, 'demo-seeds-1.gradscope'), log);
  const three = demo(size, 3, join(dir, 'demo-seeds-3.gradscope'), log);
  // The doctor's group lines the demo prints at the end (--seeds 3).
  const groups = three.stderr
    .split('\n')
    .filter((l) => /^ {2}memory-\w+: layer 1 /.test(l))
    .map((l) => `- ${l.trim()}`);
  const shape = `${size} size, memory set (adding problem${quick ? '' : ', T = 50, 16 units, 500 steps of 64'}), wasm, one worker per core`;
  const rows = [
    {
      suite: 'demo-seeds',
      metric: 'demo --set memory --seeds 1 (3 runs): wall time',
      value: one.wall,
      unit: 's',
      aim: 'the whole default demo ≤ 240 s',
      note: `${shape}; ${one.cpu.toFixed(0)} s CPU; load average ${one.before} → ${one.after}`,
    },
    {
      suite: 'demo-seeds',
      metric: 'demo --set memory --seeds 3 (9 runs): wall time',
      value: three.wall,
      unit: 's',
      aim: 'opt-in (--seeds)',
      note: `${shape}; ${three.cpu.toFixed(0)} s CPU; load average ${three.before} → ${three.after}`,
    },
    {
      suite: 'demo-seeds',
      metric: 'CPU time of --seeds 3 ÷ --seeds 1',
      value: three.cpu / one.cpu,
      unit: 'ratio',
      aim: '≈ 3',
      note: `${three.cpu.toFixed(0)} s vs ${one.cpu.toFixed(0)} s: each seed adds about the memory set's cost at one seed`,
    },
  ];
  const section = [
    "## The demo's memory set over 3 seeds",
    '',
    `\`pnpm demo --set memory --seeds 3\` (${size} size): \`gradscope doctor --group-by group\` as the demo prints it at the end, one line per cell over its 3 seeds:`,
    '',
    ...groups,
  ].join('\n');
  return { rows, section };
}
