import { Worker, type NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { AUTO_MARGIN_MS, sharePart, type WorkerShare } from '../tiktok/rateLimiter';

/*
 * TikTok's per-app limit shared by however many worker processes run, with nothing but
 * Temporal in common: each process keeps an idle poller on the members queue, reads the
 * queue's poller list every `refreshMs`, and takes its part of each limit among the N
 * identities that polled within `staleMs` (an idle long poll is renewed at least every
 * minute; see liveMembers): whole requests per second by rank, adding up to the limit
 * (sharePart). More
 * processes of the tiktok role than the limit's QPS leave some with no part: keep them fewer.
 *   - A process that joins sends nothing until the others have seen it: it waits until the
 *     list shows itself, then two refreshes and one limiter window more. By then every other
 *     process has moved to its part among N+1 and no request of the old part is still in a window.
 *   - A process that dies stays counted until its last poll is `staleMs` (2 min) old: the others
 *     under-use the limit for that long, never over-use it.
 */

export interface WorkerShareOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  identity: string;
  refreshMs?: number;
  staleMs?: number;
  /** Told when the count or this process's rank changes, and when it may begin to send. */
  log?: (line: string) => void;
  /** The limiter window the join waits out (default 1 s + the limiter's margin). */
  windowMs?: number;
}

export interface RunningWorkerShare extends WorkerShare {
  /** The idle poller: run with the process's other workers, shut down with them. */
  worker: Worker;
  stop(): void;
}

/**
 * The processes sharing the limit: every identity whose latest poll (as any list so far
 * showed it; `memory` keeps them) is at most `staleMs` old, this one always among them; its
 * rank among them sorted; and whether the server lists it now. A process missing from one
 * list (the server gathers partitions and caches the result) stays counted: a count may only
 * fall once a process has been silent for `staleMs`, so a flicker never raises anyone's part.
 */
export function liveMembers(
  pollers: readonly { identity?: string | null; lastAccessTime?: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null }[],
  self: string,
  nowMs: number,
  staleMs: number,
  memory: Map<string, number> = new Map(),
): { count: number; rank: number; seen: boolean } {
  let seen = false;
  for (const p of pollers) {
    if (!p.identity) continue;
    // Seconds come as a Long from the gRPC client: its decimal text reads the same as a number's.
    const t = p.lastAccessTime;
    const at = t ? Number(String(t.seconds ?? 0)) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : nowMs;
    memory.set(p.identity, Math.max(memory.get(p.identity) ?? 0, at));
    if (p.identity === self) seen = true;
  }
  const live = new Set([...memory].filter(([, at]) => nowMs - at <= staleMs).map(([id]) => id));
  for (const id of memory.keys()) if (!live.has(id)) memory.delete(id);
  live.add(self);
  return { count: live.size, rank: [...live].sort().indexOf(self), seen };
}

export async function startWorkerShare(opts: WorkerShareOptions): Promise<RunningWorkerShare> {
  const refreshMs = opts.refreshMs ?? 2_000;
  // An idle long poll lasts up to a minute and the enhanced answer is cached 5 s: two minutes
  // of silence is a dead process, not a quiet one.
  const staleMs = opts.staleMs ?? 120_000;
  const windowMs = opts.windowMs ?? 1_000 + AUTO_MARGIN_MS;
  const worker = await Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    identity: opts.identity,
    // Never scheduled: the worker exists for its poller.
    activities: { tiktokShareMember: () => Promise.resolve() },
    maxConcurrentActivityTaskPolls: 1,
    maxConcurrentActivityTaskExecutions: 1,
  });
  let count = 1;
  let rank = 0;
  let logged: { count: number; rank: number } | undefined;
  const memory = new Map<string, number>();
  let openAt: number | undefined;
  let opened!: () => void;
  const ready = new Promise<void>((resolve) => (opened = resolve));

  const refresh = async (): Promise<void> => {
    // Both answers: the enhanced one gathers every partition of the queue (cached a few
    // seconds, and its times only move when a long poll ends); the legacy one is the root
    // partition's, where idle polls of the other partitions are forwarded.
    const { enums } = temporal.api;
    const taskQueue = { name: opts.taskQueue, kind: enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL };
    const [enhanced, legacy] = await Promise.allSettled([
      opts.connection.workflowService.describeTaskQueue({
        namespace: opts.namespace,
        taskQueue,
        apiMode: enums.v1.DescribeTaskQueueMode.DESCRIBE_TASK_QUEUE_MODE_ENHANCED,
        versions: { unversioned: true },
        taskQueueTypes: [enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY],
        reportPollers: true,
      }),
      opts.connection.workflowService.describeTaskQueue({ namespace: opts.namespace, taskQueue, taskQueueType: enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY }),
    ]);
    if (enhanced.status === 'rejected' && legacy.status === 'rejected') throw legacy.reason;
    const pollers = [
      ...(enhanced.status === 'fulfilled' ? Object.values(enhanced.value.versionsInfo ?? {}).flatMap((v) => Object.values(v.typesInfo ?? {}).flatMap((t) => t.pollers ?? [])) : []),
      ...(legacy.status === 'fulfilled' ? (legacy.value.pollers ?? []) : []),
    ];
    const now = Date.now();
    const m = liveMembers(pollers, opts.identity, now, staleMs, memory);
    // Logged once seen, against what was last logged: a first answer that lists the others but
    // not yet this process sets the count silently, and must not hide it from the log.
    if (m.seen && (m.count !== logged?.count || m.rank !== logged.rank)) {
      opts.log?.(`TikTok limits shared by ${m.count} worker process(es); this one is rank ${m.rank}`);
      logged = { count: m.count, rank: m.rank };
    }
    count = m.count;
    rank = m.rank;
    if (m.seen && openAt === undefined) {
      openAt = now + 2 * refreshMs + windowMs;
      setTimeout(() => {
        opts.log?.('TikTok requests may start: every worker has seen this one');
        opened();
      }, openAt - now).unref();
    }
  };
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    // A failed read keeps the last count: the server is unreachable for the requests too.
    refresh().catch(() => undefined).finally(() => {
      if (timer !== undefined) timer = setTimeout(tick, refreshMs).unref();
    });
  };
  timer = setTimeout(tick, 0).unref();
  return {
    worker,
    workers: () => count,
    budget: (qps: number) => sharePart(qps, count, rank),
    ready: () => ready,
    stop: () => {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
