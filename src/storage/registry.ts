import { createHash } from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_WORKDIR } from '../paths';

/*
 * The deployment registry's shared format of audience leases: one folder every worker shares
 * (TTSYNC_SEGMENT_REGISTRY), where audience sync leases each TikTok audience to the one
 * destination that writes it (src/audience-sync/audienceLeases.ts takes and releases them),
 * and where other lifecycles read which destination feeds which audience (the usage report
 * finds the audience of a 3PD destination that created its own). Kernel, so neither imports
 * the other.
 */

/** The registry every worker shares (TTSYNC_SEGMENT_REGISTRY), or the local default workdir. */
export function defaultRegistryUri(): string {
  return process.env.TTSYNC_SEGMENT_REGISTRY?.trim() || DEFAULT_WORKDIR;
}

export const AudienceRefSchema = z.object({
  kind: z.enum(['id', 'name']),
  value: z.string().min(1),
});
export type AudienceRef = z.infer<typeof AudienceRefSchema>;

export const AudienceLeaseSchema = z.object({
  schema: z.literal(1),
  advertiserId: z.string(),
  audience: AudienceRefSchema,
  /** The destination that writes the audience, and its workflow. */
  holder: z.object({ destinationId: z.string(), workflowId: z.string() }),
  takenAt: z.string(),
});
export type AudienceLease = z.infer<typeof AudienceLeaseSchema>;

export const AUDIENCE_LEASE_PREFIX = 'audiences/';

/** The registry key of an audience: names are free text, keys must not be. */
export function audienceLeaseKey(advertiserId: string, audience: AudienceRef): string {
  const digest = createHash('sha256').update(`${advertiserId}\n${audience.kind}\n${audience.value}`, 'utf8').digest('hex');
  return `${AUDIENCE_LEASE_PREFIX}${digest}.json`;
}
