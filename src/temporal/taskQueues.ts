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
