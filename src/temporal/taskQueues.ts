/**
 * Task queues split work by how it scales: workflows are cheap, data activities are CPU
 * and memory heavy, and TikTok calls share a per-app rate limit, which the processes of the
 * tiktok role split among themselves (src/tiktok/rateLimiter.ts, TIKTOK_QPS_WORKERS).
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

/**
 * No work ever runs here: with TIKTOK_QPS_WORKERS=auto every process of the `tiktok` role
 * keeps one idle poller on it, so the server's poller list of this queue is the list of live
 * processes sharing TikTok's per-app limits (src/temporal/workerShare.ts). A busy process
 * still polls it, unlike its work queues whose slots may all be taken.
 */
export const TIKTOK_MEMBERS_TASK_QUEUE = 'ttsync-tiktok-members';
