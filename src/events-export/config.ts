import { z } from 'zod';
import { CountryCodeSchema } from '../identifiers/schema';
import { ConfigError, parseJsonText, zodProblems, type ConfigProblem } from '../config/errors';
import { SecretRefSchema } from '../config/secretRef';
import { DurationSchema, durationMs } from '../config/duration';
import { storageUriSchema } from '../storage/uriSchema';
import { NoticeRouteSchema } from '../notices/schema';

/*
 * The events destination: one TikTok event source (a pixel, an app, an offline event set or
 * a CRM event set) fed from event files or from an audience's enters and exits. Pure (no
 * Node built-ins): workflows validate their input with it; configFile.ts reads files.
 */

export const EVENT_SOURCES = ['web', 'app', 'offline', 'crm'] as const;
export type EventSourceKind = (typeof EVENT_SOURCES)[number];

/** Standard events of web pixels, offline and CRM event sets (tiktok-api.md §5). */
export const STANDARD_WEB_EVENTS = [
  'AddPaymentInfo', 'AddToCart', 'AddToWishlist', 'ApplicationApproval', 'CompleteRegistration', 'Contact', 'CustomizeProduct',
  'Download', 'FindLocation', 'InitiateCheckout', 'Lead', 'Purchase', 'Schedule', 'Search', 'StartTrial', 'SubmitApplication',
  'Subscribe', 'ViewContent',
] as const;
/** Standard app events (tiktok-api.md §5). */
export const STANDARD_APP_EVENTS = [
  'AchieveLevel', 'AddPaymentInfo', 'AddToCart', 'AddToWishlist', 'Checkout', 'CompleteTutorial', 'CreateGroup', 'CreateRole',
  'GenerateLead', 'InAppADClick', 'InAppADImpr', 'InstallApp', 'JoinGroup', 'LaunchAPP', 'LoanApplication', 'LoanApproval',
  'LoanDisbursal', 'Login', 'Purchase', 'Rate', 'Registration', 'Search', 'SpendCredits', 'StartTrial', 'Subscribe', 'UnlockAchievement',
] as const;

export function standardEventsOf(source: EventSourceKind): readonly string[] {
  return source === 'app' ? STANDARD_APP_EVENTS : STANDARD_WEB_EVENTS;
}

/**
 * What an event_source_id looks like per source. Pixel codes are 20 upper-case letters and
 * digits (TikTok's examples, e.g. A1T8T4UYGVIQA8ORZMX9); TikTok App IDs, offline and CRM
 * event set ids are numeric strings (e.g. 1616318632825). A config whose id has the other
 * shape names the wrong kind of source, the commonest copy-paste mistake.
 */
const SOURCE_ID_RULES: Record<EventSourceKind, { re: RegExp; what: string }> = {
  web: { re: /^[A-Z0-9]{20}$/, what: 'a pixel code: 20 upper-case letters and digits, e.g. A1T8T4UYGVIQA8ORZMX9' },
  app: { re: /^\d{6,30}$/, what: 'a TikTok App ID: digits only, e.g. 7123456789012345678' },
  offline: { re: /^\d{6,30}$/, what: 'an offline event set id: digits only, e.g. 1616318632825' },
  crm: { re: /^\d{6,30}$/, what: 'a CRM event set id: digits only (from /crm/list/)' },
};

/** Documented for offline (28 days); the web/app limit is UNCONFIRMED, 7 days by default. */
export const OFFLINE_MAX_EVENT_AGE = '28d';
export const DEFAULT_MAX_EVENT_AGE = '7d';

const column = z.string().min(1, 'column names must not be empty').max(200);

/** The event's name: one fixed standard name, one custom name, or read from a column per row. */
const EventNameSchema = z.union(
  [z.object({ standard: z.string().min(1) }).strict(), z.object({ custom: z.string().min(1).max(100) }).strict(), z.object({ field: column }).strict()],
  { error: () => 'must be {"standard": "Purchase"}, {"custom": "VipEntered"} or {"field": "<column holding the name>"}' },
);

const FilesInputSchema = z
  .object({
    kind: z.literal('files'),
    /** Default: from the object name (.csv, .ndjson/.jsonl). */
    format: z.enum(['csv', 'ndjson']).optional(),
    /** A file to export when none is named by the request (e.g. a schedule). */
    uri: storageUriSchema('event file', { object: true }).optional(),
  })
  .strict();

const TriggerInputSchema = z
  .object({
    kind: z.literal('audienceTrigger'),
    format: z.enum(['csv', 'ndjson']).optional(),
    /** The profile snapshot re-read when no request names one (e.g. a schedule). */
    snapshot: storageUriSchema('snapshot object', { object: true }).optional(),
    /** The column that identifies a person across snapshots. */
    keyColumn: column,
    /** Which changes become events. */
    on: z
      .array(z.enum(['enter', 'exit']))
      .min(1, 'name at least one of "enter", "exit"')
      .refine((a) => new Set(a).size === a.length, 'lists a change twice'),
    /**
     * The first snapshot has nothing to diff against: `skip` records it as the baseline and
     * sends nothing; `enter` sends each of its members as an enter.
     */
    baseline: z.enum(['skip', 'enter']).default('skip'),
  })
  .strict();

export const EventsInputSchema = z.discriminatedUnion('kind', [FilesInputSchema, TriggerInputSchema], {
  error: () => 'must be {"kind": "files", …} or {"kind": "audienceTrigger", "keyColumn": …, "on": ["enter", "exit"]}',
});

/** Identifier mapping: TikTok user field → column. Hashed in the events context of identifiers.md. */
const IdentifierMappingSchema = z
  .object({
    email: column.optional(),
    phone: column.optional(),
    external_id: column.optional(),
    idfa: column.optional(),
    gaid: column.optional(),
    /** A column with each row's ISO 3166-1 alpha-2 country, for national phone numbers. */
    country: column.optional(),
  })
  .strict();

/** Property mapping: TikTok property → column. */
const PropertyMappingSchema = z
  .object({
    value: column.optional(),
    currency: column.optional(),
    content_ids: column.optional(),
    /** A JSON array of {content_id, content_name, content_category, price, quantity, brand}. */
    contents: column.optional(),
    content_type: column.optional(),
    content_name: column.optional(),
    content_category: column.optional(),
    num_items: column.optional(),
    order_id: column.optional(),
    shop_id: column.optional(),
    search_string: column.optional(),
    description: column.optional(),
  })
  .strict();

const WebFieldsSchema = z
  .object({
    pageUrlField: column.optional(),
    referrerField: column.optional(),
    ipField: column.optional(),
    userAgentField: column.optional(),
    ttclidField: column.optional(),
    ttpField: column.optional(),
    localeField: column.optional(),
  })
  .strict();

const AppFieldsSchema = z
  .object({
    appName: z.string().min(1).max(200).optional(),
    appVersionField: column.optional(),
    ipField: column.optional(),
    userAgentField: column.optional(),
  })
  .strict();

export const EventsDestinationConfigSchema = z
  .object({
    /** Names the destination in workflow ids, schedules and search attributes. */
    destinationId: z
      .string()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be a slug: 1-64 lowercase letters, digits and "-", not starting or ending with "-"'),
    source: z.enum(EVENT_SOURCES, { error: () => `must be one of ${EVENT_SOURCES.join(', ')}` }),
    eventSourceId: z.string({ error: (i) => (typeof i.input === 'number' ? 'must be a string (quote it: long ids lose precision as JSON numbers)' : 'must be a string') }),
    /** The Events Manager token (web, app) or the event set's own token (offline). */
    accessToken: SecretRefSchema,
    /** Selects the per-app rate-limit bucket. */
    appId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"').optional(),
    input: EventsInputSchema,
    event: EventNameSchema,
    /** The column holding the event time; trigger events without it take the time the change was found. */
    eventTimeField: column.optional(),
    eventTimeFormat: z.enum(['iso', 'unix_s', 'unix_ms']).default('iso'),
    /** A column supplying event_id; without it ttsync derives one from the row (or the change). */
    eventIdField: column.optional(),
    identifiers: IdentifierMappingSchema.default({}),
    properties: PropertyMappingSchema.default({}),
    web: WebFieldsSchema.optional(),
    app: AppFieldsSchema.optional(),
    /** CRM events: the column holding lead.lead_id (required by TikTok for CRM). */
    leadIdField: column.optional(),
    /** Sent with every request of this destination: TikTok shows the events under Test events only. */
    testEventCode: z.string().min(1).max(100).optional(),
    limitedDataUse: z.boolean().default(false),
    defaultCountry: CountryCodeSchema.optional(),
    /** Oldest event_time accepted. Offline: at most 28d (documented); web/app: 7d by default (UNCONFIRMED). */
    maxEventAge: DurationSchema.optional(),
    partnerName: z.string().min(1).max(100).optional(),
    /** Who hears when a run ends in error or waits for a token (and when that clears); default: the deployment's route. */
    alerts: NoticeRouteSchema.optional(),
    storage: z
      .object({
        /** Where batches, ledgers and rejects go; default: the worker's local data folder. */
        workdir: storageUriSchema('workdir folder').optional(),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((d, ctx) => {
    const rule = SOURCE_ID_RULES[d.source];
    if (!rule.re.test(d.eventSourceId)) ctx.addIssue({ code: 'custom', path: ['eventSourceId'], message: `a ${d.source} source needs ${rule.what}` });
    const standard = standardEventsOf(d.source);
    if ('standard' in d.event && !standard.includes(d.event.standard))
      ctx.addIssue({ code: 'custom', path: ['event', 'standard'], message: `"${d.event.standard}" is not a standard ${d.source === 'app' ? 'app' : 'web/offline'} event (${standard.join(', ')}); use {"custom": …} for your own name` });
    if (d.source === 'offline' && 'custom' in d.event)
      ctx.addIssue({ code: 'custom', path: ['event', 'custom'], message: 'offline event sets accept standard events only: use {"standard": …}' });
    if (d.source === 'crm' && !d.leadIdField) ctx.addIssue({ code: 'custom', path: ['leadIdField'], message: 'CRM events need lead.lead_id: name the column that holds it' });
    if (d.source !== 'crm' && d.leadIdField) ctx.addIssue({ code: 'custom', path: ['leadIdField'], message: 'lead.lead_id is for CRM event sets only' });
    if (d.web && d.source !== 'web') ctx.addIssue({ code: 'custom', path: ['web'], message: 'page, ttclid and ttp fields are for web sources only' });
    if (d.app && d.source !== 'app') ctx.addIssue({ code: 'custom', path: ['app'], message: 'app fields are for app sources only' });
    if (d.input.kind === 'files' && !d.eventTimeField)
      ctx.addIssue({ code: 'custom', path: ['eventTimeField'], message: 'event files need the column holding each event\'s time' });
    if (d.maxEventAge !== undefined) {
      const ms = durationMs(d.maxEventAge) ?? 0;
      const offlineMax = durationMs(OFFLINE_MAX_EVENT_AGE) ?? 0;
      if (d.source === 'offline' && ms > offlineMax)
        ctx.addIssue({ code: 'custom', path: ['maxEventAge'], message: `offline events are accepted up to ${OFFLINE_MAX_EVENT_AGE} old; choose ${OFFLINE_MAX_EVENT_AGE} or less` });
    }
    const cols = new Map<string, string>();
    const claim = (col: string | undefined, path: string[]) => {
      if (!col) return;
      const first = cols.get(col);
      if (first) ctx.addIssue({ code: 'custom', path, message: `column "${col}" is already mapped to ${first}` });
      else cols.set(col, path.join('.'));
    };
    for (const [k, v] of Object.entries(d.identifiers)) if (k !== 'country') claim(v, ['identifiers', k]);
    if (Object.values(d.identifiers).filter(Boolean).length === 0 && !d.web?.ipField && !d.web?.ttclidField && !d.web?.ttpField && !d.app?.ipField)
      ctx.addIssue({ code: 'custom', path: ['identifiers'], message: 'map at least one identifier (email, phone, external_id, idfa, gaid) or, for web, ip/ttclid/ttp: TikTok matches events to people by them' });
  });

export type EventsDestinationConfigInput = z.input<typeof EventsDestinationConfigSchema>;
export type EventsDestinationConfig = z.output<typeof EventsDestinationConfigSchema>;

/** The oldest event_time this destination sends, in ms. */
export function maxEventAgeMs(config: Pick<EventsDestinationConfig, 'source' | 'maxEventAge'>): number {
  const text = config.maxEventAge ?? (config.source === 'offline' ? OFFLINE_MAX_EVENT_AGE : DEFAULT_MAX_EVENT_AGE);
  return durationMs(text) ?? 0;
}

export class EventsConfigError extends ConfigError {
  override name = 'EventsConfigError';
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`invalid events destination config ${source}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
}

/** Validates an events destination (a file, or workflow input pasted in the UI). `source` names it in errors. */
export function parseEventsConfig(input: unknown, source = 'input'): EventsDestinationConfig {
  const r = EventsDestinationConfigSchema.safeParse(input);
  if (!r.success) throw new EventsConfigError(source, zodProblems(r.error));
  return r.data;
}

/** Parses JSON text, turning syntax errors into line:column problems. */
export function parseEventsConfigJson(text: string, source: string): EventsDestinationConfig {
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new EventsConfigError(source, [parsed.problem]);
  return parseEventsConfig(parsed.value, source);
}
