import { WorkflowFailedError } from '@temporalio/client';
import { Command } from 'commander';
import { durationMs } from '../config/duration';
import { durationTextFlag } from '../config/durationFlag';
import { ConfigError, UsageError } from '../config/errors';
import { openBlobStore } from '../storage';
import { withClient } from '../temporal/connection';
import { TaskQueues } from '../temporal/taskQueues';
import { WorkflowIds } from '../temporal/workflowIds';
import { startRetention } from './client';
import type { DatasetConfig } from './config';
import { loadDatasetConfigFile } from './configFile';
import { retentionStatusQuery, type RetentionRunSummary, type RetentionStatus } from './messages';
import { formatReport, retentionReport } from './report';
import { generateSyntheticDataset, syntheticDatasetConfig } from './synthetic';
import { dateToMs } from './window';

/* `ttsync retention run | report | status`. */

interface RunOpts {
  config: string;
  asOf?: string;
  dryRun?: boolean;
  wait?: boolean;
  json?: boolean;
  timeout: string;
  taskQueue: string;
  dataQueue: string;
  heartbeatTimeout?: string;
  dataStepTimeout?: string;
}

async function loadConfig(path: string): Promise<DatasetConfig> {
  try {
    return await loadDatasetConfigFile(path);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`${err.message}\nnothing was started`);
    throw err;
  }
}

export function formatSummary(s: RetentionRunSummary): string {
  const lines = [
    `dataset ${s.datasetId} as of ${s.asOf}${s.dryRun ? ' (dry run: nothing was changed)' : ''}: ${s.changed ? (s.dryRun ? 'would change' : 'changed') : 'nothing to change'}`,
    `  cutoffs: ${Object.entries(s.cutoffs).map(([n, d]) => `${n} < ${d}`).join('; ')}; partitions scanned up to ${s.scanUpTo}`,
    `  objects: ${s.objectsScanned} scanned, ${s.objectsSkipped} skipped (done), ${s.objectsChanged} ${s.dryRun ? 'would change' : 'changed'}`,
    `  rows: ${s.rowsSeen} seen, ${s.rowsAnonymized} ${s.dryRun ? 'would be anonymized' : 'anonymized'}, ${s.tiktokWithinWindow} TikTok rows still within the window, ${s.unreadableRows} unreadable (kept)`,
    `  aggregates: ${s.aggregateRowsMoved} rows ${s.dryRun ? 'would move' : 'moved'} to Organic in ${s.aggregateObjectsChanged} objects`,
  ];
  for (const w of s.wouldChange ?? []) lines.push(`  would anonymize ${w.rowsAnonymized} rows in ${w.key}`);
  for (const w of s.wouldMove ?? []) lines.push(`  would move ${w.rowsMoved} aggregate rows in ${w.table}: ${w.key}`);
  if (s.auditUri) lines.push(`  audit: ${s.auditUri}`);
  if (s.nextDue.length) lines.push(`  next due: ${s.nextDue.length} partition(s) (${s.nextDue.slice(0, 5).join(', ')}${s.nextDue.length > 5 ? ', …' : ''})`);
  return lines.join('\n') + '\n';
}

export function registerRetentionCommand(program: Command, summary: string): void {
  const cmd = program.command('retention').description(summary);
  cmd
    .command('run')
    .description("Run the TikTok retention policy on a dataset now (the workflow retention:<datasetId>): TikTok rows past their window lose their user-level fields and read Organic; aggregates move to Organic. A dry run lists what would change and changes nothing")
    .requiredOption('--config <file>', 'dataset config (JSON)')
    .option('--as-of <date>', 'the day to run the policy for, YYYY-MM-DD (UTC); default today')
    .option('--dry-run', 'list what would change, change nothing (always waits)')
    .option('--wait', 'wait for the run and print its summary')
    .option('--json', 'print the summary as JSON')
    .option('--timeout <duration>', 'how long --wait waits (the run goes on)', durationTextFlag, '6h')
    .option('--heartbeat-timeout <duration>', "how soon a dead worker's object is retried", durationTextFlag)
    .option('--data-step-timeout <duration>', "how soon a short step (planning, the audit record) whose worker died is retried (default 15m)", durationTextFlag)
    .option('--task-queue <name>', 'control task queue the workflow runs on', TaskQueues.control)
    .option('--data-queue <name>', 'task queue of the data activities', TaskQueues.data)
    .action(async (opts: RunOpts) => {
      if (opts.asOf !== undefined && dateToMs(opts.asOf) === undefined) throw new UsageError(`--as-of: ${JSON.stringify(opts.asOf)} is not a day YYYY-MM-DD`);
      const config = await loadConfig(opts.config);
      await withClient(async (client) => {
        const handle = await startRetention(client, {
          config,
          ...(opts.asOf ? { asOf: opts.asOf } : {}),
          ...(opts.dryRun ? { dryRun: true } : {}),
          taskQueue: opts.taskQueue,
          queues: { data: opts.dataQueue },
          ...(opts.heartbeatTimeout || opts.dataStepTimeout
            ? { timing: { ...(opts.heartbeatTimeout ? { heartbeatTimeout: opts.heartbeatTimeout } : {}), ...(opts.dataStepTimeout ? { dataStepTimeout: opts.dataStepTimeout } : {}) } }
            : {}),
        });
        if (!opts.wait && !opts.dryRun) {
          const started = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
          process.stdout.write(opts.json ? JSON.stringify(started) + '\n' : `started ${handle.workflowId} (run ${handle.firstExecutionRunId})\n`);
          return;
        }
        let result: RetentionRunSummary;
        try {
          result = await Promise.race([
            handle.result(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${opts.timeout}; it goes on: ttsync retention status ${config.datasetId}`)), durationMs(opts.timeout)).unref()),
          ]);
        } catch (err) {
          if (err instanceof WorkflowFailedError) {
            const cause = err.cause as (Error & { type?: string; cause?: Error & { type?: string } }) | undefined;
            const inner = cause?.cause ?? cause;
            throw new Error(`retention run ${handle.workflowId} failed: ${inner?.type ?? inner?.name ?? 'Error'}: ${inner?.message ?? err.message}`);
          }
          throw err;
        }
        process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : formatSummary(result));
      });
    });

  cmd
    .command('report')
    .description("Summarize a dataset's audit records (every run: rows anonymized, objects changed, digests in the records); reads the audit folder, needs no worker")
    .requiredOption('--config <file>', 'dataset config (JSON)')
    .option('--json', 'print the report as JSON')
    .option('--limit <n>', 'how many recent runs to list', (v) => Number(v), 20)
    .action(async (opts: { config: string; json?: boolean; limit: number }) => {
      const config = await loadConfig(opts.config);
      const report = await retentionReport(openBlobStore(config.audit), config.datasetId, opts.limit);
      process.stdout.write(opts.json ? JSON.stringify(report) + '\n' : formatReport(report));
    });

  cmd
    .command('generate')
    .description('Write a synthetic attribution dataset (installs and purchases, TikTok and other networks, late rows, an aggregate table) and its dataset config, for a demo or a dry run')
    .requiredOption('--out <folder>', 'where to write it: a folder path (a relative one from the current folder; the config names it absolutely), file:///… or gs://bucket/prefix')
    .option('--dataset-id <id>', 'the datasetId of the config', 'synthetic')
    .option('--start <date>', 'first partition day', '2026-01-01')
    .option('--days <n>', 'how many daily partitions (9 months ≈ 273)', (v) => Number(v), 273)
    .option('--rows-per-day <n>', 'rows in each partition', (v) => Number(v), 1000)
    .option('--format <csv|ndjson>', 'records format', 'csv')
    .option('--seed <n>', 'random seed', (v) => Number(v), 17)
    .action(async (opts: { out: string; datasetId: string; start: string; days: number; rowsPerDay: number; format: string; seed: number }) => {
      if (dateToMs(opts.start) === undefined) throw new UsageError(`--start: ${JSON.stringify(opts.start)} is not a day YYYY-MM-DD`);
      if (opts.format !== 'csv' && opts.format !== 'ndjson') throw new UsageError('--format must be csv or ndjson');
      for (const [flag, v] of [['--days', opts.days], ['--rows-per-day', opts.rowsPerDay], ['--seed', opts.seed]] as const)
        if (!Number.isInteger(v) || v < 0) throw new UsageError(`${flag} must be a whole number`);
      const store = openBlobStore(opts.out);
      const root = store.uri;
      const config = syntheticDatasetConfig(opts.datasetId, root, `${root}audit/`, opts.format);
      const gen = await generateSyntheticDataset(store, { start: opts.start, days: opts.days, rowsPerDay: opts.rowsPerDay, format: opts.format, seed: opts.seed });
      await store.write('dataset.json', JSON.stringify(config, null, 2) + '\n');
      process.stdout.write(`${gen.rows} rows in ${gen.partitions} partitions (${gen.bytes} bytes) under ${root}records/, aggregates in ${root}aggregates/\nconfig: ${store.uriOf('dataset.json')}\n`);
    });

  cmd
    .command('status <datasetId>')
    .description("The retention workflow's status query: phase, progress, the last run and the partitions due next (a worker must be up)")
    .option('--json', 'print the status as JSON')
    .action(async (datasetId: string, opts: { json?: boolean }) => {
      const id = datasetId.startsWith('retention:') ? datasetId : WorkflowIds.retention(datasetId);
      await withClient(async (client) => {
        const status: RetentionStatus = await client.workflow.getHandle(id).query(retentionStatusQuery);
        if (opts.json) process.stdout.write(JSON.stringify(status) + '\n');
        else {
          process.stdout.write(`${id}: ${status.phase}${status.dryRun ? ' (dry run)' : ''} as of ${status.asOf ?? '-'}, ${status.progress.done}/${status.progress.total} objects\n`);
          if (status.lastRun) process.stdout.write(formatSummary(status.lastRun));
          else if (status.nextDue.length) process.stdout.write(`  next due: ${status.nextDue.join(', ')}\n`);
        }
      });
    });
}
