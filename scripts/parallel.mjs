#!/usr/bin/env node
// Runs shell commands side by side and fails when any fails: the test line runs vitest beside the pack test,
// whose longest part (npm compiling better-sqlite3 in a new project) keeps one core busy for minutes.
// The first command's output goes through as it is; the others' lines are prefixed with their command.
//
//   node scripts/parallel.mjs 'vitest run' 'node scripts/pack-test.mjs'
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const commands = process.argv.slice(2);
if (commands.length === 0) throw new Error("usage: node scripts/parallel.mjs 'command' ['command' …]");

const results = await Promise.all(
  commands.map(
    (command, i) =>
      new Promise((done) => {
        const child = spawn(command, {
          shell: true,
          stdio: ['ignore', i === 0 ? 'inherit' : 'pipe', i === 0 ? 'inherit' : 'pipe'],
        });
        if (i > 0) {
          const tag = `[${command.split(' ').slice(0, 2).join(' ')}]`;
          for (const stream of [child.stdout, child.stderr]) {
            createInterface({ input: stream }).on('line', (line) => console.log(`${tag} ${line}`));
          }
        }
        child.on('close', (code, signal) => done({ command, code: code ?? signal }));
      }),
  ),
);
const failed = results.filter((r) => r.code !== 0);
for (const r of failed) console.error(`parallel: '${r.command}' exited ${r.code}`);
process.exit(failed.length === 0 ? 0 : 1);
