// Installs a Debian package for a test prerequisite (scripts/ensure-chromium.mjs, scripts/ensure-postgres.mjs):
// apt-get as root, or through `sudo -n`. Exits the process with a message naming what to do when it cannot.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** `apt-get install` of `pkg` for `who` (the script's name, for messages). */
export function aptInstall(pkg, who, purpose) {
  if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
    console.error(`${who}: no apt-get on this machine; install ${pkg} by hand`);
    process.exit(1);
  }
  const root = process.getuid?.() === 0;
  const sudo = root ? [] : ['sudo', '-n'];
  const run = (args) => {
    const [cmd, ...rest] = [...sudo, ...args];
    execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  };
  console.error(`${who}: installing Debian ${pkg} for ${purpose}…`);
  try {
    run(['apt-get', 'update', '-qq']);
    run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', pkg]);
  } catch (err) {
    console.error(
      `${who}: apt-get install ${pkg} failed (${err.message}); ${root ? '' : 'run as root or '}install it by hand`,
    );
    process.exit(1);
  }
}
