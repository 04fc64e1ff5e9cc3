import { Command, Option } from 'commander';
import { addQueueOptions } from '../../audience-sync/cli';
import { audienceSyncSchedules } from '../../audience-sync/schedules';
import { retentionSchedules } from '../../retention/schedules';
import { eventsExportSchedules } from '../../events-export/schedules';
import { usageReportSchedules } from '../../usage-report/schedules';
import { durationTextFlag } from '../../config/durationFlag';
import { ConfigError, UsageError } from '../../config/errors';
import { connectClient } from '../../temporal/connection';
import { EVENTS_TASK_QUEUE } from '../../temporal/taskQueues';
import { applySchedules, cadenceMs, jitterMs, type ScheduleSource } from '../../temporal/schedules';

/** Each lifecycle's Schedules, by its name: the lifecycles that run on a cadence plug in here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each source has its own config type; apply only passes them through
const SOURCES: Record<string, ScheduleSource<any, any>> = {
  [audienceSyncSchedules.lifecycle]: audienceSyncSchedules,
  [eventsExportSchedules.lifecycle]: eventsExportSchedules,
  [retentionSchedules.lifecycle]: retentionSchedules,
  [usageReportSchedules.lifecycle]: usageReportSchedules,
};

interface ApplyOpts {
  config: string;
  lifecycle: string;
  cadence?: string;
  dryRun?: boolean;
  prune?: boolean;
  json?: boolean;
  taskQueue: string;
  dataQueue: string;
  tiktokQueue: string;
  eventsQueue: string;
  pollInitial?: string;
  pollMax?: string;
  jitter?: string;
  dataStepTimeout?: string;
}

export function registerSchedulesCommand(program: Command, summary: string): void {
  const schedules = program.command('schedules')
    .description(summary);
  addQueueOptions(
    schedules
      .command('apply')
      .description(
        'Create or update one schedule per config (a file, or every *.json of a folder): every cadence it starts a short tick workflow that ' +
          "starts the config's workflow if missing and asks it to run. The whole set is checked first; any problem applies nothing.",
      )
      .requiredOption('--config <file-or-dir>', 'config file, or a folder of them')
      .addOption(new Option('--lifecycle <name>', 'which lifecycle the configs are for').choices(Object.keys(SOURCES)).default(audienceSyncSchedules.lifecycle))
      .option('--cadence <duration>', 'how often each config runs (at least 1m; default 1h, retention 1d; usage-report runs on its calendar instead)', durationTextFlag)
      .option('--dry-run', 'print what would change, change nothing')
      .option('--prune', 'delete audience schedules of this task queue whose destination is not in the set (default: kept and listed)')
      .option('--jitter <duration>', 'start each action up to this much later, at random, so many schedules do not fire in the same second (less than the cadence; e.g. 5m for hundreds of destinations)', durationTextFlag)
      .option('--json', 'print the changes as one JSON object'),
  )
    .option('--events-queue <name>', 'task queue of the Events API activities (events-export)', EVENTS_TASK_QUEUE)
    .option('--poll-initial <duration>', 'first TikTok processing poll delay of a workflow a tick starts', durationTextFlag)
    .option('--poll-max <duration>', 'longest processing poll delay of a workflow a tick starts', durationTextFlag)
    .option(
      '--data-step-timeout <duration>',
      'start-to-close timeout of the quick data steps of a workflow a tick starts (audience-sync and events-export; default 10m): a step whose completion an overloaded server lost is retried when it runs out',
      durationTextFlag,
    )
    .action(async (opts: ApplyOpts) => {
      const source = SOURCES[opts.lifecycle]!;
      // Only these lifecycles' workflows have quick data steps to time out: elsewhere the flag would be dropped unseen.
      if (opts.dataStepTimeout && source !== audienceSyncSchedules && source !== eventsExportSchedules)
        throw new UsageError(`--data-step-timeout applies to ${audienceSyncSchedules.lifecycle} and ${eventsExportSchedules.lifecycle} schedules, not ${opts.lifecycle}`);
      const cadence = opts.cadence ?? source.defaultCadence ?? '1h';
      try {
        cadenceMs(cadence);
      } catch (err) {
        throw new UsageError(`--cadence: ${(err as Error).message}`);
      }
      if (opts.jitter)
        try {
          jitterMs(opts.jitter, cadence);
        } catch (err) {
          throw new UsageError(`--jitter: ${(err as Error).message}`);
        }
      let configs: unknown[];
      try {
        configs = await source.load(opts.config);
      } catch (err) {
        // Every problem of every file, one per line; nothing has been applied.
        if (err instanceof ConfigError) throw new UsageError(`${err.message}\nnothing was applied`);
        throw err;
      }
      const client = await connectClient();
      try {
        const changes = await applySchedules(
          client,
          source,
          configs,
          {
            cadence,
            taskQueue: opts.taskQueue,
            // Only events schedules carry the events queue: audience schedules keep their fingerprint.
            queues: { data: opts.dataQueue, tiktok: opts.tiktokQueue, ...(opts.lifecycle === eventsExportSchedules.lifecycle ? { events: opts.eventsQueue } : {}) },
            poll: { ...(opts.pollInitial ? { initial: opts.pollInitial } : {}), ...(opts.pollMax ? { max: opts.pollMax } : {}) },
            ...(opts.dryRun ? { dryRun: true } : {}),
            ...(opts.prune ? { prune: true } : {}),
            ...(opts.jitter ? { jitter: opts.jitter } : {}),
            ...(opts.dataStepTimeout ? { dataStepTimeout: opts.dataStepTimeout } : {}),
          },
        );
        if (opts.json) process.stdout.write(JSON.stringify({ dryRun: Boolean(opts.dryRun), cadence, changes }) + '\n');
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
