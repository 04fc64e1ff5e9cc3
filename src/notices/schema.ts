import { z } from 'zod';
import { SecretRefSchema } from '../config/secretRef';

/*
 * What a notice is: the one message ttsync sends a person (an alert, a SAN migration notice,
 * a usage report), written once to the outbox under its idempotency key and then delivered
 * by the channels its route names. Pure (zod only): workflows build notice requests and
 * lifecycle configs embed routes, so the workflow bundle takes this file.
 */

/**
 * The idempotency key: the same key is the same notice, whoever writes it and however often.
 * Producers derive it from what the notice is about (e.g. destination, state, the sequence
 * number of the alert), never from a clock or a random source, so a retried activity or a
 * replayed workflow names the same notice.
 */
export const NoticeKeySchema = z
  .string()
  .min(1)
  .max(400)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+=-]*$/, 'must be letters, digits and . _ : / @ + = - (no spaces), starting with a letter or digit');

/** One address, as people type it; no display names (they belong in the deployment's From). */
const EmailAddressSchema = z.email('must be an email address such as ops@example.com');

/** Where a webhook notice goes: an http(s) URL, and the bearer token by secret reference. */
export const WebhookRouteSchema = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
    /** The receiver's bearer token (`Authorization: Bearer …`), as a secret reference. */
    tokenRef: SecretRefSchema.optional(),
  })
  .strict();
export type WebhookRoute = z.infer<typeof WebhookRouteSchema>;

/**
 * Who hears of a notice. A lifecycle config names its own contacts (e.g. a destination's
 * `alerts`); without one the deployment's default route applies (worker env, see
 * src/notices/settings.ts). Both channels may be named: each is delivered and recorded on its own.
 */
export const NoticeRouteSchema = z
  .object({
    email: z.array(EmailAddressSchema).min(1).max(50).optional(),
    webhook: WebhookRouteSchema.optional(),
  })
  .strict()
  .refine((r) => r.email !== undefined || r.webhook !== undefined, { message: 'name at least one of "email" (a list of addresses) and "webhook" ({"url": …})' });
export type NoticeRoute = z.infer<typeof NoticeRouteSchema>;

/** The channels a route can name, in the order they are delivered. */
export const NOTICE_CHANNELS = ['email', 'webhook'] as const;
export type NoticeChannelName = (typeof NOTICE_CHANNELS)[number];

/**
 * A file sent with the notice, by storage URI: read at delivery (so a 50 MB report never
 * enters workflow history or the notice record), attached to the email and inlined in the
 * webhook's JSON.
 */
export const NoticeAttachmentSchema = z
  .object({
    uri: z.string().min(1),
    /** The name the receiver sees; default the URI's last segment. */
    filename: z.string().min(1).max(200).optional(),
    contentType: z.string().min(1).max(200).optional(),
  })
  .strict();
export type NoticeAttachment = z.infer<typeof NoticeAttachmentSchema>;

/** What the notice is about, for receivers that file or route it by machine. Ids and states only. */
export const NoticeMetadataSchema = z
  .object({
    /** The lifecycle that sent it (audience_sync, san_migration, …). */
    lifecycle: z.string().min(1).max(100),
    /** What it is about within the lifecycle: a destination id, an app id, a month. */
    subjectId: z.string().min(1).max(200),
    /** The state it announces, when it announces one (e.g. stale_snapshot). */
    state: z.string().min(1).max(100).optional(),
    /** entered / cleared for alerts; free for other notices (report, migration_step, …). */
    event: z.string().min(1).max(100).optional(),
    /** The workflow it is about; the outbox turns it into the Temporal UI link. */
    workflowId: z.string().min(1).max(1000).optional(),
    /** The Temporal UI page of that workflow (filled in by the outbox from its UI base URL). */
    uiUrl: z.string().optional(),
  })
  .strict();
export type NoticeMetadata = z.infer<typeof NoticeMetadataSchema>;

/** What a producer asks the outbox to send. `route` absent: the deployment's default route. */
export const NoticeRequestSchema = z
  .object({
    key: NoticeKeySchema,
    route: NoticeRouteSchema.optional(),
    subject: z.string().min(1).max(300),
    /** Plain text; the outbox appends the Temporal UI link when metadata names a workflow. */
    text: z.string().max(100_000),
    attachments: z.array(NoticeAttachmentSchema).max(20).optional(),
    metadata: NoticeMetadataSchema,
  })
  .strict();
export type NoticeRequest = z.infer<typeof NoticeRequestSchema>;

/**
 * The notice as the outbox keeps it (written once, never rewritten): the request with its
 * route resolved (null: no route configured anywhere, kept and logged but sent nowhere), the
 * final text, and when it was written.
 */
export const StoredNoticeSchema = z
  .object({
    schema: z.literal(1),
    key: NoticeKeySchema,
    route: NoticeRouteSchema.nullable(),
    subject: z.string(),
    text: z.string(),
    attachments: z.array(NoticeAttachmentSchema),
    metadata: NoticeMetadataSchema,
    createdAt: z.string(),
  })
  .strict();
export type StoredNotice = z.infer<typeof StoredNoticeSchema>;

/** Written after a channel delivered the notice; its absence is what makes a notice pending. */
export const DeliveryRecordSchema = z
  .object({
    schema: z.literal(1),
    key: NoticeKeySchema,
    channel: z.enum(NOTICE_CHANNELS),
    deliveredAt: z.string(),
    /** The receiver's id of the message: the SMTP Message-ID, or the webhook's idempotency key. */
    messageId: z.string(),
    /** How many addresses (email) or 1 (webhook). */
    recipients: z.number().int().nonnegative(),
  })
  .strict();
export type DeliveryRecord = z.infer<typeof DeliveryRecordSchema>;

/** The channels a route names, in delivery order. */
export function channelsOf(route: NoticeRoute | null): NoticeChannelName[] {
  if (!route) return [];
  return NOTICE_CHANNELS.filter((c) => route[c] !== undefined);
}
