import { z } from 'zod';

/*
 * The shapes of the signals that carry data, checked on arrival: the Temporal UI and the
 * `temporal` CLI let anyone send any JSON, and a malformed request queued in the workflow
 * would fail a cycle later, far from its cause. Pure (the workflow bundle imports it). Each
 * check returns a one-line reason naming the JSON path, or undefined when the payload is fine.
 */

const InputObjectSchema = z.object({
  uri: z.string().min(1, 'must not be empty').max(4096, 'must be at most 4096 characters').refine((s) => !s.includes('\0'), 'must not contain NUL'),
  format: z.enum(['csv', 'ndjson']).optional(),
  delimiter: z.enum([',', ';', '\t']).optional(),
  createdAt: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'must be an ISO time').optional(),
});

const requestId = z.string().max(200).optional();
const count = z.number().int().nonnegative().optional();

const SyncNowSchema = z.object({ snapshot: InputObjectSchema.optional(), onCadence: z.boolean().optional(), requestId }).optional();
const SnapshotLandedSchema = z.object({ snapshot: InputObjectSchema, requestId });
const ChangeBatchSchema = z
  .object({ enters: InputObjectSchema.optional(), exits: InputObjectSchema.optional(), users: count, bytes: count })
  .refine((b) => b.enters !== undefined || b.exits !== undefined, 'a change batch needs enters or exits');

function problem(schema: z.ZodType, value: unknown): string | undefined {
  const r = schema.safeParse(value);
  if (r.success) return undefined;
  const issue = r.error.issues[0]!;
  const path = issue.path.length ? `$.${issue.path.map(String).join('.')}` : '$';
  return `${path}: ${issue.message}`;
}

export const signalPayloadProblem = {
  syncNow: (req: unknown) => problem(SyncNowSchema, req),
  snapshotLanded: (req: unknown) => problem(SnapshotLandedSchema, req),
  addChangeBatch: (batch: unknown) => problem(ChangeBatchSchema, batch),
};
