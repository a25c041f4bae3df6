// Makes sure Debian's Chromium is installed for the viewer's end-to-end tests (playwright-core drives
// /usr/bin/chromium; `playwright install` cannot download browsers on these machines).
import { existsSync } from 'node:fs';
import { aptInstall } from './apt.mjs';

const CHROMIUM = process.env.GRADSCOPE_CHROMIUM ?? '/usr/bin/chromium';
if (existsSync(CHROMIUM)) process.exit(0);
if (process.env.GRADSCOPE_CHROMIUM) {
  console.error(`ensure-chromium: GRADSCOPE_CHROMIUM=${CHROMIUM} not found; set it to Chromium's path`);
  process.exit(1);
}
aptInstall('chromium', 'ensure-chromium', 'the end-to-end tests');
if (!existsSync(CHROMIUM)) {
  console.error(`ensure-chromium: chromium installed but ${CHROMIUM} is missing`);
  process.exit(1);
}
