#!/usr/bin/env node
// Entry point of `pnpm demo`: runs the demo's program with the gradscope command's one-line errors.
import { runProgram } from 'gradscope';
import { buildDemoProgram } from './program.js';

process.exitCode = await runProgram(buildDemoProgram(), 'gradscope demo');
