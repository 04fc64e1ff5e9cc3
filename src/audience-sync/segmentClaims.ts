import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DestinationConfigSchema, segmentConflicts, type SegmentClaimant } from './config';
import { isStorageError, readJsonForUpdate, type BlobStore } from '../storage';

/*
 * The two-advertiser rule, durably: TikTok refuses one source segment in two ad accounts, so
 * the first destination that syncs a segment claims it for its advertiser, and a destination
 * of another advertiser is refused unless it is a separate copy with a name of its own
 * (segmentConflicts decides; this module only keeps the claims in the order they were made).
 *
 * One JSON object per segment, `segments/<sha256(sourceSegmentId)>.json` in the registry
 * store, written by compare-and-swap like the applied-state pointer, so two workers claiming
 * at once cannot both win. The registry is one per deployment (TTSYNC_SEGMENT_REGISTRY,
 * default: the store of the worker's default workdir), NOT per destination: destinations
 * with different workdirs must still see each other's claims.
 */

export const SegmentClaimSchema = z.object({
  destinationId: z.string(),
  advertiserId: z.string(),
  separateCopy: z.boolean(),
  audienceName: DestinationConfigSchema.shape.audienceName,
  claimedAt: z.string(),
});
export type SegmentClaim = z.infer<typeof SegmentClaimSchema>;

export const SegmentClaimsSchema = z.object({
  schema: z.literal(1),
  sourceSegmentId: z.string(),
  /** In the order they were made: the first one that is not a separate copy owns the segment. */
  claims: z.array(SegmentClaimSchema),
});
export type SegmentClaims = z.infer<typeof SegmentClaimsSchema>;

/** The registry key of a segment: segment ids are free text, keys must not be. */
export function segmentClaimKey(sourceSegmentId: string): string {
  return `segments/${createHash('sha256').update(sourceSegmentId, 'utf8').digest('hex')}.json`;
}

/** A claim refused by the two-advertiser rule; nothing was written. */
export class SegmentConflictError extends Error {
  override name = 'SegmentConflictError';
  constructor(
    message: string,
    /** The destination that owns the segment (for the operator's advice). */
    readonly owner: { destinationId: string; advertiserId: string } | null,
  ) {
    super(message);
  }
}

export interface ClaimResult {
  /** True when this call wrote the registry (a first claim, or the claimant's settings changed). */
  written: boolean;
  owner: { destinationId: string; advertiserId: string };
  registryUri: string;
}

const sameClaim = (a: SegmentClaim, b: SegmentClaim): boolean =>
  a.advertiserId === b.advertiserId && a.separateCopy === b.separateCopy && JSON.stringify(a.audienceName) === JSON.stringify(b.audienceName);

function ownerOf(claims: readonly SegmentClaim[]): { destinationId: string; advertiserId: string } | null {
  const o = claims.find((c) => !c.separateCopy) ?? claims[0];
  return o ? { destinationId: o.destinationId, advertiserId: o.advertiserId } : null;
}

/**
 * Why `entry` may not join the claims `existing` of segment `sourceSegmentId` (replacing the
 * claimant's own entry in place), or null: the claim is refused when it would make ANY claim
 * conflict that did not before. Pure; claimSegment writes, `ttsync doctor` only asks.
 */
export function claimProblem(existing: readonly SegmentClaim[], entry: SegmentClaim, sourceSegmentId: string): string | null {
  const mine = existing.find((c) => c.destinationId === entry.destinationId);
  const next = mine ? existing.map((c) => (c === mine ? entry : c)) : [...existing, entry];
  const withSegment = (cs: readonly SegmentClaim[]) => cs.map((c) => ({ ...c, sourceSegmentId }));
  const before = new Set(segmentConflicts(withSegment(existing.filter((c) => c !== mine))).map((p) => p.destinationId));
  const added = segmentConflicts(withSegment(next)).filter((p) => !before.has(p.destinationId));
  const problem = added.find((p) => p.destinationId === entry.destinationId) ?? added[0];
  if (!problem) return null;
  return problem.destinationId === entry.destinationId
    ? problem.message
    : `destination "${entry.destinationId}" cannot claim segment "${sourceSegmentId}": destination "${problem.destinationId}" claimed it first and would conflict: ${problem.message}`;
}

/** The destination that owns a segment's claims: the first that is not a separate copy. */
export function segmentOwner(claims: readonly SegmentClaim[]): { destinationId: string; advertiserId: string } | null {
  return ownerOf(claims);
}

/** The claims on a segment, read only (null when nobody claimed it). */
export async function readSegmentClaims(registry: BlobStore, sourceSegmentId: string): Promise<SegmentClaims | null> {
  return (await readClaims(registry, segmentClaimKey(sourceSegmentId))).claims;
}

async function readClaims(registry: BlobStore, key: string): Promise<{ claims: SegmentClaims | null; generation: string }> {
  const { value, generation } = await readJsonForUpdate(registry, key, SegmentClaimsSchema);
  return { claims: value, generation };
}

/**
 * Claims `claimant.sourceSegmentId` for its destination, or throws SegmentConflictError.
 * Idempotent: an unchanged claim reads one object and writes nothing. A destination whose
 * settings changed (separateCopy, name) is re-checked and its entry updated in place, keeping
 * its place in the order. A newcomer is refused when it would make ANY claim conflict, so an
 * earlier claimant is never pushed out by a later one.
 */
/** The claim a claimant would hold: its existing one (keeping its time and place) or a new one. */
export function claimEntryOf(existing: readonly SegmentClaim[], claimant: SegmentClaimant, now: Date): { mine: SegmentClaim | undefined; entry: SegmentClaim } {
  const mine = existing.find((c) => c.destinationId === claimant.destinationId);
  return {
    mine,
    entry: {
      destinationId: claimant.destinationId,
      advertiserId: claimant.advertiserId,
      separateCopy: claimant.separateCopy,
      audienceName: claimant.audienceName,
      claimedAt: mine?.claimedAt ?? now.toISOString(),
    },
  };
}

export async function claimSegment(registry: BlobStore, claimant: SegmentClaimant, now: Date): Promise<ClaimResult> {
  const key = segmentClaimKey(claimant.sourceSegmentId);
  for (let attempt = 1; ; attempt++) {
    const { claims: record, generation } = await readClaims(registry, key);
    const existing = record?.claims ?? [];
    const { mine, entry } = claimEntryOf(existing, claimant, now);
    const next = mine ? existing.map((c) => (c === mine ? entry : c)) : [...existing, entry];
    const problem = claimProblem(existing, entry, claimant.sourceSegmentId);
    if (problem) throw new SegmentConflictError(problem, ownerOf(existing));
    const owner = ownerOf(next) ?? { destinationId: entry.destinationId, advertiserId: entry.advertiserId };
    if (mine && sameClaim(mine, entry)) return { written: false, owner, registryUri: registry.uriOf(key) };
    const body: SegmentClaims = { schema: 1, sourceSegmentId: claimant.sourceSegmentId, claims: next };
    try {
      await registry.writeIfGeneration(key, JSON.stringify(body, null, 1), generation, { contentType: 'application/json' });
      return { written: true, owner, registryUri: registry.uriOf(key) };
    } catch (err) {
      // Another destination claimed at the same moment: decide again on what it wrote.
      if (!isStorageError(err, 'precondition_failed') || attempt >= 10) throw err;
    }
  }
}

/**
 * Removes a destination's claim (a destination retired, or moved to another segment), so the
 * segment can go to another advertiser. Returns false when there was no such claim.
 * Compare-and-swap like claimSegment; an operator command, never called by a sync.
 */
export async function releaseSegmentClaim(registry: BlobStore, sourceSegmentId: string, destinationId: string): Promise<boolean> {
  const key = segmentClaimKey(sourceSegmentId);
  for (let attempt = 1; ; attempt++) {
    const { claims: record, generation } = await readClaims(registry, key);
    const rest = (record?.claims ?? []).filter((c) => c.destinationId !== destinationId);
    if (!record || rest.length === record.claims.length) return false;
    try {
      await registry.writeIfGeneration(key, JSON.stringify({ ...record, claims: rest }, null, 1), generation, { contentType: 'application/json' });
      return true;
    } catch (err) {
      if (!isStorageError(err, 'precondition_failed') || attempt >= 10) throw err;
    }
  }
}
