// Makes sure Debian's Chromium is installed for the viewer's end-to-end tests (playwright-core drives
// /usr/bin/chromium; `playwright install` cannot download browsers on these machines).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.GRADSCOPE_CHROMIUM ?? '/usr/bin/chromium';
if (existsSync(CHROMIUM)) process.exit(0);
if (process.platform !== 'linux' || !existsSync('/usr/bin/apt-get')) {
  console.error(
    `ensure-chromium: ${CHROMIUM} not found; install Chromium and set GRADSCOPE_CHROMIUM to its path`,
  );
  process.exit(1);
}
const root = process.getuid?.() === 0;
const sudo = root ? [] : ['sudo', '-n'];
const run = (args) => {
  const [cmd, ...rest] = [...sudo, ...args];
  execFileSync(cmd, rest, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
};
console.error('ensure-chromium: installing Debian chromium for the end-to-end tests…');
try {
  run(['apt-get', 'update', '-qq']);
  run(['apt-get', 'install', '-y', '-qq', '--no-install-recommends', 'chromium']);
} catch (err) {
  console.error(
    `ensure-chromium: apt-get install chromium failed (${err.message}); ${root ? '' : 'run as root or '}install it by hand`,
  );
  process.exit(1);
}
if (!existsSync(CHROMIUM)) {
  console.error(`ensure-chromium: chromium installed but ${CHROMIUM} is missing`);
  process.exit(1);
}
