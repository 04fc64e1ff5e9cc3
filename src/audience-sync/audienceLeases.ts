import { isStorageError, readJsonForUpdate, type BlobStore } from '../storage';
import { AUDIENCE_LEASE_PREFIX, AudienceLeaseSchema, audienceLeaseKey, type AudienceLease, type AudienceRef } from '../storage/registry';
import { WorkflowIds } from '../temporal/workflowIds';

/*
 * Exactly one writer per TikTok audience, across destinations: TikTok rejects edits while an
 * audience processes, and two writers would undo each other's APPEND and REMOVE. The
 * workflow id makes one destination one writer; this lease makes one audience one
 * destination, whatever ids and names two configs carry.
 *
 * One JSON object per audience in the deployment's registry (beside the segment claims),
 * `audiences/<sha256 of advertiser, kind and value>.json`, written by compare-and-swap so two
 * destinations reaching for one audience at once cannot both win. An audience is known by its
 * id once TikTok gave one, and by its literal name before that for append/replace
 * destinations (which find it by name): both keys are leased.
 */

// The lease format is the registry's (kernel), shared with the lifecycles that read it.
export { AUDIENCE_LEASE_PREFIX, AudienceLeaseSchema, AudienceRefSchema, audienceLeaseKey, type AudienceLease, type AudienceRef } from '../storage/registry';

export const describeAudience = (a: AudienceRef): string => (a.kind === 'id' ? `audience ${a.value}` : `the audience named "${a.value}"`);

/** Another destination holds the audience: nothing was written. */
export class AudienceConflictError extends Error {
  override name = 'AudienceConflictError';
  constructor(
    readonly lease: AudienceLease,
    readonly claimant: string,
  ) {
    super(
      `destination "${claimant}" cannot write ${describeAudience(lease.audience)} of advertiser ${lease.advertiserId}: destination "${lease.holder.destinationId}" (workflow ${lease.holder.workflowId}) writes it since ${lease.takenAt}, and two writers would undo each other`,
    );
  }
}

async function readLease(registry: BlobStore, key: string): Promise<{ lease: AudienceLease | null; generation: string }> {
  const { value, generation } = await readJsonForUpdate(registry, key, AudienceLeaseSchema);
  return { lease: value, generation };
}

export interface LeaseClaim {
  advertiserId: string;
  destinationId: string;
  audiences: readonly AudienceRef[];
}

/**
 * Takes (or confirms) the lease on every given key of one audience, or throws
 * AudienceConflictError naming the holder. Idempotent: leases already held cost one read
 * each and no write. Keys are taken in order; a conflict on a later key leaves the earlier
 * ones held, which is harmless (they name the same audience) and released with the rest.
 */
export async function takeAudienceLeases(registry: BlobStore, claim: LeaseClaim, now: Date): Promise<{ written: number; registryUris: string[] }> {
  let written = 0;
  const registryUris: string[] = [];
  for (const audience of claim.audiences) {
    const key = audienceLeaseKey(claim.advertiserId, audience);
    registryUris.push(registry.uriOf(key));
    for (let attempt = 1; ; attempt++) {
      const { lease, generation } = await readLease(registry, key);
      if (lease && lease.holder.destinationId !== claim.destinationId) throw new AudienceConflictError(lease, claim.destinationId);
      if (lease) break;
      const body: AudienceLease = {
        schema: 1,
        advertiserId: claim.advertiserId,
        audience,
        holder: { destinationId: claim.destinationId, workflowId: WorkflowIds.audienceSync(claim.destinationId) },
        takenAt: now.toISOString(),
      };
      try {
        await registry.writeIfGeneration(key, JSON.stringify(body, null, 1), generation, { contentType: 'application/json' });
        written += 1;
        break;
      } catch (err) {
        // Another destination took it at the same moment: decide again on what it wrote.
        if (!isStorageError(err, 'precondition_failed') || attempt >= 10) throw err;
      }
    }
  }
  return { written, registryUris };
}

/** Every lease a destination holds. */
export async function leasesHeldBy(registry: BlobStore, destinationId: string): Promise<{ key: string; lease: AudienceLease }[]> {
  const out: { key: string; lease: AudienceLease }[] = [];
  for await (const info of registry.list(AUDIENCE_LEASE_PREFIX)) {
    const { lease } = await readLease(registry, info.key);
    if (lease?.holder.destinationId === destinationId) out.push({ key: info.key, lease });
  }
  return out;
}

/**
 * Drops a destination's lease on one audience (the audience is gone, or the destination is
 * retired). Leases of other holders are never touched. True when one was dropped.
 */
export async function releaseAudienceLease(registry: BlobStore, advertiserId: string, audience: AudienceRef, destinationId: string): Promise<boolean> {
  const key = audienceLeaseKey(advertiserId, audience);
  const { lease } = await readLease(registry, key);
  if (!lease || lease.holder.destinationId !== destinationId) return false;
  await registry.delete(key, { ignoreNotFound: true });
  return true;
}
