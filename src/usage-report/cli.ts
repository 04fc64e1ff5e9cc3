import { WorkflowFailedError } from '@temporalio/client';
import { Command } from 'commander';
import { durationMs } from '../config/duration';
import { durationTextFlag } from '../config/durationFlag';
import { ConfigError, UsageError } from '../config/errors';
import { withClient } from '../temporal/connection';
import { TaskQueues } from '../temporal/taskQueues';
import { loadUsageAdvertisers } from './advertisers';
import { startUsageReport } from './client';
import type { UsageReportResult } from './messages';
import { monthProblem } from './month';

/* `ttsync usage report`: one advertiser's Data Marketplace usage report for a month, now. */

interface ReportOpts {
  advertiser: string;
  month: string;
  config: string;
  wait?: boolean;
  json?: boolean;
  force?: boolean;
  settle?: string;
  timeout: string;
  taskQueue: string;
  tiktokQueue: string;
}

export function formatUsageResult(r: UsageReportResult): string {
  const t = r.totals;
  const lines = [
    `advertiser ${r.advertiserId}, ${r.month}: ${r.lines} lines, ${t.impressions} impressions, amount spent ${t.amountSpent} ${t.currency}, data cost ${t.dataCost} ${t.currency}; delivery: ${r.delivery}`,
    ...t.bySegment.map((s) => `  ${s.providerId}/${s.segmentId} (${s.destinationId}): ${s.lines} lines, ${s.impressions} impressions, spent ${s.amountSpent}, data cost ${s.dataCost} ${s.currency}`),
    `  csv: ${r.csvUri} (sha256 ${r.csvSha256})`,
    `  totals and notes: ${r.jsonUri}`,
    `  targeting: ${r.recordedDays} day(s) from daily records, the others read at report time`,
  ];
  return lines.join('\n') + '\n';
}

export function registerUsageCommand(program: Command, summary: string): void {
  const cmd = program.command('usage').description(summary);
  cmd
    .command('report')
    .description(
      'Produce (or produce again) the monthly TikTok Data Marketplace usage report of an advertiser (workflow usage-report:<advertiserId>:<YYYY-MM>): ' +
        'lines per segment, campaign and ad group, CSV and JSON sidecar under reports/usage/, emailed to the reporting contacts once per month (--force sends again)',
    )
    .requiredOption('--advertiser <id>', 'the TikTok advertiser id')
    .requiredOption('--month <YYYY-MM>', 'the month to report, e.g. 2026-10')
    .requiredOption('--config <file-or-dir>', "the advertiser's audience destination configs (its 3PD destinations are those with dataMarketplace)")
    .option('--wait', 'wait for the report and print its totals')
    .option('--json', 'print the totals, lines count, CSV URI and delivery status as JSON')
    .option('--force', 'email (and post to the webhook) again even if this month was delivered')
    .option('--settle <duration>', "how long after the month's end TikTok's numbers are taken as final (default the destination's, 3d)", durationTextFlag)
    .option('--timeout <duration>', 'how long --wait waits (the report goes on)', durationTextFlag, '1h')
    .option('--task-queue <name>', 'control task queue the workflow runs on', TaskQueues.control)
    .option('--tiktok-queue <name>', 'task queue of the TikTok reads and the report writing', TaskQueues.tiktok)
    .action(async (opts: ReportOpts) => {
      const problem = monthProblem(opts.month);
      if (problem) throw new UsageError(`--month: ${problem}`);
      if (!/^\d{1,30}$/.test(opts.advertiser)) throw new UsageError(`--advertiser: ${JSON.stringify(opts.advertiser)} is not a TikTok advertiser id (digits)`);
      let advertisers;
      try {
        advertisers = await loadUsageAdvertisers(opts.config);
      } catch (err) {
        if (err instanceof ConfigError) throw new UsageError(`${err.message}\nnothing was started`);
        throw err;
      }
      const advertiser = advertisers.find((a) => a.advertiserId === opts.advertiser);
      if (!advertiser)
        throw new UsageError(
          `--advertiser ${opts.advertiser}: no destination of ${opts.config} has dataMarketplace for this advertiser` +
            (advertisers.length ? ` (3PD advertisers there: ${advertisers.map((a) => a.advertiserId).join(', ')})` : ' (it has no 3PD destination at all)') +
            '\nnothing was started',
        );
      await withClient(async (client) => {
        const handle = await startUsageReport(client, {
          advertiser,
          month: opts.month,
          ...(opts.force ? { force: true } : {}),
          ...(opts.settle ? { settle: opts.settle } : {}),
          taskQueue: opts.taskQueue,
          queues: { tiktok: opts.tiktokQueue },
        });
        if (!opts.wait) {
          const started = { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
          process.stdout.write(opts.json ? JSON.stringify(started) + '\n' : `started ${handle.workflowId} (run ${handle.firstExecutionRunId})\n`);
          return;
        }
        let result: UsageReportResult;
        try {
          result = await Promise.race([
            handle.result(),
            new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${opts.timeout} (it may be waiting for the month to settle); it goes on: ${handle.workflowId}`)), durationMs(opts.timeout)).unref()),
          ]);
        } catch (err) {
          if (err instanceof WorkflowFailedError) {
            const cause = err.cause as (Error & { type?: string; cause?: Error & { type?: string } }) | undefined;
            const inner = cause?.cause ?? cause;
            throw new Error(`usage report ${handle.workflowId} failed: ${inner?.type ?? inner?.name ?? 'Error'}: ${inner?.message ?? err.message}`);
          }
          throw err;
        }
        if (opts.json)
          process.stdout.write(
            JSON.stringify({ workflowId: handle.workflowId, advertiserId: result.advertiserId, month: result.month, totals: result.totals, lines: result.lines, csvUri: result.csvUri, jsonUri: result.jsonUri, csvSha256: result.csvSha256, delivery: result.delivery, notes: result.notes }) + '\n',
          );
        else process.stdout.write(formatUsageResult(result));
      });
    });
}
