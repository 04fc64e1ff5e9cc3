import { Command, Option } from 'commander';
import { audienceSyncRerun } from '../../audience-sync/rerun';
import { retentionRerun } from '../../retention/rerun';
import { usageReportRerun } from '../../usage-report/rerun';
import { eventsExportRerun } from '../../events-export/rerun';
import { sanMigrationRerun } from '../../san-migration/rerun';
import { connectClient } from '../../temporal/connection';
import { RESET_TO, type ResetTo } from '../../temporal/resetPoints';
import { formatRerun, rerun, RerunRefused, type RerunSource } from '../../temporal/rerun';
import { DEFAULT_UI_URL } from '../../temporal/uiLinks';

/*
 * `ttsync rerun <workflowId>`: after the cause of a failure is fixed, run the failed run again
 * with one command (src/temporal/rerun.ts decides how). Prints what it did and the new run's
 * link; exit 1 when it refused (nothing changed). `ttsync replay` is another job: it checks
 * that saved histories still replay against the code, and runs nothing.
 */

/** Every lifecycle's rerun rules; a lifecycle adds its own when it lands. */
const SOURCES: readonly RerunSource[] = [audienceSyncRerun, eventsExportRerun, sanMigrationRerun, retentionRerun, usageReportRerun];

interface RerunOpts {
  runId?: string;
  resetTo?: ResetTo;
  json?: boolean;
  uiUrl: string;
}

export function registerRerunCommand(program: Command, summary: string): void {
  program
    .command('rerun')
    .description(
      `${summary}. A reset where the history allows it (steps completed before the failure are not repeated), else the same input started again under the lifecycle's id rules; refused (exit 1, nothing changed) when neither is safe`,
    )
    .argument('<workflowId>', 'the workflow id, as the UI shows it (e.g. audience-sync:vip-buyers)')
    .option('--run-id <runId>', 'the failed run (default: the latest run; for an audience sync parked after a failed cycle, the run of that cycle)')
    .addOption(new Option('--reset-to <point>', 'last-good: the workflow task that scheduled the failed step; start: the run\'s first workflow task (default: the first the workflow type allows)').choices(RESET_TO))
    .option('--json', 'print the result as one JSON object')
    .option('--ui-url <url>', 'Temporal Web UI, for the link printed', DEFAULT_UI_URL)
    .action(async (workflowId: string, opts: RerunOpts) => {
      const client = await connectClient();
      try {
        const result = await rerun(client, SOURCES, {
          workflowId,
          uiUrl: opts.uiUrl,
          ...(opts.runId ? { runId: opts.runId } : {}),
          ...(opts.resetTo ? { resetTo: opts.resetTo } : {}),
        });
        process.stdout.write(opts.json ? JSON.stringify(result) + '\n' : formatRerun(result));
      } catch (err) {
        if (err instanceof RerunRefused && opts.json) process.stdout.write(JSON.stringify({ refused: err.message }) + '\n');
        if (err instanceof RerunRefused) throw new Error(`rerun refused: ${err.message}`);
        throw err;
      } finally {
        await client.connection.close();
      }
    });
}
