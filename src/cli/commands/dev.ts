import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { startDevStack, type DevStackOptions } from '../devStack';
import { installRuntimeLogging } from '../../temporal/logging';
import { DATA_DIR } from '../../paths';
import { durationFlag } from '../../config/durationFlag';
import { connectClient, localTemporalSettings } from '../../temporal/connection';
import { DEMO_DEFAULTS } from '../../audience-sync/demo/run';
import { UsageError } from '../../config/errors';
import { parsePort } from '../../config/flags';
import { parsePeople, runDemoAndPrint } from './demo';

type DevOpts = Omit<DevStackOptions, 'log'> & { demo: boolean; demoPeople: number };

export function registerDevCommand(program: Command, summary: string): void {
  program
    .command('dev')
    .description(summary)
    .option('--ip <ip>', 'address to bind', '127.0.0.1')
    .option('--port <port>', 'Temporal gRPC port', parsePort, 7233)
    .option('--ui-port <port>', 'Temporal Web UI port', parsePort, 8233)
    .option('--data-dir <dir>', 'where the SQLite database and logs live', DATA_DIR)
    .option('--no-worker', 'do not run a worker in this process')
    .option('--no-health-check', 'do not run the start-up health-check workflow')
    .option('--emulator-port <port>', 'TikTok API emulator port on 127.0.0.1', parsePort, 8787)
    .option('--no-emulator', 'do not run the TikTok API emulator')
    .addOption(
      new Option('--emulator-processing-delay <duration>', 'how long an audience processes after each edit in the emulator (e.g. 500ms, 2s, 1m)').argParser(durationFlag).default(2_000, '2s'),
    )
    .option('--no-codec', 'store payloads in plaintext (default: encrypted with the dev key under the data dir, decoded in the UI by a codec server)')
    .option('--codec-port <port>', 'codec server port on 127.0.0.1 (a free one when taken)', parsePort, 8234)
    .option('--demo', 'once the stack is up, run `ttsync demo` on it (a synthetic audience synced twice), then keep running')
    .option('--demo-people <n>', 'people in the demo\'s first snapshot', parsePeople, DEMO_DEFAULTS.people)
    .action(async ({ demo, demoPeople, ...opts }: DevOpts) => {
      if (demo && !opts.emulator) throw new UsageError('--demo syncs to the TikTok emulator; drop --no-emulator');
      installRuntimeLogging('WARN');
      const log = (line: string) => process.stderr.write(`[dev] ${line}\n`);
      const stack = await startDevStack({ ...opts, dataDir: resolve(opts.dataDir), log });
      log(`ready. Temporal UI: ${stack.uiUrl}  gRPC: ${stack.address}. Ctrl-C stops everything.`);
      let stopping = false;
      const stopped = new Promise<void>((done) => {
        const onSignal = (sig: NodeJS.Signals) => {
          stopping = true;
          log(`${sig}: shutting down`);
          stack.stop().then(done, done);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        process.once('SIGHUP', onSignal);
      });
      if (demo) {
        // The stack's own server, never a profile: a developer's default profile may name a real cluster.
        const local = localTemporalSettings(stack.address);
        const client = await connectClient(local);
        const demoLog = (line: string) => process.stderr.write(`[demo] ${line}\n`);
        // A failed demo leaves the stack up: the UI shows where and why it stopped.
        await Promise.race([
          stopped,
          runDemoAndPrint(client, { emulatorUrl: `http://127.0.0.1:${opts.emulatorPort}`, dataDir: opts.dataDir, uiUrl: stack.uiUrl, namespace: local.namespace, people: demoPeople, log: demoLog }).then(
            () => log(`demo done; the stack keeps running for exploring (${stack.uiUrl}). Ctrl-C stops everything.`),
            (err: unknown) => {
              if (!stopping) log(`demo failed: ${(err as Error).message}; the stack keeps running (${stack.uiUrl}). Ctrl-C stops everything.`);
            },
          ),
        ]);
        await client.connection.close().catch(() => undefined);
      }
      await stopped;
      log('stopped');
    });
}
