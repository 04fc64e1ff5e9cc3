import { z } from 'zod';
import { DurationSchema } from '../config/duration';
import { SecretRefSchema } from '../config/secretRef';
import { TIKTOK_NETWORK_NAMES } from '../tiktok/networks';

/*
 * What an MMP knows about its TikTok advertisers, one zod schema per concept: the account
 * (advertiser, contacts, apps), the app with its legacy tracker/postback integration and its
 * SAN integration once there is one, and the migration program TikTok runs (mode, dates,
 * sentences). Pure: the workflow validates program updates with it.
 */

/** An id ttsync puts in workflow ids and storage keys: no ':' or '/', nothing to escape. */
const SlugSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be letters, digits, ".", "_" or "-" (it becomes part of a workflow id and a storage key)');

/** A point in time written with its offset, so a date never depends on a worker's zone. */
export const InstantSchema = z.iso.datetime({ offset: true, message: 'must be an ISO 8601 time with its zone, e.g. "2024-03-07T23:59:59Z"' });

/** TikTok's ids are numeric strings beyond 2^53: always strings. */
export const AdvertiserIdSchema = z.string().regex(/^\d{1,30}$/, 'must be the advertiser id as a string of digits');

/** The reporting network name TikTok's SAN attributions arrive under, after cutover (the kernel's, which retention reads too). */
export const SAN_NETWORK_NAME = TIKTOK_NETWORK_NAMES.san;

/** "N/A": the app has no TikTok App ID (yet), so no SAN integration can be configured for it. */
export const NO_TIKTOK_APP_ID = 'N/A';

export const PlatformSchema = z.enum(['android', 'ios']);
export type Platform = z.infer<typeof PlatformSchema>;

export const EventMappingSchema = z
  .array(z.object({ partnerEvent: z.string().min(1), tiktokEvent: z.string().min(1) }))
  .refine((m) => new Set(m.map((e) => e.partnerEvent)).size === m.length, 'each partner event is mapped once');

export const LegacyIntegrationSchema = z.object({
  /** The tracker's click-through and view-through link templates, as configured in TikTok. */
  trackerLinks: z.object({ clickUrl: z.url(), impressionUrl: z.url().optional() }),
  /** Which in-app events are posted back to TikTok, under which TikTok event name. */
  eventMapping: EventMappingSchema,
  fraudPostbacks: z.boolean().default(false),
  /** How the MMP's reporting names TikTok today, e.g. "TikTok for Business – iOS". */
  networkName: z.string().min(1),
});
export type LegacyIntegration = z.infer<typeof LegacyIntegrationSchema>;

/**
 * Who configured an app's SAN integration: ttsync's provisioning, or anyone else before it
 * (the advertiser with TikTok's approval, the MMP's own system, `san mark-self-configured`).
 * Anything but `provisioned` is left alone by provisioning.
 */
export const SanSourceSchema = z.enum(['provisioned', 'self_configured']);
export type SanSource = z.infer<typeof SanSourceSchema>;

export const SanIntegrationSchema = z.object({
  tiktokAppId: z.string().min(1),
  eventMapping: EventMappingSchema,
  fraudPostbacks: z.boolean(),
  source: SanSourceSchema,
  configuredAt: InstantSchema,
});
export type SanIntegration = z.infer<typeof SanIntegrationSchema>;

export const AppSchema = z.object({
  /** The MMP's id of the app. */
  appId: SlugSchema,
  platform: PlatformSchema,
  /** Store id: the Android package name or the App Store id. */
  storeAppId: z.string().min(1),
  tiktokAppId: z.union([z.literal(NO_TIKTOK_APP_ID), z.string().regex(/^\d{1,30}$/, 'must be the TikTok App ID (digits) or "N/A"')]),
  legacy: LegacyIntegrationSchema,
  san: SanIntegrationSchema.optional(),
  /** Which integration attributions come from: SAN from TikTok's cutover on. */
  active: z.enum(['legacy', 'san']).default('legacy'),
  /** The network name the MMP's reporting shows: the legacy one until cutover, then SAN_NETWORK_NAME. */
  reportingNetworkName: z.string().min(1).optional(),
  cutover: z.object({ at: InstantSchema, announcedAt: InstantSchema }).optional(),
});
export type App = z.infer<typeof AppSchema>;

export const ContactSchema = z.object({ email: z.email(), name: z.string().min(1).optional() });

export const DecisionKindSchema = z.enum(['opt_in', 'opt_out']);
export type DecisionKind = z.infer<typeof DecisionKindSchema>;

/** An advertiser's recorded answer to a program: who gave it, when, and the sentence it affirms. */
export const DecisionSchema = z.object({
  kind: DecisionKindSchema,
  by: z.string().min(1),
  at: InstantSchema,
  sentence: z.string().min(1),
  message: z.string().optional(),
  /** The program (id and revision) it was given under. */
  programId: z.string().min(1),
  programRevision: z.string().min(1),
});
export type Decision = z.infer<typeof DecisionSchema>;

export const AccountSchema = z
  .object({
    accountId: SlugSchema,
    advertiserId: AdvertiserIdSchema,
    name: z.string().min(1).optional(),
    /** Where notices go: the advertiser's people. Never in workflow history. */
    contacts: z.array(ContactSchema).min(1, 'an account needs at least one contact for its notices'),
    /** The token ttsync reads campaign status with, by reference (env:… or file:…). */
    accessToken: SecretRefSchema.default('env:TIKTOK_ACCESS_TOKEN'),
    apps: z.array(AppSchema).min(1, 'an account needs at least one app'),
    decision: DecisionSchema.optional(),
  })
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.apps.forEach((app, i) => {
      if (seen.has(app.appId)) ctx.addIssue({ code: 'custom', path: ['apps', i, 'appId'], message: `app ${app.appId} appears twice` });
      seen.add(app.appId);
    });
  });
export type Account = z.infer<typeof AccountSchema>;
export type AccountInput = z.input<typeof AccountSchema>;

export const ProgramModeSchema = z.enum(['opt_in', 'opt_out']);
export type ProgramMode = z.infer<typeof ProgramModeSchema>;

/**
 * TikTok's migration program as the MMP runs it. A later revision (new mode, new dates)
 * replaces it for every account; decisions already recorded stay valid where it allows them.
 */
export const ProgramSchema = z
  .object({
    programId: SlugSchema,
    /** Changes with every published update; decisions and notices name it. */
    revision: z.string().min(1),
    mode: ProgramModeSchema,
    /** Decisions after it are refused. */
    decisionDeadline: InstantSchema,
    /** When enrolled accounts' apps get their SAN integration. */
    provisioningDate: InstantSchema,
    /** When TikTok aims to have every app cut over; apps still on legacy then are flagged. */
    targetCompletionDate: InstantSchema,
    /** The least notice of a cutover TikTok promises; less raises short_notice. Fractions allow drills. */
    noticeDays: z.number().positive().default(7),
    /** Reminders before the deadline, e.g. ["14d", "3d"]. */
    reminderOffsets: z.array(DurationSchema).default(['14d', '3d']),
    /** The exact sentences an advertiser sends to opt in and to opt out. */
    sentences: z.object({ optIn: z.string().min(1), optOut: z.string().min(1) }),
  })
  .superRefine((p, ctx) => {
    const d = Date.parse(p.decisionDeadline);
    const prov = Date.parse(p.provisioningDate);
    const target = Date.parse(p.targetCompletionDate);
    if (prov < d) ctx.addIssue({ code: 'custom', path: ['provisioningDate'], message: 'must not be before decisionDeadline' });
    if (target < prov) ctx.addIssue({ code: 'custom', path: ['targetCompletionDate'], message: 'must not be before provisioningDate' });
  });
export type Program = z.infer<typeof ProgramSchema>;
export type ProgramInput = z.input<typeof ProgramSchema>;
