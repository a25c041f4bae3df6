// Every command's flags: an unknown one is an error naming it (commander's), with the closest flag when one is
// near, and the command does not run. Walks the real program, so a command added later is covered too.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UserError } from './errors.js';
import { buildProgram } from './program.js';

/**
 * Each command that runs something, with the words that reach it (`runs delete`). Hidden commands are left
 * out: the one there is, `demo`, takes any flag to say where the demo went (tested below).
 */
function leaves(command: Command, path: string[] = []): { command: Command; path: string[] }[] {
  if (command.commands.length === 0) return [{ command, path }];
  const shown = command
    .createHelp()
    .visibleCommands(command)
    .filter((sub) => sub.name() !== 'help');
  return shown.flatMap((sub) => leaves(sub, [...path, sub.name()]));
}

/** Parses `argv` as `gradscope argv…` would; returns what it printed on stderr and its exit code. */
async function parse(argv: string[]): Promise<{ stderr: string; code: number | undefined; ran: boolean }> {
  const program = buildProgram();
  let stderr = '';
  let ran = false;
  const quiet = (command: Command) => {
    command.exitOverride().configureOutput({
      writeErr: (text) => {
        stderr += text;
      },
      writeOut: () => {},
    });
    command.hook('preAction', () => {
      ran = true;
      throw new Error('the command ran');
    });
    for (const sub of command.commands) quiet(sub);
  };
  quiet(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { stderr, code: 0, ran };
  } catch (err) {
    return { stderr, code: (err as { exitCode?: number }).exitCode, ran };
  }
}

const commands = leaves(buildProgram());

/** What a command needs besides the flag under test: a value for each argument and each required option. */
function needs(command: Command, except?: string): string[] {
  const required = command.options.filter((o) => o.mandatory && o.long !== except);
  return [
    ...command.registeredArguments.map((a) => `x-${a.name()}`),
    ...required.flatMap((o) => [o.long!, '1']),
  ];
}

describe('gradscope runs without a subcommand', () => {
  it('names what it got and the subcommands it takes; exit 1, nothing runs', async () => {
    const result = await parse(['runs', 'runs.gradscope', 'run-1']);
    expect(result).toEqual({
      stderr:
        "error: unknown command 'runs.gradscope'\n" +
        'gradscope runs takes what to do first: rename <db> <run> <name>, tag <db> <run> --group G, or delete <db> <run>\n',
      code: 1,
      ran: false,
    });
  });
});

describe('every command refuses an unknown flag', () => {
  it('covers the commands, subcommands included', () => {
    expect(commands.map((c) => c.path.join(' '))).toEqual(
      expect.arrayContaining([
        'compact',
        'doctor',
        'export',
        'list',
        'runs delete',
        'runs rename',
        'serve',
        'vacuum',
      ]),
    );
  });

  it.each(commands.map((c) => [c.path.join(' '), c] as const))(
    '%s --bogus',
    async (_name, { command, path }) => {
      const result = await parse([...path, ...needs(command), '--bogus-flag']);
      expect(result.stderr).toBe("error: unknown option '--bogus-flag'\n");
      expect(result.code).toBe(1);
      expect(result.ran).toBe(false);
    },
  );

  it.each(
    commands.flatMap(({ command, path }) =>
      command.options.map((o) => [`${path.join(' ')} ${o.long}`, path, command, o] as const),
    ),
  )('%s misspelt names it', async (_name, path, command, option) => {
    const flag = option.long!;
    // One letter missed: --port → --prt.
    const typo = `${flag.slice(0, 3)}${flag.slice(4)}`;
    const result = await parse([...path, ...needs(command, flag), typo]);
    expect(result.ran).toBe(false);
    // A required option misspelt is missing: commander says so first, naming it.
    if (option.mandatory)
      return expect(result.stderr).toBe(`error: required option '${option.flags}' not specified\n`);
    expect(result.stderr).toMatch(
      new RegExp(`^error: unknown option '${typo}'\\n\\(Did you mean (one of )?[^)]*${flag}\\b`),
    );
  });
});

describe('gradscope demo', () => {
  it('is gone from the command (the demo trains with tfjs): it names `pnpm demo` with the arguments given', async () => {
    const run = buildProgram().parseAsync(['demo', '--seeds', '3', '--no-serve'], { from: 'user' });
    await expect(run).rejects.toThrow(UserError);
    await expect(run).rejects.toThrow(
      'the demo is not part of the gradscope command (it trains with tfjs, which gradscope does not install): in a clone of the gradscope repository run `pnpm demo --seeds 3 --no-serve`',
    );
    expect(commands.map((c) => c.path[0])).not.toContain('demo');
  });
});
