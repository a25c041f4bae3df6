#!/usr/bin/env node
// Entry point of `pnpm sweep`: runs the sweep's program with the gradscope command's one-line errors.
import { runProgram } from 'gradscope';
import { buildSweepProgram } from './sweep.js';

process.exitCode = await runProgram(buildSweepProgram(), 'gradscope sweep');
