#!/usr/bin/env node
// Entry point of the `gradscope` binary: runs the program and turns errors into one clear line.
import { buildProgram, runProgram } from './program.js';

process.exitCode = await runProgram(buildProgram());
