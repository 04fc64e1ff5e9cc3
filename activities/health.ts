import { hostname } from 'node:os';
import { activityInfo } from '@temporalio/activity';

export interface HealthDeps {
  /** Identifies the worker build in answers, so ops can tell which deployment ran it. */
  version: string;
  now?: () => Date;
}

export interface PingResult {
  worker: string;
  version: string;
  taskQueue: string;
  attempt: number;
  at: string;
}

export function createHealthActivities(deps: HealthDeps) {
  const now = deps.now ?? (() => new Date());
  return {
    /** Proves a worker polls the queue and can run activity code; no side effects, so safe to retry. */
    async healthPing(note: string): Promise<PingResult & { note: string }> {
      const info = activityInfo();
      return {
        note,
        worker: `${hostname()}:${process.pid}`,
        version: deps.version,
        taskQueue: info.taskQueue,
        attempt: info.attempt,
        at: now().toISOString(),
      };
    },
  };
}

export type HealthActivities = ReturnType<typeof createHealthActivities>;
