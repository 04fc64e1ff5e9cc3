import { join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Client } from '@temporalio/client';
import { DEMO_DEFAULTS, runDemo } from '../../audience-sync/demo/run';
import { formatDemoSummary } from '../../audience-sync/demo/summary';
import { connectClient, loadTemporalSettings } from '../../temporal/connection';
import { DATA_DIR } from '../../paths';

export const DEMO_PEOPLE_MIN = 1_000;
export const DEMO_PEOPLE_MAX = 10_000_000;

export function parsePeople(value: string): number {
  const n = Number(value);
  if (!/^\d+(?:e\d+)?$/i.test(value.trim()) || !Number.isSafeInteger(n) || n < DEMO_PEOPLE_MIN || n > DEMO_PEOPLE_MAX)
    throw new InvalidArgumentError(`must be a whole number from ${DEMO_PEOPLE_MIN.toLocaleString('en-US')} to ${DEMO_PEOPLE_MAX.toLocaleString('en-US')} (e.g. 60000 or 1e6)`);
  return n;
}

export interface DemoCliOptions {
  emulatorUrl: string;
  dataDir: string;
  uiUrl: string;
  namespace: string;
  people: number;
  log: (line: string) => void;
}

/** Runs the demo on a running stack and prints its summary on stdout. */
export async function runDemoAndPrint(client: Client, o: DemoCliOptions): Promise<void> {
  const result = await runDemo({
    client,
    namespace: o.namespace,
    emulatorUrl: o.emulatorUrl,
    dir: join(resolve(o.dataDir), 'demo'),
    uiUrl: o.uiUrl,
    people: o.people,
    log: o.log,
  });
  process.stdout.write(formatDemoSummary(result) + '\n');
}

export function registerDemoCommand(program: Command, summary: string): void {
  program
    .command('demo')
    .description(summary)
    .option('--people <n>', 'people in the first snapshot', parsePeople, DEMO_DEFAULTS.people)
    .option('--emulator-url <url>', "the TikTok emulator the stack's workers use", 'http://127.0.0.1:8787')
    .option('--ui-url <url>', 'Temporal Web UI, for the links printed', 'http://127.0.0.1:8233')
    .option('--data-dir <dir>', 'where the demo folder (<data-dir>/demo: snapshots, token file, workdir) goes', DATA_DIR)
    .action(async (opts: { people: number; emulatorUrl: string; uiUrl: string; dataDir: string }) => {
      const settings = loadTemporalSettings();
      const client = await connectClient(settings);
      try {
        await runDemoAndPrint(client, { ...opts, namespace: settings.namespace, log: (line) => process.stderr.write(`[demo] ${line}\n`) });
      } finally {
        await client.connection.close();
      }
    });
}
