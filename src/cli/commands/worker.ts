import { Command, InvalidArgumentError } from 'commander';
import { runWorker } from '../../worker';
import { installRuntimeLogging } from '../../temporal/logging';
import { ALL_TASK_QUEUE_ROLES, type TaskQueueRole } from '../../temporal/taskQueues';

function parseRoles(value: string): TaskQueueRole[] {
  const roles = value.split(',').map((s) => s.trim());
  const bad = roles.filter((r) => !(ALL_TASK_QUEUE_ROLES as string[]).includes(r));
  if (bad.length) throw new InvalidArgumentError(`unknown role ${bad.join(', ')}; use ${ALL_TASK_QUEUE_ROLES.join(', ')}`);
  return roles as TaskQueueRole[];
}

export function registerWorkerCommand(program: Command, summary: string): void {
  program
    .command('worker')
    .description(summary)
    .option('--roles <list>', `task queue roles to poll (${ALL_TASK_QUEUE_ROLES.join(',')})`, parseRoles)
    .option('--shutdown-grace <duration>', 'time in-flight activities get after SIGINT/SIGTERM', '30s')
    .option('--bundle <path>', 'prebuilt workflow bundle (default in production: dist/workflow-bundle.js)')
    .action(async (opts: { roles?: TaskQueueRole[]; shutdownGrace: string; bundle?: string }) => {
      installRuntimeLogging('INFO');
      await runWorker({ roles: opts.roles, shutdownGraceTime: opts.shutdownGrace, workflowBundlePath: opts.bundle });
    });
}
