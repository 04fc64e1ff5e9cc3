import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CsvDelimiter, SnapshotFormat } from '../snapshot/schema';
import type { NoticeRequest } from '../notices/schema';
import type { DestinationConfig, DestinationConfigInput } from './config';

/*
 * The audience sync workflow's contract with the world: its input, its status, and the
 * signals, query and update that start, steer and read it. The workflow, its client (CLI,
 * schedule tick, demo) and operators typing into the Temporal UI all go by these; they are
 * pure so the workflow bundle and the client share one definition.
 */

/** The workflow type names (what `temporal workflow start --type` takes). */
export const AudienceSyncWorkflowType = { sync: 'audienceSync', tick: 'audienceSyncTick', preview: 'audienceSyncPreview' } as const;

/** The writer's signature, for typed client calls by type name (the client never imports workflow code). */
export type AudienceSyncWorkflow = (input: AudienceSyncInput) => Promise<void>;

/** A snapshot or change file and how to read it; format from the name when not given. */
export interface InputObject {
  uri: string;
  format?: SnapshotFormat;
  delimiter?: CsvDelimiter;
  /** ISO time the export was made, when the storage creation time is not it. */
  createdAt?: string;
}

/** A change batch: an enters file and/or an exits file, with the sizes its sender knows. */
export interface ChangeBatch {
  enters?: InputObject;
  exits?: InputObject;
  /** Users in the batch (enters + exits), when the sender knows: 500,000 pending flush at once. */
  users?: number;
  /** Bytes of the batch's files, when known: 250 MB pending flush at once. */
  bytes?: number;
}

export interface AudienceSyncTiming {
  /** How often pending change batches flush and storage.snapshot re-syncs (default 1h). */
  cadence?: string;
  /** First processing poll delay (default 30s); doubles up to pollMax. */
  pollInitial?: string;
  /** Longest delay between processing polls (default 30m). */
  pollMax?: string;
  /**
   * Heartbeat timeout of streaming steps (default 2m for data work, 5m for uploads): how soon
   * a step whose worker died is retried on another worker, from its last heartbeat.
   */
  heartbeatTimeout?: string;
  /** Start-to-close timeout of single TikTok calls (default 5m): how soon a call whose worker died is retried. */
  tiktokCallTimeout?: string;
  /** Start-to-close timeout of posting one alert notice (default 2m): how soon a notice whose worker died is retried. */
  noticeTimeout?: string;
  /**
   * Start-to-close timeout of the short data steps that do not heartbeat (default 10m): loading
   * and committing the applied state, claims, leases, housekeeping. How soon such a step whose
   * worker died is retried on another worker.
   */
  dataStepTimeout?: string;
}

/**
 * The steps of a cycle, in the order it runs them (a cycle skips those it does not need;
 * `replacing` stands where `appending` does). The CLI's progress bar follows this order.
 */
export const CYCLE_STEPS = [
  'inspecting',
  'loading_state',
  /** Looking up, by its literal name, the existing audience action append/replace feeds. */
  'finding_audience',
  'checking_cap',
  'preparing',
  'diffing',
  'building',
  'uploading',
  'creating',
  'waiting_for_processing',
  'appending',
  'removing',
  'committing',
] as const;

export const AUDIENCE_SYNC_PHASES = [
  'idle',
  ...CYCLE_STEPS,
  'replacing',
  'processing_overdue',
  'reauthorization_required',
  'synced',
  'too_small_to_target',
  'stale_snapshot',
  'audience_cap_reached',
  /** The source segment is already synced to another advertiser (the two-advertiser rule). */
  'segment_conflict',
  /** The audience is gone from TikTok (deleted) or was never there: parked until recreateAudience. */
  'audience_missing',
  /** Another destination holds the writer lease on the audience: nothing was sent. */
  'audience_conflict',
  'error',
] as const;

export type AudienceSyncPhase = (typeof AUDIENCE_SYNC_PHASES)[number];

export interface LastSync {
  runId: string;
  kind: 'snapshot' | 'changes';
  /** The snapshot this sync read (uri and creation time), for snapshot syncs. */
  snapshot?: { uri: string; createdAt: string; bytes: number };
  /** Ids sent in APPEND (or REPLACE) files. */
  added: number;
  /** Ids sent in REMOVE files. */
  removed: number;
  /** Rows and values prepare refused, by reason (the rejects files list each one). */
  rejected: Record<string, number>;
  rejectsUris: string[];
  files: number;
  bytes: number;
  /** Ids in the applied state after this sync, per identifier type. */
  appliedCounts: Record<string, number>;
  finishedAt: string;
}

export interface SyncError {
  at: string;
  phase: AudienceSyncPhase;
  /** The failure type (e.g. InvalidRequest, SnapshotUnreadable) when known. */
  type: string | null;
  message: string;
}

export interface AudienceSyncStatus {
  destinationId: string;
  advertiserId: string;
  phase: AudienceSyncPhase;
  audienceId: string | null;
  paused: boolean;
  /** Sync cycles started by this workflow (across continue-as-new). */
  cycles: number;
  /** The cycle in progress, if any. */
  currentRunId: string | null;
  lastSync: LastSync | null;
  /** The last snapshot applied (change batches since then are on top of it). */
  appliedSnapshot: { uri: string; createdAt: string; bytes: number } | null;
  isValid: boolean | null;
  coverNum: number | null;
  /** What the operator should do when phase asks for action. */
  advice: string | null;
  /** When the cadence timer fires next (ISO). */
  nextRunAt: string;
  lastError: SyncError | null;
  pendingBatches: number;
  /**
   * The last requests (syncNow / snapshotLanded with a requestId) whose cycle has finished,
   * oldest first, at most ANSWERED_KEEP: a client waiting on its own request looks for its id
   * here instead of guessing from the cycle count (a cadence cycle may start in between).
   * Absent in runs of older code.
   */
  answered?: AnsweredRequest[];
  /**
   * What the workflow has been asked to do and has not run yet (ids and URIs only): held
   * while paused or parked, waiting for the cadence, or next in line. Absent in runs of older code.
   */
  queued?: QueuedRequests;
  /** The create of this destination's audience, when ttsync created it (AudienceCreate). Absent in runs of older code. */
  audienceCreate?: AudienceCreate;
}

/**
 * TikTok's create has no idempotency key and can take effect after the client gave up, so
 * a create is named with a marker made of the destination and `token` (recorded before the
 * first attempt, kept until a recreate; src/audience-sync/createMarker.ts). After a create
 * whose outcome was uncertain (retried, or an earlier attempt found), cycles look for other
 * audiences with the marker until `checkUntil` and delete them: `audienceId` is the one the
 * create adopted and the only one ever written.
 */
export interface AudienceCreate {
  token: string;
  audienceId?: string;
  /** ISO time: strays are looked for at each cycle until the first check after it. */
  checkUntil?: string;
  /** Audiences deleted as strays (late creates), newest last, at most 20. */
  straysDeleted?: string[];
}

/** Requests waiting for a cycle, as status shows them. */
export interface QueuedRequests {
  /**
   * A snapshot sync waiting: its uri (none: the config's storage.snapshot), `onCadence` when
   * only the cadence asked for it (skipped if the export is unchanged), the requests it answers.
   */
  snapshot?: { uri?: string; onCadence?: boolean; requestIds: string[] };
  /** Change batches waiting (as pendingBatches). */
  batches: number;
  /** The batches flush at the next chance (syncNow, size threshold) instead of at the cadence. */
  flushRequested: boolean;
  /** Requests the flush of the batches answers. */
  flushRequestIds: string[];
  /** recreateAudience was signalled and its cycle has not run yet. */
  recreate?: boolean;
}

/** Answered requests kept in status (enough for every client waiting at once on one destination). */
export const ANSWERED_KEEP = 20;

export interface AnsweredRequest {
  requestId: string;
  /** The cycle that ran it (status.cycles at its end) and whether it succeeded. */
  cycle: number;
  ok: boolean;
}

/** An alert announced as entered and not yet as cleared (src/audience-sync/alerts.ts). */
export interface OpenAlert {
  state: AudienceSyncPhase;
  /** The alert's number in this destination's workflow (across continue-as-new): part of its notice keys. */
  seq: number;
  /** When it was entered (workflow time, ISO) and in which cycle. */
  since: string;
  cycle: number;
}

/** The alerts continue-as-new carries. `epoch`: the first run's id, so a workflow started anew for the destination never reuses an old one's notice keys. */
export interface CarriedAlerts {
  epoch: string;
  seq: number;
  open: OpenAlert[];
  /** Alert notices whose delivery failed (receiver down): posted again from the next cycle on, same keys. */
  unsent?: NoticeRequest[];
}

/** What continue-as-new carries to the next run. */
export interface CarriedState {
  status: AudienceSyncStatus;
  pending: ChangeBatch[];
  flushRequested: boolean;
  /** A snapshot sync asked for and not yet run; no `snapshot` means the config's storage.snapshot. */
  snapshotRequest: SnapshotRequest | null;
  nextRunAtMs: number;
  /** recreateAudience was signalled and no cycle has completed since. */
  recreateRequested?: boolean;
  /** Request ids the next flush of change batches answers. */
  flushRequestIds?: string[];
  /** Open alerts and the alert numbering (absent in runs from before alerts). */
  alerts?: CarriedAlerts;
}

/** Plain JSON an operator can paste into the Temporal UI's start form. */
export interface AudienceSyncInput {
  config: DestinationConfigInput;
  /** Sync this snapshot at once. */
  snapshot?: InputObject;
  /** Apply this change batch at once. */
  changes?: ChangeBatch;
  /** Task queues of the data and TikTok activities (default ttsync-data, ttsync-tiktok). */
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
  carried?: CarriedState;
}

export const audienceSyncStatusQuery = defineQuery<AudienceSyncStatus>('audienceSyncStatus');
/**
 * The config the running workflow holds (secret references, never secrets), so a caller sends
 * updateConfig only when its config differs: an Update accepted in the same workflow task as
 * other commands, after a worker died holding that task, has wedged a destination on replay
 * (the TypeScript SDK 1.24; reproduced by test/fixtures/chaos/audienceSync-update-replay-nde.json).
 */
export const audienceSyncConfigQuery = defineQuery<DestinationConfig>('audienceSyncConfig');
/**
 * Run a cycle now: the given snapshot, else flush pending batches and re-sync storage.snapshot.
 * `onCadence` (a schedule tick) asks for what the cadence timer does: flush pending batches and
 * re-sync storage.snapshot only if the export changed, so a tick can never undo change batches
 * by re-applying an old export.
 */
export type SyncNowArgs = [{ snapshot?: InputObject; onCadence?: boolean; requestId?: string }?];
export const syncNowSignal = defineSignal<SyncNowArgs>('syncNow');
/** `requestId`, on this and syncNow: the caller's name for the request, listed in status.answered once its cycle ends. */
export type SnapshotLandedArgs = [{ snapshot: InputObject; requestId?: string }];
export const snapshotLandedSignal = defineSignal<SnapshotLandedArgs>('snapshotLanded');
export const addChangeBatchSignal = defineSignal<[ChangeBatch]>('addChangeBatch');
export const pauseSignal = defineSignal<[]>('pause');
export const resumeSignal = defineSignal<[]>('resume');
/** The token was replaced: a workflow parked in reauthorization_required retries its step. */
export const reauthorizedSignal = defineSignal<[]>('reauthorized');
/**
 * The way out of audience_missing: the next cycle creates the audience (or finds one of the
 * configured literal name) and sends it the whole applied state plus whatever is pending.
 */
export const recreateAudienceSignal = defineSignal<[]>('recreateAudience');
/** Validated by DestinationConfigSchema before it is accepted; applies from the next cycle. */
export const updateConfigUpdate = defineUpdate<{ destinationId: string; appliesFrom: 'next_cycle' }, [DestinationConfigInput]>('updateConfig');

/** `onCadence`: asked for by the timer, not by anyone: an unchanged snapshot is skipped. */
export interface SnapshotRequest {
  snapshot?: InputObject;
  onCadence?: boolean;
  /** Requests this sync answers (a superseded snapshot's requests included). */
  requestIds?: string[];
}

/** `batches`: the pending change batches this cycle applies, in order (all of them, in one cycle). */
export type SyncRequest = ({ kind: 'snapshot' } & SnapshotRequest) | { kind: 'changes'; batches: ChangeBatch[]; requestIds?: string[] };

/** What a destination's Schedule gives its tick workflow each cadence: the config with its secret reference only, never a token. */
export interface AudienceSyncTickInput {
  config: DestinationConfigInput;
  /** Control queue of the long-running audienceSync (default: the tick's own queue). */
  taskQueue?: string;
  queues?: { data?: string; tiktok?: string };
  timing?: AudienceSyncTiming;
}

/** `batches`: the pending change batches this cycle applies, in order (all of them, in one cycle). */

/** A destination's status before its first cycle. */
export function initialAudienceSyncStatus(ids: { destinationId: string; advertiserId: string; audienceId?: string | undefined }): AudienceSyncStatus {
  return {
    destinationId: ids.destinationId,
    advertiserId: ids.advertiserId,
    phase: 'idle',
    audienceId: ids.audienceId ?? null,
    paused: false,
    cycles: 0,
    currentRunId: null,
    lastSync: null,
    appliedSnapshot: null,
    isValid: null,
    coverNum: null,
    advice: null,
    nextRunAt: '',
    lastError: null,
    pendingBatches: 0,
  };
}
