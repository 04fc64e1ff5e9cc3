/**
 * Task queues split work by how it scales: workflows are cheap, data activities are CPU
 * and memory heavy, and TikTok calls share a per-app rate limit that Temporal enforces
 * across every worker through maxTaskQueueActivitiesPerSecond on their own queue.
 */
export const TaskQueues = {
  control: 'ttsync-control',
  data: 'ttsync-data',
  tiktok: 'ttsync-tiktok',
} as const;

export type TaskQueueRole = keyof typeof TaskQueues;
export const ALL_TASK_QUEUE_ROLES = Object.keys(TaskQueues) as TaskQueueRole[];

/**
 * Events API calls (/event/track/): their own queue, because TikTok allows them far more
 * (1,000 QPS per app at every tier) than the ~10 QPS of everything else, so they must not
 * share the TikTok queue's limit. Polled by workers of the `tiktok` role; its
 * maxTaskQueueActivitiesPerSecond is set on that worker (src/worker.ts).
 */
export const EVENTS_TASK_QUEUE = 'ttsync-events';
