// Compiles src/summary.wat into src/summary-wasm.ts (the bytes as base64, loaded by summary.ts).
// Run after editing summary.wat: node packages/store/scripts/wasm.mjs. summary.test.ts fails while the two differ.
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

const wat = new URL('../src/summary.wat', import.meta.url);
const out = new URL('../src/summary-wasm.ts', import.meta.url);
const wabt = await wabtInit();
const module = wabt.parseWat('summary.wat', readFileSync(wat, 'utf8'), { simd: true });
module.validate();
const { buffer } = module.toBinary({});
module.destroy();
writeFileSync(
  out,
  `// Generated from summary.wat by scripts/wasm.mjs: do not edit (summary.test.ts checks that it matches).
/** The summary kernel, WebAssembly bytes in base64 (${buffer.length} bytes). */
export const SUMMARY_WASM =
  '${Buffer.from(buffer).toString('base64')}';
`,
);
console.log(`${out.pathname}: ${buffer.length} bytes of WebAssembly`);
