import { Command, InvalidArgumentError } from 'commander';
import { runWorker } from '../../worker';
import { parseListenAddress } from '../../config/flags';
import { UsageError } from '../../config/errors';
import { installRuntimeLogging } from '../../temporal/logging';
import { ALL_TASK_QUEUE_ROLES, type TaskQueueRole } from '../../temporal/taskQueues';

function parseRoles(value: string): TaskQueueRole[] {
  const roles = value.split(',').map((s) => s.trim());
  const bad = roles.filter((r) => !(ALL_TASK_QUEUE_ROLES as string[]).includes(r));
  if (bad.length) throw new InvalidArgumentError(`unknown role ${bad.join(', ')}; use ${ALL_TASK_QUEUE_ROLES.join(', ')}`);
  return roles as TaskQueueRole[];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of at least 1');
  return n;
}

/** The flag wins over TTSYNC_METRICS_ADDRESS, which is checked as the flag is. */
function metricsAddressOf(flag: string | undefined): string | undefined {
  if (flag !== undefined) return flag;
  const env = process.env.TTSYNC_METRICS_ADDRESS;
  if (!env) return undefined;
  try {
    return parseListenAddress(env);
  } catch (err) {
    throw new UsageError(`TTSYNC_METRICS_ADDRESS ${(err as Error).message}`);
  }
}

export function registerWorkerCommand(program: Command, summary: string): void {
  program
    .command('worker')
    .description(summary)
    .option('--roles <list>', `task queue roles to poll (${ALL_TASK_QUEUE_ROLES.join(',')})`, parseRoles)
    .option('--shutdown-grace <duration>', 'time in-flight activities get after SIGINT/SIGTERM', '30s')
    .option('--bundle <path>', 'prebuilt workflow bundle (default in production: dist/workflow-bundle.js)')
    .option('--metrics <host:port>', 'serve Prometheus metrics (the SDK\'s temporal_* and ttsync_*) at http://<host:port>/metrics (env TTSYNC_METRICS_ADDRESS)', parseListenAddress)
    .option('--identity <name>', "this process's worker identity in histories and poller lists (default <pid>@<host>)")
    .option('--max-activities <n>', 'activities each task queue of this process runs at once (bounds its memory; default the SDK\'s)', positiveInt)
    .action(async (opts: { roles?: TaskQueueRole[]; shutdownGrace: string; bundle?: string; metrics?: string; identity?: string; maxActivities?: number }) => {
      const metricsAddress = metricsAddressOf(opts.metrics);
      installRuntimeLogging('INFO', 'WARN', metricsAddress ? { metricsAddress } : {});
      if (metricsAddress) process.stderr.write(`ttsync worker: metrics on http://${metricsAddress}/metrics\n`);
      await runWorker({
        roles: opts.roles,
        shutdownGraceTime: opts.shutdownGrace,
        workflowBundlePath: opts.bundle,
        ...(opts.identity ? { identity: opts.identity } : {}),
        ...(opts.maxActivities ? { maxConcurrentActivities: opts.maxActivities } : {}),
      });
    });
}
