import type { DestinationConfig } from '../../src/audience-sync/config';
import { identifierTypeFor } from '../../src/audience-sync/config';
import { durationMs } from '../../src/config/duration';
import { calculateTypeOf, type CalculateType } from '../../src/tiktok/types';
import { MAX_FILE_PATHS_PER_CALL } from '../../src/tiktok/limits';
import type { AudienceSyncStatus } from './audienceSync';
import { TikTokErrorType, TIKTOK_NON_RETRYABLE_ERROR_TYPES } from '../../src/tiktok/errorTypes';

/*
 * Pure decisions of the audience sync control plane, kept out of the workflow body so unit
 * tests can pin them down. Workflow-safe: no Node built-ins, no I/O, no clock.
 */

/**
 * The one workflow of a destination: a fixed id makes Temporal refuse a second writer.
 * (Not re-exported from workflows/index.ts: every function exported there is a workflow type.)
 */
export function audienceSyncWorkflowId(destinationId: string): string {
  return `audience-sync:${destinationId}`;
}

/** Pending change batches flush at once from this many users (Lytics' threshold)... */
export const FLUSH_USERS = 500_000;
/** ...or this many bytes of input. */
export const FLUSH_BYTES = 250 * 1024 * 1024;
/** Below this many matched people TikTok cannot target the audience. */
export const MIN_TARGETABLE = 1000;
export const TOO_SMALL_ADVICE = 'send at least 5,000 phones or 10,000 emails';
export const SEGMENT_CONFLICT_ADVICE =
  'TikTok refuses one segment in two ad accounts: to sync it here as well, set separateCopy: true and give this destination an audienceName of its own (updateConfig), then syncNow; or release the other destination\'s claim in the segment registry (segments/<sha256 of the segment id>.json under TTSYNC_SEGMENT_REGISTRY) if it no longer syncs';
/** TikTok's cap of custom audiences per advertiser. */
export const AUDIENCE_CAP = 400;

/*
 * Failure types, by name. TikTok's classes come from src/tiktok/errorTypes (pure constants);
 * activities/ and src/audience pull in Node code, so their names are repeated here and
 * test/unit/audience-control-plan checks they equal ActivityFailureType and
 * NON_RETRYABLE_AUDIENCE_DATA_ERRORS.
 */
export const FailureTypes = {
  ...TikTokErrorType,
  SecretUnavailable: 'SecretUnavailable',
  FileIntegrity: 'FileIntegrity',
  AmbiguousAudience: 'AmbiguousAudience',
  AudienceNotFound: 'AudienceNotFound',
  /** The source segment is claimed by a destination of another advertiser (activities/audienceData SEGMENT_CONFLICT). */
  SegmentConflict: 'SegmentConflict',
  FilePathExpired: 'FilePathExpired',
} as const;

/** Re-uploads of expired file paths per cycle; past it the cycle fails instead of looping. */
export const MAX_REUPLOADS = 5;

export const TIKTOK_NON_RETRYABLE: readonly string[] = TIKTOK_NON_RETRYABLE_ERROR_TYPES;

export const DATA_NON_RETRYABLE: readonly string[] = [
  'AudienceDataBadConfig',
  'SnapshotUnreadable',
  'StorageObjectMissing',
  'StorageAccessDenied',
  'AudienceDataCorrupt',
  'AppliedStateConflict',
];

/** What the TikTok activities' retry policy must not retry: retrying cannot fix these. */
export const TIKTOK_ACTIVITY_NON_RETRYABLE: readonly string[] = [
  ...TIKTOK_NON_RETRYABLE,
  FailureTypes.SecretUnavailable,
  FailureTypes.FileIntegrity,
  FailureTypes.AmbiguousAudience,
  FailureTypes.AudienceNotFound,
  FailureTypes.SegmentConflict,
  FailureTypes.FilePathExpired,
  ...DATA_NON_RETRYABLE,
];

/** Failures an operator fixes by giving ttsync a working token; the workflow parks on them. */
export const REAUTHORIZATION_FAILURES: readonly string[] = [FailureTypes.ReauthorizationRequired, FailureTypes.SecretUnavailable];

/**
 * The audience's calculate_type. TikTok requires every file of an audience to use the
 * audience's encryption type, so it is fixed by the destination's mapping, not by the files
 * one sync happens to produce (a first snapshot without phones must not make an email-only
 * audience that later phone files are refused from): one mapped type → that type;
 * several → MULTIPLE_TYPES.
 */
export function audienceCalculateType(config: Pick<DestinationConfig, 'identifiers' | 'maidHash'>): CalculateType {
  const types = new Set<CalculateType>();
  for (const column of Object.values(config.identifiers)) {
    const t = identifierTypeFor(column, config.maidHash);
    if (t !== undefined) types.add(calculateTypeOf(t));
  }
  const [only, ...rest] = [...types];
  if (only === undefined) throw new RangeError('the destination maps no identifier TikTok audiences can carry');
  return rest.length === 0 ? only : 'MULTIPLE_TYPES';
}

/** The calculate_type a file is uploaded with: its own, or MULTIPLE_TYPES in a multi-type audience. */
export function uploadCalculateType(audienceType: CalculateType, fileType: CalculateType): CalculateType {
  return audienceType === 'MULTIPLE_TYPES' ? 'MULTIPLE_TYPES' : fileType;
}

/** Splits into consecutive chunks of at most `size`. */
export function chunks<T>(items: readonly T[], size = MAX_FILE_PATHS_PER_CALL): T[][] {
  if (size < 1) throw new RangeError('chunk size must be at least 1');
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** `count` contiguous shard groups [from, to) covering 0..256, as even as possible. */
export function shardGroups(count = 4, shards = 256): [number, number][] {
  const out: [number, number][] = [];
  for (let g = 0; g < count; g++) out.push([Math.floor((g * shards) / count), Math.floor(((g + 1) * shards) / count)]);
  return out.filter(([a, b]) => b > a);
}

/** Exponential backoff of the processing poll: doubles, capped at `maxMs`. */
export function nextPollDelay(currentMs: number, maxMs: number): number {
  return Math.min(Math.max(1, currentMs * 2), maxMs);
}

/** A duration string of the workflow input in ms, or the fallback when absent. */
export function msOf(value: string | undefined, fallback: string): number {
  const ms = durationMs(value ?? fallback);
  if (ms === undefined || ms <= 0) throw new RangeError(`invalid duration ${JSON.stringify(value)}: use e.g. "1h", "30s", "500ms"`);
  return ms;
}

export interface BatchSize {
  users?: number;
  bytes?: number;
}

/**
 * Pending change batches flush at once when what their signals announced reaches 500,000
 * users or 250 MB; batches that announced nothing wait for the cadence timer.
 */
export function shouldFlushNow(batches: readonly BatchSize[], limits = { users: FLUSH_USERS, bytes: FLUSH_BYTES }): boolean {
  let users = 0;
  let bytes = 0;
  for (const b of batches) {
    users += b.users ?? 0;
    bytes += b.bytes ?? 0;
  }
  return users >= limits.users || bytes >= limits.bytes;
}

/** Rejected rows and values by reason, summed over what prepare read. */
export function rejectedByReason(
  inputs: readonly ({ counts: { rowsRejected: Partial<Record<string, number>>; types: Partial<Record<string, { rejected: Partial<Record<string, number>> }>> } } | undefined)[],
): Record<string, number> {
  const out: Record<string, number> = {};
  const add = (r: Partial<Record<string, number>>) => {
    for (const [reason, n] of Object.entries(r)) if (n) out[reason] = (out[reason] ?? 0) + n;
  };
  for (const i of inputs) {
    if (!i) continue;
    add(i.counts.rowsRejected);
    for (const t of Object.values(i.counts.types)) if (t) add(t.rejected);
  }
  return out;
}

/** The identifier of one sync cycle: names its data-plane folder, unique across destinations and executions. */
export function cycleRunId(destinationId: string, cycle: number, temporalRunId: string): string {
  return `${destinationId}.${String(cycle).padStart(6, '0')}.${temporalRunId.replace(/[^A-Za-z0-9]/g, '').slice(0, 32)}`;
}

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
