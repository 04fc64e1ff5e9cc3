import { Command } from 'commander';
import { connectClient } from '../../temporal/connection';
import { TaskQueues } from '../../temporal/taskQueues';
import { healthCheck } from '../../../workflows/index';

export function registerHealthCommand(program: Command, summary: string): void {
  program
    .command('health')
    .description(summary)
    .option('--timer <duration>', 'timer the workflow sleeps on', '1s')
    .option('--task-queue <name>', 'control task queue', TaskQueues.control)
    .action(async (opts: { timer: string; taskQueue: string }) => {
      const client = await connectClient();
      try {
        const workflowId = `health-check-${Date.now()}`;
        const handle = await client.workflow.start(healthCheck, {
          taskQueue: opts.taskQueue,
          workflowId,
          args: [{ timer: opts.timer }],
          workflowExecutionTimeout: '2m',
        });
        const result = await handle.result();
        process.stdout.write(JSON.stringify({ workflowId, ...result }) + '\n');
      } finally {
        await client.connection.close();
      }
    });
}
