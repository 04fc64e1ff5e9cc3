import { createHash } from 'node:crypto';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import { durationMs } from '../config/duration';
import { TaskQueues } from './taskQueues';

/*
 * `ttsync schedules apply` for every lifecycle: each lifecycle plugs in a ScheduleSource that
 * turns its configs into planned Schedules, and this module creates, updates and prunes them
 * idempotently. A Schedule always starts a short tick workflow, never a single writer
 * directly (Temporal suffixes a scheduled workflow's id with its time, and a writer's id
 * must stay derived). A fingerprint of everything apply sets is kept in the action's memo,
 * so applying the same configs again is a no-op ("unchanged") and any change is one update,
 * without comparing the server's normalized description field by field.
 */

const FINGERPRINT_MEMO = 'ttsyncScheduleFingerprint';
/** Bump when what apply writes changes shape, so existing schedules are rewritten once. */
const FORMAT = 2;
const MIN_CADENCE_MS = 60_000;

export interface ScheduleApplyOptions {
  /** How often the tick runs, e.g. "1h" (also the writer's own cadence when the tick starts it). */
  cadence: string;
  /** Control queue of the tick and of the workflow it starts (default ttsync-control). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string; events?: string };
  /** Processing poll timing of a workflow a tick starts. */
  poll?: { initial?: string; max?: string };
  /**
   * Start-to-close timeout of the quick data steps of a workflow a tick starts (its
   * timing.dataStepTimeout; the workflow's default is 10m). A completion lost by an
   * overloaded server is retried only when it runs out.
   */
  dataStepTimeout?: string;
  dryRun?: boolean;
  /** Delete this source's schedules of this control queue whose subject is not in the set. */
  prune?: boolean;
  /**
   * Each action starts up to this much later, at random (Temporal's spec jitter): without it,
   * every Schedule of one cadence fires in the same second, and a thousand destinations
   * arrive at the server and TikTok as one burst. Less than the cadence.
   */
  jitter?: string;
}

/** One Schedule as a lifecycle wants it. */
export interface PlannedSchedule {
  /** What the schedule keeps going (a destination id, an account id), for the report. */
  subject: string;
  scheduleId: string;
  /** A tick workflow type. */
  workflowType: string;
  workflowId: string;
  /** The tick's one argument; fingerprinted with the cadence. */
  input: unknown;
  typedSearchAttributes: SearchAttributePair[];
  /**
   * A calendar instead of the cadence: at `hour:minute` in `timeZone` (IANA), on `dayOfMonth`
   * of every month, or every day when absent. The cadence is then not used.
   */
  calendar?: { dayOfMonth?: number; hour: number; minute: number; timeZone: string };
}

/** What a lifecycle plugs into `schedules apply`. */
export interface ScheduleSource<Config, Planned extends PlannedSchedule | PlannedSchedule[] = PlannedSchedule> {
  /** The lifecycle's name (the --lifecycle value). */
  lifecycle: string;
  /** Prefix of every schedule id of this source: prune looks only at these. */
  idPrefix: string;
  /** The cadence when `--cadence` is not given (default 1h). */
  defaultCadence?: string;
  /** Every config of a file or folder, validated as a set; throws a readable error listing every problem. */
  load(path: string): Promise<Config[]>;
  /** One Schedule per config, or several (e.g. a monthly and a daily one per advertiser). */
  plan(config: Config, opts: ScheduleApplyOptions): Planned;
}

export type ScheduleOutcome = 'created' | 'updated' | 'unchanged' | 'deleted' | 'kept';

export interface ScheduleChange {
  /** The subject (for audience sync, the destination id). */
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
  if (ms < MIN_CADENCE_MS) throw new RangeError(`cadence ${cadence} is shorter than 1m; a sync cycle alone takes minutes`);
  return ms;
}

function fingerprint(input: unknown, cadence: string, calendar?: PlannedSchedule['calendar'], jitter?: string): string {
  // Without a calendar (or jitter) the object hashed is the one of before them: fingerprints stay.
  const spread = jitter ? { jitter } : {};
  return createHash('sha256').update(JSON.stringify(calendar ? { FORMAT, calendar, input, ...spread } : { FORMAT, cadence, input, ...spread })).digest('hex');
}

/** The jitter in ms; a readable error unless it is a duration shorter than the cadence. */
export function jitterMs(jitter: string, cadence: string): number {
  const ms = durationMs(jitter);
  if (ms === undefined || ms <= 0) throw new RangeError(`invalid jitter ${JSON.stringify(jitter)}: use a duration such as "5m"`);
  if (ms >= cadenceMs(cadence)) throw new RangeError(`jitter ${jitter} is not shorter than the cadence ${cadence}: ticks would run into each other`);
  return ms;
}

const DAY_MS = 86_400_000;

function scheduleParts(planned: PlannedSchedule, opts: ScheduleApplyOptions) {
  const every = cadenceMs(opts.cadence);
  const cal = planned.calendar;
  const spread = opts.jitter ? { jitter: jitterMs(opts.jitter, cal ? '1d' : opts.cadence) } : {};
  const action: ScheduleOptionsStartWorkflowAction<(input: unknown) => Promise<unknown>> = {
    type: 'startWorkflow',
    workflowType: planned.workflowType,
    workflowId: planned.workflowId,
    taskQueue: opts.taskQueue ?? TaskQueues.control,
    args: [planned.input],
    memo: { [FINGERPRINT_MEMO]: fingerprint(planned.input, opts.cadence, cal, opts.jitter) },
    typedSearchAttributes: planned.typedSearchAttributes,
    // A tick is one signal; one that cannot finish in minutes is stuck, and the next tick comes anyway.
    workflowExecutionTimeout: '10m',
  };
  if (cal)
    return {
      spec: { calendars: [{ hour: cal.hour, minute: cal.minute, ...(cal.dayOfMonth ? { dayOfMonth: cal.dayOfMonth } : {}) }], timezone: cal.timeZone, ...spread },
      action,
      typedSearchAttributes: planned.typedSearchAttributes,
      // A monthly action missed during an outage still runs within a week; a daily one within a day.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: cal.dayOfMonth ? 7 * DAY_MS : DAY_MS },
    };
  return {
    spec: { intervals: [{ every }], ...spread },
    action,
    typedSearchAttributes: planned.typedSearchAttributes,
    // SKIP: never two ticks at once. Catch up at most one cadence after an outage.
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: every },
  };
}

/** Creates or updates one schedule per config, idempotently; the configs come validated as a set from source.load. */
export async function applySchedules<Config>(client: Client, source: ScheduleSource<Config, PlannedSchedule | PlannedSchedule[]>, configs: readonly Config[], opts: ScheduleApplyOptions): Promise<ScheduleChange[]> {
  // Every schedule is built (and the cadence checked) before the first one is written.
  const planned = configs.flatMap((config) => {
    const p = source.plan(config, opts);
    return (Array.isArray(p) ? p : [p]).map((one) => ({ subject: one.subject, scheduleId: one.scheduleId, parts: scheduleParts(one, opts) }));
  });
  const changes: ScheduleChange[] = [];
  for (const { subject, scheduleId, parts } of planned) {
    const handle = client.schedule.getHandle(scheduleId);
    const current = await handle.describe().catch((err: unknown) => {
      if (err instanceof ScheduleNotFoundError) return undefined;
      throw err;
    });
    const base = { destinationId: subject, scheduleId };
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
    if (!summary.scheduleId.startsWith(source.idPrefix) || wanted.has(summary.scheduleId)) continue;
    const handle = client.schedule.getHandle(summary.scheduleId);
    const desc = await handle.describe().catch(() => undefined);
    // Only schedules of this deployment (control queue) are this apply's to prune.
    if (!desc || desc.action.taskQueue !== taskQueue) continue;
    const subject = summary.scheduleId.slice(source.idPrefix.length);
    if (opts.prune) {
      if (!opts.dryRun) await handle.delete();
      changes.push({ destinationId: subject, scheduleId: summary.scheduleId, outcome: 'deleted' });
    } else changes.push({ destinationId: subject, scheduleId: summary.scheduleId, outcome: 'kept', note: 'not in the config set; --prune deletes it' });
  }
  return changes;
}
