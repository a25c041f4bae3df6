// The gradscope command line: one file per command under ./commands, registered here, and the run of a
// program that turns errors into one clear line.
import { StoreError } from '@gradscope/store';
import { Command } from 'commander';
import { registerCompact } from './commands/compact.js';
import { registerCopy } from './commands/copy.js';
import { registerDoctor } from './commands/doctor.js';
import { registerExport } from './commands/export.js';
import { registerList } from './commands/list.js';
import { registerRuns } from './commands/runs.js';
import { registerServe } from './commands/serve.js';
import { registerVacuum } from './commands/vacuum.js';
import { UserError } from './errors.js';

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
  registerCopy(program);
  registerMovedDemo(program);
  return program;
}

/**
 * `gradscope demo` was a command until the demo became its own app (apps/demo): it trains with tfjs, which
 * the gradscope command does not install. Hidden, it takes whatever follows and says where the demo is now,
 * with the same arguments.
 */
function registerMovedDemo(program: Command): void {
  program
    .command('demo', { hidden: true })
    .description('moved out of the gradscope command: `pnpm demo` in a clone of the gradscope repository')
    .allowUnknownOption()
    .allowExcessArguments()
    .helpOption(false)
    .action((_opts, command: Command) => {
      const rest = command.args.length > 0 ? ` ${command.args.join(' ')}` : '';
      throw new UserError(
        `the demo is not part of the gradscope command (it trains with tfjs, which gradscope does not install): in a clone of the gradscope repository run \`pnpm demo${rest}\``,
      );
    });
}

/**
 * Runs `program` on `argv` and answers the exit code: 0, or 1 after a user error (a wrong flag, a missing
 * file: one line on stderr, `prefix: message`), or 2 after an unexpected one (its stack with GRADSCOPE_DEBUG).
 */
export async function runProgram(
  program: Command,
  prefix = 'gradscope',
  argv = process.argv,
): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof UserError || err instanceof StoreError) {
      process.stderr.write(`${prefix}: ${err.message}\n`);
      return 1;
    }
    const e = err as Error;
    process.stderr.write(`${prefix}: unexpected error: ${e?.message ?? String(err)}\n`);
    if (process.env.GRADSCOPE_DEBUG) process.stderr.write(`${e?.stack ?? ''}\n`);
    else process.stderr.write('(set GRADSCOPE_DEBUG=1 for the stack trace)\n');
    return 2;
  }
}
