// The gradscope command line: one file per command under ./commands, registered here.
import { Command } from 'commander';
import { registerCompact } from './commands/compact.js';
import { registerDemo } from './commands/demo.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExport } from './commands/export.js';
import { registerList } from './commands/list.js';
import { registerRuns } from './commands/runs.js';
import { registerServe } from './commands/serve.js';
import { registerVacuum } from './commands/vacuum.js';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command()
    .name('gradscope')
    .description('Record and inspect per-timestep RNN gradients of TensorFlow.js training runs')
    .version(VERSION)
    .showSuggestionAfterError(true);
  registerServe(program);
  registerList(program);
  registerDoctor(program);
  registerExport(program);
  registerRuns(program);
  registerVacuum(program);
  registerCompact(program);
  registerDemo(program);
  return program;
}
