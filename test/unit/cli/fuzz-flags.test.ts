import { Command, CommanderError } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXIT_USAGE, buildProgram, runCli } from '../../../src/cli/program';
import { UsageError } from '../../../src/config/errors';
import { fuzzParams } from '../../helpers/fuzz';

/*
 * CLI flags fuzzed: random sequences of each command's own flags (with random values or
 * none), unknown flags and stray words. Parsing either accepts them or refuses with a usage
 * error (commander's, or UsageError from a flag's parser), which the CLI turns into one line
 * on stderr and exit 2. The commands' actions are replaced by a no-op, so nothing connects
 * or starts; what is fuzzed is the parsing every command does before it acts.
 */

const COMMAND_PATHS = [
  ['dev'],
  ['emulator'],
  ['worker'],
  ['codec-server'],
  ['ids', 'normalize'],
  ['schedules', 'apply'],
  ['audience', 'sync'],
  ['audience', 'status'],
  ['doctor'],
  ['rerun'],
  ['replay'],
  ['usage', 'report'],
  ['retention', 'run'],
  ['notices', 'schedule'],
  ['cluster', 'up'],
];

function find(program: Command, path: string[]): Command {
  let cmd = program;
  for (const name of path) {
    const next = cmd.commands.find((c) => c.name() === name);
    if (!next) throw new Error(`no command ${path.join(' ')}`);
    cmd = next;
  }
  return cmd;
}

/** Every command below `cmd`: actions become no-ops, output goes nowhere, errors throw. */
function neuter(cmd: Command): void {
  cmd.exitOverride();
  cmd.configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  cmd.action(() => undefined);
  cmd.commands.forEach(neuter);
}

const VALUE = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('0', '-1', '65536', '8233', '1.5', '1e3', 'NaN', '', ' ', '2s', '1500', '1h30m', '500ms', 'env:X', 'file:/x', '--', '-x', 'a,b', '127.0.0.1:0', '[::1]:9', 'http://x'),
);

describe('CLI flags, fuzzed', { timeout: 120_000 }, () => {
  for (const path of COMMAND_PATHS) {
    it(`ttsync ${path.join(' ')}: accepted, or refused as a usage error (exit 2)`, async () => {
      const base = ['node', 'ttsync', ...path];
      const flags = find(await buildProgram(base), path).options.map((o) => o.long ?? o.short!).filter(Boolean);
      expect(flags.length).toBeGreaterThan(0);
      const token = fc.oneof(
        fc.tuple(fc.constantFrom(...flags), fc.option(VALUE, { nil: undefined })).map(([f, v]) => (v === undefined ? [f] : [f, v])),
        fc.tuple(fc.constantFrom(...flags), VALUE).map(([f, v]) => [`${f}=${v}`]),
        fc.string({ minLength: 1, maxLength: 10 }).map((s) => [`--${s}`]),
        VALUE.map((v) => [v]),
      );
      let refused = 0;
      const refusedArgv: string[][] = [];
      await fc.assert(
        fc.asyncProperty(fc.array(token, { maxLength: 6 }), async (tokens) => {
          const argv = [...base, ...tokens.flat().filter((t) => t !== '--help' && t !== '-h' && t !== '--version' && t !== '-V')];
          const program = await buildProgram(argv);
          neuter(program);
          try {
            await program.parseAsync(argv);
          } catch (err) {
            refused += 1;
            if (refusedArgv.length < 3) refusedArgv.push(argv);
            if (err instanceof UsageError) return;
            expect(err).toBeInstanceOf(CommanderError);
            const code = (err as CommanderError).code;
            expect(['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(code) || (err as CommanderError).exitCode !== 0).toBe(true);
          }
        }),
        fuzzParams(150, 3_000),
      );
      expect(refused).toBeGreaterThan(0);
      // The real program (actions intact) stops those at parsing too, with exit 2.
      const stderr = process.stderr.write.bind(process.stderr);
      process.stderr.write = () => true;
      try {
        for (const argv of refusedArgv) expect(await runCli(argv)).toBe(EXIT_USAGE);
      } finally {
        process.stderr.write = stderr;
      }
    });
  }
});
