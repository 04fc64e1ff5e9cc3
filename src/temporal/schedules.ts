import { createHash } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { DestinationConfig } from '../audience-sync/config';
import { durationMs } from '../config/duration';
import { audienceSyncTick, type AudienceSyncTickInput } from '../../workflows';
import { SearchAttributeKeys } from './searchAttributes';
import { TaskQueues } from './taskQueues';

/*
 * One Temporal Schedule per audience destination. The Schedule starts the short
 * audienceSyncTick workflow every cadence, which signalWithStarts the destination's one
 * long-running audienceSync. A fingerprint of everything apply sets is kept in the
 * action's memo, so applying the same configs again is a no-op ("unchanged") and any change
 * is one update, without comparing the server's normalized description field by field.
 */

export const SCHEDULE_ID_PREFIX = 'audience-sync-schedule:';
const FINGERPRINT_MEMO = 'ttsyncScheduleFingerprint';
/** Bump when what apply writes changes shape, so existing schedules are rewritten once. */
const FORMAT = 2;
const MIN_CADENCE_MS = 60_000;

export const audienceScheduleId = (destinationId: string): string => `${SCHEDULE_ID_PREFIX}${destinationId}`;
export const audienceTickWorkflowId = (destinationId: string): string => `audience-sync-tick:${destinationId}`;

export interface ScheduleApplyOptions {
  /** How often the tick runs, e.g. "1h" (also the workflow's own cadence when the tick starts it). */
  cadence: string;
  /** Control queue of the tick and of the audience workflow (default ttsync-control). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string };
  /** Processing poll timing of an audience workflow a tick starts. */
  poll?: { initial?: string; max?: string };
  dryRun?: boolean;
  /** Delete audience schedules of this control queue whose destination is not in the set. */
  prune?: boolean;
}

export type ScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'kept';

export interface ScheduleChange {
  destinationId: string;
  scheduleId: string;
  outcome: ScheduleOutcome;
  /** Why, when the outcome needs it (e.g. kept: not in the config set and no --prune). */
  note?: string;
}

/** "1h" → ms; a readable error for anything else, or less than a minute. */
export function cadenceMs(cadence: string): number {
  const ms = durationMs(cadence);
  if (ms === undefined || ms <= 0) throw new RangeError(`invalid cadence ${JSON.stringify(cadence)}: use a duration such as "1h", "30m" or "1d"`);
  if (ms < MIN_CADENCE_MS) throw new RangeError(`cadence ${cadence} is shorter than 1m; an audience sync cycle alone takes minutes`);
  return ms;
}

function tickInput(config: DestinationConfig, opts: ScheduleApplyOptions): AudienceSyncTickInput {
  return {
    config,
    taskQueue: opts.taskQueue ?? TaskQueues.control,
    ...(opts.queues ? { queues: opts.queues } : {}),
    timing: { cadence: opts.cadence, ...(opts.poll?.initial ? { pollInitial: opts.poll.initial } : {}), ...(opts.poll?.max ? { pollMax: opts.poll.max } : {}) },
  };
}

function fingerprint(input: AudienceSyncTickInput, cadence: string): string {
  return createHash('sha256').update(JSON.stringify({ FORMAT, cadence, input })).digest('hex');
}

function scheduleParts(config: DestinationConfig, opts: ScheduleApplyOptions) {
  const every = cadenceMs(opts.cadence);
  const input = tickInput(config, opts);
  // Ops find a destination's schedule and its ticks like its sync workflow: DestinationId = "…".
  const typedSearchAttributes = [
    { key: SearchAttributeKeys.DestinationId, value: config.destinationId },
    { key: SearchAttributeKeys.AdvertiserId, value: config.advertiserId },
    { key: SearchAttributeKeys.Lifecycle, value: 'audience_sync_schedule' },
  ];
  const action: ScheduleOptionsStartWorkflowAction<typeof audienceSyncTick> = {
    type: 'startWorkflow',
    workflowType: audienceSyncTick,
    workflowId: audienceTickWorkflowId(config.destinationId),
    taskQueue: input.taskQueue ?? TaskQueues.control,
    args: [input],
    memo: { [FINGERPRINT_MEMO]: fingerprint(input, opts.cadence) },
    typedSearchAttributes,
    // A tick is one signal; one that cannot finish in minutes is stuck, and the next tick comes anyway.
    workflowExecutionTimeout: '10m',
  };
  return {
    spec: { intervals: [{ every }] },
    action,
    typedSearchAttributes,
    // SKIP: never two ticks at once. Catch up at most one cadence after an outage.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: every },
  };
}

/**
 * Creates or updates one schedule per destination, idempotently. The configs must already
 * be validated as a set (loadDestinationConfigs: schema, unique ids, two-advertiser rule).
 */
export async function applyAudienceSchedules(client: Client, configs: readonly DestinationConfig[], opts: ScheduleApplyOptions): Promise<ScheduleChange[]> {
  // Every schedule is built (and the cadence checked) before the first one is written.
  const planned = configs.map((config) => ({ config, scheduleId: audienceScheduleId(config.destinationId), parts: scheduleParts(config, opts) }));
  const changes: ScheduleChange[] = [];
  for (const { config, scheduleId, parts } of planned) {
    const handle = client.schedule.getHandle(scheduleId);
    const current = await handle.describe().catch((err: unknown) => {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    });
    const base = { destinationId: config.destinationId, scheduleId };
    if (!current) {
      if (!opts.dryRun) {
        try {
          await client.schedule.create({ scheduleId, ...parts });
        } catch (err) {
          // Created by a concurrent apply: it is there now, the next apply compares it.
          if (!(err instanceof ScheduleAlreadyRunning)) throw err;
        }
      }
      changes.push({ ...base, outcome: 'created' });
      continue;
    }
    const had = current.action.memo?.[FINGERPRINT_MEMO];
    if (had === parts.action.memo?.[FINGERPRINT_MEMO]) {
      changes.push({ ...base, outcome: 'unchanged', ...(current.state.paused ? { note: 'paused' } : {}) });
      continue;
    }
    // An operator's pause (state) is kept; everything apply owns is replaced.
    if (!opts.dryRun) await handle.update((prev) => ({ ...prev, ...parts }));
    changes.push({ ...base, outcome: 'updated' });
  }

  const wanted = new Set(planned.map((p) => p.scheduleId));
  const taskQueue = opts.taskQueue ?? TaskQueues.control;
  for await (const summary of client.schedule.list()) {
    if (!summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX) || wanted.has(summary.scheduleId)) continue;
    const handle = client.schedule.getHandle(summary.scheduleId);
    const desc = await handle.describe().catch(() => undefined);
    // Only schedules of this deployment (control queue) are this apply's to prune.
    if (!desc || desc.action.taskQueue !== taskQueue) continue;
    const destinationId = summary.scheduleId.slice(SCHEDULE_ID_PREFIX.length);
    if (opts.prune) {
      if (!opts.dryRun) await handle.delete();
      changes.push({ destinationId, scheduleId: summary.scheduleId, outcome: 'deleted' });
    } else changes.push({ destinationId, scheduleId: summary.scheduleId, outcome: 'kept', note: 'not in the config set; --prune deletes it' });
  }
  return changes;
}
