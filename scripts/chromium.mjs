// Debian's Chromium, headless and loopback-only, for the end-to-end tests and the viewer bench.
// playwright-core drives it; `playwright install` cannot download browsers on these machines.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CHROMIUM = process.env.GRADSCOPE_CHROMIUM ?? '/usr/bin/chromium';

/** No first-run work, no background networking: the machines have no network but loopback. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
];

/** Launches Chromium with playwright-core's `chromium` (passed in: each package has its own copy), installing it if missing. */
export function launchChromium(chromium) {
  if (!existsSync(CHROMIUM)) {
    execFileSync(process.execPath, [fileURLToPath(new URL('./ensure-chromium.mjs', import.meta.url))], {
      stdio: 'inherit',
    });
  }
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
