import { UsageError } from '../config/errors';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version';
import { registerDemoCommand } from './commands/demo';
import { registerDevCommand } from './commands/dev';
import { registerEmulatorCommand } from './commands/emulator';
import { registerHealthCommand } from './commands/health';
import { registerIdsCommand } from './commands/ids';
import { registerReplayCommand } from './commands/replay';
import { registerWorkerCommand } from './commands/worker';
import { registerAudienceCommand } from '../audience-sync/cli';
import { registerSchedulesCommand } from './commands/schedules';

/** Exit codes: 0 ok, 1 the command failed, 2 bad usage (flag, argument). */
export const EXIT_USAGE = 2;

export function buildProgram(): Command {
  const program = new Command('ttsync')
    .description('Durable TikTok data pipelines on Temporal')
    .version(VERSION)
    .showSuggestionAfterError(true)
    // Subcommands inherit these: bad usage throws instead of exiting, so main() picks the code.
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

  registerDevCommand(program);
  registerDemoCommand(program);
  registerWorkerCommand(program);
  registerReplayCommand(program);
  registerHealthCommand(program);
  registerEmulatorCommand(program);
  registerIdsCommand(program);
  registerAudienceCommand(program);
  registerSchedulesCommand(program);
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help')
        return 0;
      return EXIT_USAGE;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`ttsync: ${err.message}\n`);
      return EXIT_USAGE;
    }
    process.stderr.write(`ttsync: ${(err as Error).message ?? String(err)}\n`);
    if (process.env.TTSYNC_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return 1;
  }
}

