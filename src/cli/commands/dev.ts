import { resolve } from 'node:path';
import { Command } from 'commander';
import { startDevStack, type DevStackOptions } from '../../devStack';
import { installRuntimeLogging } from '../../temporal/logging';
import { DATA_DIR } from '../../paths';
import { parsePort } from '../program';

type DevOpts = Omit<DevStackOptions, 'log'>;

export function registerDevCommand(program: Command): void {
  program
    .command('dev')
    .description('Run the local stack: Temporal dev server with its Web UI, and a worker. Ctrl-C stops all of it')
    .option('--ip <ip>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'Temporal gRPC port', parsePort, 7233)
    .option('--ui-port <port>', 'Temporal Web UI port', parsePort, 8233)
    .option('--data-dir <dir>', 'where the SQLite database and logs live', DATA_DIR)
    .option('--no-worker', 'do not run a worker in this process')
    .option('--no-health-check', 'do not run the start-up health-check workflow')
    .option('--emulator-port <port>', 'TikTok API emulator port on 127.0.0.1', parsePort, 8787)
    .option('--no-emulator', 'do not run the TikTok API emulator')
    .action(async (opts: DevOpts) => {
      installRuntimeLogging('WARN');
      const log = (line: string) => process.stderr.write(`[dev] ${line}\n`);
      const stack = await startDevStack({ ...opts, dataDir: resolve(opts.dataDir), log });
      log(`ready. Temporal UI: ${stack.uiUrl}  gRPC: ${stack.address}. Ctrl-C stops everything.`);
      await new Promise<void>((done) => {
        const onSignal = (sig: NodeJS.Signals) => {
          log(`${sig}: shutting down`);
          stack.stop().then(done, done);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        process.once('SIGHUP', onSignal);
      });
      log('stopped');
    });
}
