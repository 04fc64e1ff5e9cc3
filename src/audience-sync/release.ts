import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { readJsonForUpdate, type BlobStore } from '../storage';
import { WorkflowIds } from '../temporal/workflowIds';
import { describeAudience, leasesHeldBy, type AudienceRef } from './audienceLeases';
import { SegmentClaimsSchema, releaseSegmentClaim } from './segmentClaims';

/*
 * Retiring a destination: what it holds in the deployment's registry (its writer leases on
 * audiences and its claim on a source segment) goes by one operator command, never silently,
 * and only once its workflow no longer runs (a running one would take them back next cycle).
 */

export { defaultRegistryUri } from '../storage/registry';

export class DestinationStillRunningError extends Error {
  override name = 'DestinationStillRunningError';
}

export interface ReleasedHoldings {
  leases: { advertiserId: string; audience: AudienceRef; uri: string }[];
  segments: { sourceSegmentId: string; uri: string }[];
}

export async function releaseDestination(client: Client, registry: BlobStore, destinationId: string): Promise<ReleasedHoldings> {
  const workflowId = WorkflowIds.audienceSync(destinationId);
  const status = await client.workflow
    .getHandle(workflowId)
    .describe()
    .then((d) => d.status.name)
    // Only "no such workflow" means it does not run; an unreachable server must not let a
    // release go ahead while the destination may still be writing.
    .catch((err: unknown) => {
      if (err instanceof WorkflowNotFoundError) return null;
      throw err;
    });
  if (status === 'RUNNING')
    throw new DestinationStillRunningError(
      `${workflowId} is still running and would take its leases back at its next cycle: end it first (temporal workflow terminate --workflow-id ${workflowId} --reason retired), then release`,
    );
  const out: ReleasedHoldings = { leases: [], segments: [] };
  for (const { key, lease } of await leasesHeldBy(registry, destinationId)) {
    await registry.delete(key, { ignoreNotFound: true });
    out.leases.push({ advertiserId: lease.advertiserId, audience: lease.audience, uri: registry.uriOf(key) });
  }
  for await (const info of registry.list('segments/')) {
    const { value: record } = await readJsonForUpdate(registry, info.key, SegmentClaimsSchema);
    if (!record?.claims.some((c) => c.destinationId === destinationId)) continue;
    if (await releaseSegmentClaim(registry, record.sourceSegmentId, destinationId)) out.segments.push({ sourceSegmentId: record.sourceSegmentId, uri: registry.uriOf(info.key) });
  }
  return out;
}

export function formatReleased(destinationId: string, r: ReleasedHoldings): string {
  if (!r.leases.length && !r.segments.length) return `destination "${destinationId}" holds nothing in the registry: no audience lease, no segment claim\n`;
  return [
    ...r.leases.map((l) => `released the lease on ${describeAudience(l.audience)} of advertiser ${l.advertiserId} (${l.uri})`),
    ...r.segments.map((s) => `released the claim on segment "${s.sourceSegmentId}" (${s.uri})`),
  ]
    .map((line) => line + '\n')
    .join('');
}
