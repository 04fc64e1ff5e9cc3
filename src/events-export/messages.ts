import { defineQuery, defineSignal } from '@temporalio/workflow';
import { CrossLifecycleSignals, type EventsInputLandedPayload } from '../temporal/workflowIds';
import type { EventsDestinationConfigInput } from './config';

/*
 * The events export workflow's contract with the world: input, status, signals and query.
 * The workflow, its client (CLI, schedule tick) and operators typing into the Temporal UI
 * all go by these. Ids, URIs and counts only: never an event, an identifier or a token.
 */

export const EventsExportWorkflowType = { export: 'eventsExport', tick: 'eventsExportTick' } as const;

/** An event file or a profile snapshot, and how to read it (format from the name when not given). */
export interface EventsInputObject {
  uri: string;
  format?: 'csv' | 'ndjson';
}

export interface EventsExportTiming {
  /** How often the config's default input is exported again (default 1h). */
  cadence?: string;
  /** Heartbeat timeout of preparing and sending (default 2m): how soon a dead worker's step moves on. */
  heartbeatTimeout?: string;
  /** Start-to-close timeout of housekeeping after a run (default 10m): how soon it is retried when its worker died. */
  dataStepTimeout?: string;
}

export const EVENTS_EXPORT_PHASES = ['idle', 'preparing', 'sending', 'exported', 'reauthorization_required', 'error'] as const;
export type EventsExportPhase = (typeof EVENTS_EXPORT_PHASES)[number];

/** A run ended in one of these. */
export const EVENTS_END_PHASES = ['exported', 'error'] as const satisfies readonly EventsExportPhase[];

/** What one export run did (the rejects files list each refused row). */
export interface LastEventsRun {
  runId: string;
  input: EventsInputObject;
  kind: 'files' | 'audienceTrigger';
  /** Rows read from the input (for triggers: enters and exits found). */
  rows: number;
  /** Events built and queued for sending. */
  events: number;
  /** Events TikTok acknowledged (a batch TikTok answered with code 0 or 20001). */
  sent: number;
  /** Rows and events refused, by reason: by ttsync's checks, or by TikTok (rejected_by_tiktok). */
  rejected: Record<string, number>;
  rejectsUris: string[];
  batches: number;
  /** Batches acknowledged by an earlier attempt and skipped (resumed from the ledger). */
  skippedBatches: number;
  /** Requests sent to /event/track/ (bisection included). */
  requests: number;
  /** Batches TikTok refused whole and that were split to isolate the bad events, plus 20001 answers. */
  partialFailures: number;
  /** In-client retries of throttled or failed requests. */
  retries: number;
  /** Trigger runs: enters and exits found. */
  changes?: { enters: number; exits: number; baseline: boolean };
  ok: boolean;
  finishedAt: string;
}

export interface EventsExportError {
  at: string;
  phase: EventsExportPhase;
  type: string | null;
  message: string;
}

export interface AnsweredEventsRequest {
  requestId: string;
  run: number;
  ok: boolean;
}

export const EVENTS_ANSWERED_KEEP = 20;

export interface EventsExportStatus {
  destinationId: string;
  source: string;
  eventSourceId: string;
  phase: EventsExportPhase;
  paused: boolean;
  /** Runs started by this workflow (across continue-as-new). */
  runs: number;
  currentRunId: string | null;
  lastRun: LastEventsRun | null;
  /** Audience triggers: the snapshot copy the next snapshot is diffed against. */
  baseline: EventsInputObject | null;
  advice: string | null;
  nextRunAt: string;
  lastError: EventsExportError | null;
  /** Inputs waiting for a run, oldest first (URIs only). */
  queued: string[];
  /** The state an alert announced and no run has cleared yet (error, reauthorization_required). */
  alerting?: { state: string; run: number } | null;
  /** The last input exported and the MD5 of its bytes: a scheduled re-export of the same bytes is skipped. Absent before the first run. */
  lastInput?: { uri: string; md5: string };
  answered: AnsweredEventsRequest[];
}

/** A request waiting for its run: an input, or the config's default input (no `input`). */
export interface QueuedEventsRequest {
  input?: EventsInputObject;
  requestIds: string[];
  onCadence?: boolean;
}

export interface CarriedEventsState {
  status: EventsExportStatus;
  queue: QueuedEventsRequest[];
  nextRunAtMs: number;
}

/** Plain JSON an operator can paste into the Temporal UI's start form. */
export interface EventsExportInput {
  config: EventsDestinationConfigInput;
  /** Export this file (or, for audience triggers, this snapshot) at once. */
  input?: EventsInputObject;
  /** Task queues of the data and events activities (default ttsync-data, ttsync-events). */
  queues?: { data?: string; events?: string };
  timing?: EventsExportTiming;
  carried?: CarriedEventsState;
}

/** What a Schedule gives its tick each cadence: the config with its secret reference only. */
export interface EventsExportTickInput {
  config: EventsDestinationConfigInput;
  taskQueue?: string;
  queues?: { data?: string; events?: string };
  timing?: EventsExportTiming;
}

export const eventsExportStatusQuery = defineQuery<EventsExportStatus>('eventsExportStatus');
/** A new event file or snapshot landed: queued, exported in landing order. */
export type InputLandedArgs = [EventsInputLandedPayload];
/** Also what audience syncs send to the events destinations they feed (the kernel's shared contract). */
export const inputLandedSignal = defineSignal<InputLandedArgs>(CrossLifecycleSignals.eventsInputLanded);
/** Export the config's default input now (`onCadence`: a schedule tick). */
export type EventsSyncNowArgs = [{ requestId?: string; onCadence?: boolean }?];
export const eventsSyncNowSignal = defineSignal<EventsSyncNowArgs>('syncNow');
export const eventsPauseSignal = defineSignal<[]>('pause');
export const eventsResumeSignal = defineSignal<[]>('resume');
/** The token was replaced: a workflow parked in reauthorization_required retries its step. */
export const eventsReauthorizedSignal = defineSignal<[]>('reauthorized');

export function initialEventsExportStatus(c: { destinationId: string; source: string; eventSourceId: string }): EventsExportStatus {
  return {
    destinationId: c.destinationId,
    source: c.source,
    eventSourceId: c.eventSourceId,
    phase: 'idle',
    paused: false,
    runs: 0,
    currentRunId: null,
    lastRun: null,
    baseline: null,
    advice: null,
    nextRunAt: '',
    lastError: null,
    queued: [],
    answered: [],
  };
}
