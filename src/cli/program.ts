import { UsageError } from '../config/errors';
import { Command, CommanderError } from 'commander';
import { VERSION } from '../version';
import { COMMANDS, type CommandName } from './commands/table';

/** Exit codes: 0 ok, 1 the command failed, 2 bad usage (flag, argument). */
export const EXIT_USAGE = 2;

/**
 * The program for these arguments. Only the module of the command being run is loaded; for
 * the top-level help (or an unknown command) every command is listed from its summary alone.
 */
export async function buildProgram(argv: readonly string[]): Promise<Command> {
  const program = new Command('ttsync')
    .description('Durable TikTok data pipelines on Temporal')
    .version(VERSION)
    .showSuggestionAfterError(true)
    // Subcommands inherit these: bad usage throws instead of exiting, so main() picks the code.
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(str.split('\n')[0] + '\n') });

  const words = argv.slice(2).filter((a) => !a.startsWith('-'));
  // `ttsync help audience` is about the command after "help".
  const wanted = words[0] === 'help' ? words[1] : words[0];
  const names = Object.keys(COMMANDS) as CommandName[];
  for (const name of names) {
    if (name === wanted) (await COMMANDS[name].load())(program, COMMANDS[name].summary);
    else program.command(name).description(COMMANDS[name].summary);
  }
  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = await buildProgram(argv);
  try {
    await program.parseAsync(argv);
    // A command that failed without throwing (a status that is not all up) set exitCode.
    return Number(process.exitCode ?? 0);
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

