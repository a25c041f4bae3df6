#!/usr/bin/env node
// Entry point of the `gradscope` binary: runs the program and turns errors into one clear line.
import { StoreError } from '@gradscope/store';
import { UserError } from './errors.js';
import { buildProgram } from './program.js';

async function main(): Promise<number> {
  try {
    await buildProgram().parseAsync(process.argv);
    return 0;
  } catch (err) {
    if (err instanceof UserError || err instanceof StoreError) {
      process.stderr.write(`gradscope: ${err.message}\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`gradscope: unexpected error: ${e?.message ?? String(err)}\n`);
    if (process.env.GRADSCOPE_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    else process.stderr.write('(set GRADSCOPE_DEBUG=1 for the stack trace)\n');
    return 2;
  }
}

process.exitCode = await main();
