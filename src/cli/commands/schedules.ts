import { Command } from 'commander';
import { DestinationConfigSetError, loadDestinationConfigs } from '../../audience-sync/configFile';
import { connectClient } from '../../temporal/connection';
import { applyAudienceSchedules, cadenceMs } from '../../temporal/schedules';
import { UsageError } from '../program';
import { addQueueOptions } from '../../audience-sync/cli';
import { durationTextFlag } from '../../config/durationFlag';

interface ApplyOpts {
  config: string;
  cadence: string;
  dryRun?: boolean;
  prune?: boolean;
  json?: boolean;
  taskQueue: string;
  dataQueue: string;
  tiktokQueue: string;
  pollInitial?: string;
  pollMax?: string;
}

export function registerSchedulesCommand(program: Command): void {
  const schedules = program.command('schedules').description('Temporal Schedules that keep destinations in sync');
  addQueueOptions(
    schedules
      .command('apply')
      .description(
        'Create or update one schedule per destination config (a file, or every *.json of a folder): every cadence it starts the ' +
          "destination's sync workflow if missing and asks it to sync. The whole set is checked first; any problem applies nothing.",
      )
      .requiredOption('--config <file-or-dir>', 'destination config file, or a folder of them')
      .option('--cadence <duration>', 'how often each destination syncs (at least 1m)', durationTextFlag, '1h')
      .option('--dry-run', 'print what would change, change nothing')
      .option('--prune', 'delete audience schedules of this task queue whose destination is not in the set (default: kept and listed)')
      .option('--json', 'print the changes as one JSON object'),
  )
    .option('--poll-initial <duration>', 'first TikTok processing poll delay of a workflow a tick starts', durationTextFlag)
    .option('--poll-max <duration>', 'longest processing poll delay of a workflow a tick starts', durationTextFlag)
    .action(async (opts: ApplyOpts) => {
      try {
        cadenceMs(opts.cadence);
      } catch (err) {
        throw new UsageError(`--cadence: ${(err as Error).message}`);
      }
      let loaded;
      try {
        loaded = await loadDestinationConfigs(opts.config);
      } catch (err) {
        // Every problem of every file, one per line; nothing has been applied.
        if (err instanceof DestinationConfigSetError) throw new UsageError(`${err.message}\nnothing was applied`);
        throw err;
      }
      const client = await connectClient();
      try {
        const changes = await applyAudienceSchedules(
          client,
          loaded.map((l) => l.config),
          {
            cadence: opts.cadence,
            taskQueue: opts.taskQueue,
            queues: { data: opts.dataQueue, tiktok: opts.tiktokQueue },
            poll: { ...(opts.pollInitial ? { initial: opts.pollInitial } : {}), ...(opts.pollMax ? { max: opts.pollMax } : {}) },
            ...(opts.dryRun ? { dryRun: true } : {}),
            ...(opts.prune ? { prune: true } : {}),
          },
        );
        if (opts.json) process.stdout.write(JSON.stringify({ dryRun: Boolean(opts.dryRun), cadence: opts.cadence, changes }) + '\n');
        else {
          const w = Math.max(0, ...changes.map((c) => c.destinationId.length));
          for (const c of changes)
            process.stdout.write(`${c.destinationId.padEnd(w)}  ${opts.dryRun ? `would be ${c.outcome}` : c.outcome}  ${c.scheduleId}${c.note ? `  (${c.note})` : ''}\n`);
        }
      } finally {
        await client.connection.close();
      }
    });
}
