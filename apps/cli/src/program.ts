// The gradscope command line: one file per command under ./commands, registered here.
import { Command } from 'commander';
import { registerDemo } from './commands/demo.js';
import { registerExport } from './commands/export.js';
import { registerList } from './commands/list.js';
import { registerServe } from './commands/serve.js';

export const VERSION = '0.1.0';

export function buildProgram(): Command {
  const program = new Command()
    .name('gradscope')
    .description('Record and inspect per-timestep RNN gradients of TensorFlow.js training runs')
    .version(VERSION)
    .showSuggestionAfterError(true);
  registerServe(program);
  registerList(program);
  registerExport(program);
  registerDemo(program);
  return program;
}
