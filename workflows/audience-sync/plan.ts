import type { DestinationConfig } from '../../src/audience-sync/config';
import { identifierTypeFor } from '../../src/audience-sync/config';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { AudienceSyncPhase, AudienceSyncStatus } from '../../src/audience-sync/messages';
import { durationMs } from '../../src/config/duration';
import { CUSTOM_AUDIENCE_CAP, MAX_FILE_PATHS_PER_CALL } from '../../src/tiktok/limits';
import { calculateTypeOf, type AudienceAction, type CalculateType } from '../../src/tiktok/types';

/*
 * Pure decisions of the audience sync control plane, kept out of the workflow body so unit
 * tests can pin them down. Workflow-safe: no Node built-ins, no I/O, no clock.
 */

/** Pending change batches flush at once from this many users (Lytics' threshold)... */
export const FLUSH_USERS = 500_000;
/** ...or this many bytes of input. */
export const FLUSH_BYTES = 250 * 1024 * 1024;
/** Below this many matched people TikTok cannot target the audience. */
export const MIN_TARGETABLE = 1000;
export const TOO_SMALL_ADVICE = 'send at least 5,000 phones or 10,000 emails';
export const SEGMENT_CONFLICT_ADVICE =
  'TikTok refuses one segment in two ad accounts: to sync it here as well, set separateCopy: true and give this destination an audienceName of its own (updateConfig), then syncNow; or release the other destination\'s claim in the segment registry (segments/<sha256 of the segment id>.json under TTSYNC_SEGMENT_REGISTRY) if it no longer syncs';
/** TikTok's cap of custom audiences per advertiser (`ttsync doctor` reads the same one). */
export const AUDIENCE_CAP = CUSTOM_AUDIENCE_CAP;

/** Re-uploads of expired file paths per cycle; past it the cycle fails instead of looping. */
export const MAX_REUPLOADS = 5;

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


/** The phase an edit shows while it runs. */
export function editPhase(action: AudienceAction): AudienceSyncPhase {
  return action === 'REMOVE' ? 'removing' : action === 'REPLACE' ? 'replacing' : 'appending';
}

/** What sendFiles needs of a built file. */
export interface BuiltFileRef {
  uri: string;
  md5: string;
  calculateType: CalculateType;
  action: 'APPEND' | 'REMOVE';
  ids: number;
  bytes: number;
}

export interface EditStep {
  action: AudienceAction | 'CREATE';
  files: readonly BuiltFileRef[];
}

/**
 * The calls that use file paths, in order, at most MAX_FILE_PATHS_PER_CALL files each: the
 * create (with the first chunk of adds) when there is no audience yet, the adds (the first
 * as REPLACE when asked), then the removes.
 */
export function editSteps(p: { appendFiles: readonly BuiltFileRef[]; removeFiles: readonly BuiltFileRef[]; create: boolean; replaceFirst: boolean }): EditStep[] {
  const steps: EditStep[] = [];
  const appendChunks = chunks(p.appendFiles);
  if (p.create) steps.push({ action: 'CREATE', files: appendChunks.shift() ?? [] });
  for (const [i, files] of appendChunks.entries()) steps.push({ action: p.replaceFirst && i === 0 ? 'REPLACE' : 'APPEND', files });
  for (const files of chunks(p.removeFiles)) steps.push({ action: 'REMOVE', files });
  return steps;
}

/** The cadence's re-sync skips an export it has already applied (same uri, creation time and size). */
export function snapshotUnchanged(applied: { uri: string; createdAt: string; bytes: number } | null, now: { uri: string; createdAt: string; bytes: number }): boolean {
  return applied !== null && applied.uri === now.uri && applied.createdAt === now.createdAt && applied.bytes === now.bytes;
}

/** What a failure's details tell beyond its type (the lease holder, the TikTok endpoint). */
export interface FailureFacts {
  audienceId: string | null;
  advertiserId: string;
  holder?: { destinationId: string; workflowId: string } | undefined;
  endpoint?: string | undefined;
}

/**
 * Where a failed cycle ends: a park (audience_missing, segment_conflict, audience_conflict)
 * that waits for an operator, or `error`; with the advice that tells the way out, if any.
 */
export function failedCycle(type: string | null, at: FailureFacts): { phase: AudienceSyncPhase; advice: string | null; parked: boolean } {
  const park = parkOf(type, at);
  if (park) return { ...park, parked: true };
  if (type === AudienceSyncFailureType.UnexpectedResponse)
    return {
      phase: 'error',
      advice: `TikTok's answer to ${at.endpoint ?? 'a TikTok call'} lacked a field ttsync needs (see lastError); ttsync retries at the next cycle; if it persists, report the request_id in lastError to TikTok support`,
      parked: false,
    };
  return { phase: 'error', advice: null, parked: false };
}

function parkOf(type: string | null, at: FailureFacts): { phase: AudienceSyncPhase; advice: string } | null {
  if (type === AudienceSyncFailureType.AudienceNotFound)
    return {
      phase: 'audience_missing',
      advice: at.audienceId
        ? `audience ${at.audienceId} no longer exists in advertiser ${at.advertiserId} (deleted in TikTok?); ttsync holds every cycle until you signal "recreateAudience": the next cycle then creates the audience again and sends it the whole applied state plus what is pending`
        : `create the audience in TikTok under its configured name and signal "recreateAudience" (the next cycle finds it by name), or signal "recreateAudience" to let ttsync create it`,
    };
  if (type === AudienceSyncFailureType.SegmentConflict) return { phase: 'segment_conflict', advice: SEGMENT_CONFLICT_ADVICE };
  if (type === AudienceSyncFailureType.AudienceConflict) {
    const holder = at.holder ? `destination "${at.holder.destinationId}" (workflow ${at.holder.workflowId})` : 'another destination';
    const release = at.holder ? `ttsync audience release ${at.holder.destinationId}` : 'ttsync audience release <its destinationId>';
    return {
      phase: 'audience_conflict',
      advice: `${holder} writes this audience, and two writers would undo each other; nothing was sent. If that destination is retired, run "${release}" and sync this one again; otherwise give this destination an audience of its own (updateConfig)`,
    };
  }
  return null;
}

/**
 * A finished sync: synced, or too small for TikTok to target (with what to send).
 * `unknownIsSmall`: runs from before cover_num became optional read an absent one as 0.
 */
export function targetability(audienceId: string | null, final: { coverNum: number | null } | null, unknownIsSmall = false): { phase: AudienceSyncPhase; advice: string | null } {
  if (final && (final.coverNum !== null || unknownIsSmall) && (final.coverNum ?? 0) < MIN_TARGETABLE)
    return {
      phase: 'too_small_to_target',
      advice: `audience ${audienceId} matches ${final.coverNum ?? 0} TikTok users, fewer than ${MIN_TARGETABLE}, so it cannot be targeted: ${TOO_SMALL_ADVICE}`,
    };
  return { phase: 'synced', advice: null };
}

/**
 * The workflow's current details (Temporal user metadata, shown on its page in the UI
 * without a query): a few lines of markdown with the phase, the audience, the last sync's
 * counts, what is queued and the last error. Ids, counts and URIs only, never identifiers.
 */
export function currentDetailsOf(s: AudienceSyncStatus): string {
  const state = s.paused ? (s.currentRunId ? `${s.phase} (pausing: the running cycle finishes)` : `paused (${s.phase})`) : s.phase;
  const lines = [`**${state}** · destination ${s.destinationId} · advertiser ${s.advertiserId} · audience ${s.audienceId ?? 'none yet'} · cycle ${s.cycles}`];
  if (s.currentRunId) lines.push(`Running cycle \`${s.currentRunId}\``);
  const last = s.lastSync;
  if (last) {
    const rejected = Object.values(last.rejected).reduce((n, v) => n + v, 0);
    lines.push(`Last sync ${last.finishedAt} (${last.kind}): +${last.added} / -${last.removed}, ${rejected} rejected, ${last.files} files`);
  }
  if (s.isValid !== null || s.coverNum !== null) lines.push(`is_valid ${String(s.isValid)} · cover_num ${s.coverNum ?? 'unknown'}`);
  const q = s.queued;
  const queued = [
    ...(q?.snapshot ? [`snapshot ${q.snapshot.uri ?? '(storage.snapshot)'}${q.snapshot.onCadence ? ' if changed' : ''}`] : []),
    ...(q?.batches ? [`${q.batches} change batch${q.batches === 1 ? '' : 'es'}`] : []),
    ...(q?.recreate ? ['recreate'] : []),
  ];
  if (queued.length) lines.push(`Queued: ${queued.join(', ')}`);
  if (s.lastError) lines.push(`Last error (${s.lastError.phase}): ${s.lastError.type ? `${s.lastError.type}: ` : ''}${s.lastError.message}`);
  if (s.advice) lines.push(`Advice: ${s.advice}`);
  if (s.nextRunAt) lines.push(`Next cadence ${s.nextRunAt}`);
  return lines.join('\n\n');
}
