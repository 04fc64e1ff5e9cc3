import { z } from 'zod';
import {
  ColumnMappingSchema,
  CountryCodeSchema,
  HashAlgorithmSchema,
  PhoneFormatSchema,
  type ColumnMapping,
  type HashAlgorithm,
  type IdentifierType,
} from '../identifiers/schema';
import { ConfigError, parseJsonText, zodProblems, type ConfigProblem } from '../config/errors';
import { SecretRefSchema } from '../config/secretRef';
import { DurationSchema, durationMs } from '../config/duration';
import { storageUriSchema } from '../storage/uriSchema';
import { NoticeRouteSchema } from '../notices/schema';
import { DATA_MARKETPLACE_IDENTIFIER_TYPES, DataMarketplaceSchema } from '../marketplace/dataMarketplace';

/*
 * The audience destination: one TikTok custom audience fed from one source segment.
 * This module is pure (no Node built-ins) because workflows validate their input with it;
 * reading a config file lives in configFile.ts, resolving secrets in src/config/secrets.ts.
 */

// ---------------------------------------------------------------------------------------
// Audience names and naming templates

export const AUDIENCE_NAME_MIN = 10;
export const AUDIENCE_NAME_MAX = 70;
const NAME_CHAR = /[\p{L}\p{M}\p{Nd} _-]/u;
const NAME_CHARS = /^[\p{L}\p{M}\p{Nd} _-]+$/u;
const NAME_RULE = `${AUDIENCE_NAME_MIN}-${AUDIENCE_NAME_MAX} characters of letters, digits, spaces, "-" and "_"`;

const codePoints = (s: string): number => [...s].length;

/**
 * A literal audience name. Length counts characters (code points) of the NFC form; names
 * are NFC-normalized so the same name typed on two systems compares equal.
 */
export const AudienceNameSchema = z
  .string()
  .transform((s) => s.normalize('NFC'))
  .superRefine((s, ctx) => {
    const n = codePoints(s);
    if (n < AUDIENCE_NAME_MIN || n > AUDIENCE_NAME_MAX) ctx.addIssue({ code: 'custom', message: `must be ${NAME_RULE} (it has ${n} characters)` });
    else if (!NAME_CHARS.test(s)) {
      const bad = [...new Set([...s].filter((c) => !NAME_CHAR.test(c)))].slice(0, 5).map((c) => JSON.stringify(c));
      ctx.addIssue({ code: 'custom', message: `must be ${NAME_RULE}; it contains ${bad.join(', ')}` });
    } else if (s !== s.trim()) ctx.addIssue({ code: 'custom', message: 'must not start or end with a space' });
  });

/** The placeholders a naming template may use. */
export const NAME_PLACEHOLDERS = ['prefix', 'audience_slug', 'destination_id', 'source_segment_id', 'current_time', 'date'] as const;
export type NamePlaceholder = (typeof NAME_PLACEHOLDERS)[number];
/** These render to a fixed width and are never shortened (the time is what tells copies apart). */
const FIXED_WIDTH: ReadonlySet<NamePlaceholder> = new Set(['current_time', 'date']);

type TemplatePart = { text: string } | { placeholder: NamePlaceholder };

/** Splits a template into literal text and placeholders, or says what is wrong with it. */
export function parseNameTemplate(template: string): { parts: TemplatePart[] } | { error: string } {
  const parts: TemplatePart[] = [];
  const re = /\{([^{}]*)\}|([{}])|([^{}]+)/g;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    if (m[3] !== undefined) {
      const text = m[3].normalize('NFC');
      const bad = [...new Set([...text].filter((c) => !NAME_CHAR.test(c)))];
      if (bad.length) return { error: `text outside placeholders may only hold letters, digits, spaces, "-" and "_"; it contains ${bad.slice(0, 5).map((c) => JSON.stringify(c)).join(', ')}` };
      parts.push({ text });
    } else if (m[2] !== undefined) {
      return { error: `has an unmatched "${m[2]}"` };
    } else {
      const name = m[1] ?? '';
      if (!(NAME_PLACEHOLDERS as readonly string[]).includes(name))
        return { error: `uses the unknown placeholder {${name}}; known: ${NAME_PLACEHOLDERS.map((p) => `{${p}}`).join(' ')}` };
      parts.push({ placeholder: name as NamePlaceholder });
    }
  }
  return { parts };
}

export interface NameVariables {
  prefix?: string;
  audience_slug?: string;
  destination_id?: string;
  source_segment_id?: string;
}

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** UTC, digits and one hyphen: `20261121-2146`. */
export function formatNameTime(now: Date): string {
  return `${now.getUTCFullYear()}${pad2(now.getUTCMonth() + 1)}${pad2(now.getUTCDate())}-${pad2(now.getUTCHours())}${pad2(now.getUTCMinutes())}`;
}

/** UTC `2026-11-21`. */
export function formatNameDate(now: Date): string {
  return `${now.getUTCFullYear()}-${pad2(now.getUTCMonth() + 1)}-${pad2(now.getUTCDate())}`;
}

/** Makes any text safe inside a name: disallowed characters become "-", runs collapse. */
export function sanitizeNameText(value: string): string {
  return [...value.normalize('NFC')]
    .map((c) => (NAME_CHAR.test(c) ? c : /\s/u.test(c) ? ' ' : '-'))
    .join('')
    .replace(/ {2,}/g, ' ')
    .replace(/-{2,}/g, '-')
    .replace(/^[ -]+|[ -]+$/g, '');
}

function assemble(parts: TemplatePart[], values: ReadonlyMap<NamePlaceholder, string[]>): string {
  return parts
    .map((p) => ('text' in p ? p.text : (values.get(p.placeholder) ?? []).join('')))
    .join('')
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * Renders a naming template to a valid audience name. Pure and deterministic: the same
 * template, variables and `now` give the same name. Values are sanitized; if the result is
 * too long the longest variable values are shortened first (fixed-width time and date never
 * are); if it is too short, " audience" is appended. The result always passes
 * AudienceNameSchema, whatever the inputs (a property test checks this on random inputs).
 */
export function renderAudienceName(template: string, vars: NameVariables, now: Date): string {
  const parsed = parseNameTemplate(template);
  // An invalid template never reaches here through the config schema; render its text
  // sanitized rather than throw, so the "always valid" promise holds for every caller.
  const parts: TemplatePart[] = 'parts' in parsed ? parsed.parts : [{ text: sanitizeNameText(template.replace(/[{}]/g, ' ')) }];
  const values = new Map<NamePlaceholder, string[]>();
  for (const name of NAME_PLACEHOLDERS) {
    let v: string;
    if (name === 'current_time') v = Number.isFinite(now.getTime()) ? formatNameTime(now) : '';
    else if (name === 'date') v = Number.isFinite(now.getTime()) ? formatNameDate(now) : '';
    else v = sanitizeNameText(vars[name] ?? '');
    values.set(name, [...v]);
  }
  let name = assemble(parts, values);
  // Shorten the longest variable value, one character at a time (water-filling keeps every
  // value as informative as possible), until the name fits.
  const used = new Set(parts.flatMap((p) => ('placeholder' in p && !FIXED_WIDTH.has(p.placeholder) ? [p.placeholder] : [])));
  while (codePoints(name) > AUDIENCE_NAME_MAX) {
    let longest: NamePlaceholder | undefined;
    for (const p of used) if ((values.get(p)?.length ?? 0) > (longest ? (values.get(longest)?.length ?? 0) : 0)) longest = p;
    if (!longest) break;
    const chars = values.get(longest) ?? [];
    chars.pop();
    while (chars.length && (chars[chars.length - 1] === ' ' || chars[chars.length - 1] === '-')) chars.pop();
    name = assemble(parts, values);
  }
  if (codePoints(name) > AUDIENCE_NAME_MAX) name = [...name].slice(0, AUDIENCE_NAME_MAX).join('').trim();
  while (codePoints(name) < AUDIENCE_NAME_MIN) name = name === '' ? 'ttsync audience' : `${name} audience`;
  return name;
}

export const NameTemplateSchema = z
  .object({
    template: z.string().min(1),
    /** {prefix}; default "ttsync". */
    prefix: z.string().max(200).optional(),
    /** {audience_slug}; default the sourceSegmentId. */
    audienceSlug: z.string().max(200).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    const parsed = parseNameTemplate(t.template);
    if ('error' in parsed) {
      ctx.addIssue({ code: 'custom', path: ['template'], message: `naming template ${parsed.error}` });
      return;
    }
    // Literal text plus time/date must leave room: those parts are never shortened.
    const epoch = new Date(0);
    const fixed = parsed.parts
      .map((p) => ('text' in p ? p.text : p.placeholder === 'current_time' ? formatNameTime(epoch) : p.placeholder === 'date' ? formatNameDate(epoch) : ''))
      .join('')
      .replace(/\s+/gu, ' ')
      .trim();
    if (codePoints(fixed) > AUDIENCE_NAME_MAX)
      ctx.addIssue({
        code: 'custom',
        path: ['template'],
        message: `naming template's fixed text and time take ${codePoints(fixed)} characters; at most ${AUDIENCE_NAME_MAX} fit in a name`,
      });
  });
export type NameTemplate = z.infer<typeof NameTemplateSchema>;

// ---------------------------------------------------------------------------------------
// Identifier columns

/*
 * WHY a second, friendly vocabulary: users write the names of identifiers.md's command-line
 * contract (`ttsync ids normalize --type email|phone|maid|idfa|gaid|external_id`) and choose
 * the MAID hash once (maidHash); src/identifiers speaks TikTok's calculate_type names.
 * `identifierTypeFor` is the one bridge between the two; keep this list equal to the
 * --type list of identifiers.md.
 */
export const ColumnTypeSchema = z.enum(['email', 'phone', 'maid', 'idfa', 'gaid', 'external_id']);
export type ColumnType = z.infer<typeof ColumnTypeSchema>;

/** The engine's identifier type for a column type, or undefined when audiences cannot carry it. */
export function identifierTypeFor(type: ColumnType, maidHash: HashAlgorithm): IdentifierType | undefined {
  const h = maidHash === 'md5' ? 'MD5' : 'SHA256';
  switch (type) {
    case 'email':
      return 'EMAIL_SHA256';
    case 'phone':
      return 'PHONE_SHA256';
    case 'maid':
      return `MAID_${h}`;
    case 'idfa':
      return `IDFA_${h}`;
    case 'gaid':
      return `GAID_${h}`;
    case 'external_id':
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Secrets and storage references


// ---------------------------------------------------------------------------------------
// The destination

export const MB = 1_000_000;
/** TikTok's per-file limit for customer files is 50 MB; 250 MB is the batch cap users come from. */
export const FILE_SIZE_CAP_DEFAULT = 50 * MB;
export const FILE_SIZE_CAP_MAX = 250 * MB;
export const MAX_IDS_PER_FILE = 500_000;

const digits = (what: string) =>
  z.string({ error: (i) => (typeof i.input === 'number' ? `${what} must be a string of digits (quote it: long ids lose precision as JSON numbers)` : `${what} must be a string of digits`) }).regex(/^\d{1,30}$/, `${what} must be digits only`);

/** A destination id: a slug, as it appears in workflow ids, schedule ids and search attributes. */
export const DestinationIdSchema = z
  .string()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be a slug: 1-64 lowercase letters, digits and "-", not starting or ending with "-"');

export const DestinationConfigSchema = z
  .object({
    /** Names the destination in workflow ids, schedules and search attributes. */
    destinationId: DestinationIdSchema,
    advertiserId: digits('advertiserId'),
    audienceName: z.union([AudienceNameSchema, NameTemplateSchema], {
      error: (i) =>
        i.code === 'invalid_union' && typeof i.input !== 'string' && (typeof i.input !== 'object' || i.input === null)
          ? `must be a name (${NAME_RULE}) or a naming template object {"template": "{prefix} {audience_slug} {current_time}"}`
          : undefined,
    }),
    /** An existing audience to APPEND to or REPLACE; without it ttsync finds the audience by its literal name. */
    audienceId: digits('audienceId').optional(),
    action: z.enum(['create', 'append', 'replace']),
    retentionDays: z.number().int('must be a whole number of days').min(1, 'must be 1-365 days').max(365, 'must be 1-365 days').optional(),
    /** Column (CSV header or NDJSON key) → identifier type. */
    identifiers: z.record(z.string().min(1, 'column names must not be empty'), ColumnTypeSchema).refine((r) => Object.keys(r).length > 0, 'map at least one identifier column'),
    /** A column holding each row's ISO 3166-1 alpha-2 country, for national phone numbers. */
    countryColumn: z.string().min(1).optional(),
    maidHash: HashAlgorithmSchema.default('sha256'),
    defaultCountry: CountryCodeSchema.optional(),
    phoneFormat: PhoneFormatSchema.default('digits'),
    /** mirror: entries appended and exits removed; addOnly: nobody is ever removed. */
    syncMode: z.enum(['mirror', 'addOnly']).default('mirror'),
    accessToken: SecretRefSchema,
    /** Selects the rate-limit bucket (TikTok counts QPS per app). */
    appId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, "-" or "_"').optional(),
    /** The upstream segment this audience mirrors; one segment feeds one advertiser unless separateCopy. */
    sourceSegmentId: z.string().min(1).max(200),
    /**
     * Events destinations (their destination ids) told about each snapshot this destination
     * commits: their audience triggers turn its enters and exits into events.
     */
    notifyEventsDestinations: z
      .array(z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be an events destination id (a slug)'))
      .max(20, 'at most 20 events destinations')
      .optional(),
    /** Allows this segment in a second advertiser account as an independent copy with its own name. */
    separateCopy: z.boolean().default(false),
    /** Snapshots older than this are not synced (status stale_snapshot). */
    readinessWindow: DurationSchema.default('36h'),
    /** How long to wait for TikTok to finish processing before entering processing_overdue. */
    maxProcessingWait: DurationSchema.default('48h'),
    /**
     * Who hears when this destination needs a person (error, stale snapshot, conflicts, …) and
     * when that clears: `{"email": ["ops@example.com"], "webhook": {"url": …, "tokenRef": "env:…"}}`.
     * Default: the deployment's route (TTSYNC_NOTICE_EMAIL / TTSYNC_NOTICE_WEBHOOK on the workers).
     */
    alerts: NoticeRouteSchema.optional(),
    fileSizeCapBytes: z
      .number()
      .int()
      .min(1024, 'must be at least 1024 bytes')
      .max(FILE_SIZE_CAP_MAX, `must be at most ${FILE_SIZE_CAP_MAX} bytes (250 MB)`)
      .default(FILE_SIZE_CAP_DEFAULT),
    maxIdsPerFile: z.number().int().min(1).max(MAX_IDS_PER_FILE, `must be at most ${MAX_IDS_PER_FILE} (TikTok's per-file limit)`).default(MAX_IDS_PER_FILE),
    storage: z
      .object({
        /** The default snapshot to sync (a CSV or NDJSON object); a sync request may name another. */
        snapshot: storageUriSchema('snapshot object', { object: true }).optional(),
        /** Where shards, upload files, rejects and manifests go; default: the worker's local data folder. */
        workdir: storageUriSchema('workdir folder').optional(),
        /**
         * Run folders (spill, diff, customer files, rejects) kept after each commit besides
         * those the applied state needs, and manifests kept before the applied one; older
         * ones are deleted. Default 3.
         */
        keepRuns: z.number().int('must be a whole number of runs').min(0, 'must be 0-1000').max(1000, 'must be 0-1000').optional(),
      })
      .strict()
      .default({}),
    /**
     * What rejects files keep of each rejected value: raw (default; needed to fix the data),
     * masked (letters x, digits 9: the shape only) or none. No default written into the
     * parsed config, so existing configs keep their fingerprint.
     */
    rejects: z
      .object({ values: z.enum(['raw', 'masked', 'none'], { message: 'must be "raw", "masked" or "none"' }).optional() })
      .strict()
      .optional(),
    /**
     * A TikTok Data Marketplace (third-party, "3PD") segment: the buyer's three agreements,
     * reporting contacts, provider, price and currency. Its usage is reported monthly by the
     * usage-report lifecycle (the contract is the kernel's src/marketplace/dataMarketplace.ts).
     */
    dataMarketplace: DataMarketplaceSchema.optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.dataMarketplace)
      for (const [column, type] of Object.entries(d.identifiers))
        if (!(DATA_MARKETPLACE_IDENTIFIER_TYPES as readonly string[]).includes(type))
          ctx.addIssue({
            code: 'custom',
            path: ['identifiers', column],
            message: `a Data Marketplace (dataMarketplace) destination may carry only emails (plaintext or SHA-256) and phone numbers; "${type}" is refused for third-party data`,
          });
    for (const [column, type] of Object.entries(d.identifiers)) {
      if (type === 'external_id')
        ctx.addIssue({
          code: 'custom',
          path: ['identifiers', column],
          message: 'external_id cannot go into a TikTok customer-file audience (TikTok has no calculate_type for it); map email, phone, maid, idfa or gaid',
        });
      if (column === d.countryColumn)
        ctx.addIssue({ code: 'custom', path: ['identifiers', column], message: `column "${column}" is also the countryColumn` });
    }
    if (d.action === 'replace' && d.syncMode === 'addOnly')
      ctx.addIssue({ code: 'custom', path: ['syncMode'], message: 'action "replace" removes everyone missing from the snapshot, which contradicts syncMode "addOnly"; choose one' });
    if (d.action !== 'create' && d.audienceId === undefined && typeof d.audienceName !== 'string')
      ctx.addIssue({
        code: 'custom',
        path: ['audienceId'],
        message: `action "${d.action}" needs the audience to exist: give its audienceId, or a literal audienceName to find it by (a naming template renders a new name each time)`,
      });
    if (d.action === 'create' && d.audienceId !== undefined)
      ctx.addIssue({ code: 'custom', path: ['audienceId'], message: 'action "create" makes a new audience; remove audienceId, or use action "append" or "replace" to feed that audience' });
    const wait = durationMs(d.maxProcessingWait);
    if (wait !== undefined && wait < 1000)
      ctx.addIssue({ code: 'custom', path: ['maxProcessingWait'], message: 'must be at least 1s' });
  });

export type DestinationConfigInput = z.input<typeof DestinationConfigSchema>;
export type DestinationConfig = z.output<typeof DestinationConfigSchema>;

/** The identifier engine's column mapping for this destination. */
export function columnMappingOf(config: DestinationConfig): ColumnMapping {
  const identifiers = Object.entries(config.identifiers).flatMap(([column, type]) => {
    const t = identifierTypeFor(type, config.maidHash);
    return t ? [{ column, type: t }] : [];
  });
  return ColumnMappingSchema.parse({ identifiers, ...(config.countryColumn ? { countryColumn: config.countryColumn } : {}) });
}

/** The audience name to create now: the literal name, or the template rendered at `now`. */
export function audienceNameFor(config: DestinationConfig, now: Date): string {
  if (typeof config.audienceName === 'string') return config.audienceName;
  const t = config.audienceName;
  return renderAudienceName(
    t.template,
    {
      prefix: t.prefix ?? 'ttsync',
      audience_slug: t.audienceSlug ?? config.sourceSegmentId,
      destination_id: config.destinationId,
      source_segment_id: config.sourceSegmentId,
    },
    now,
  );
}

// ---------------------------------------------------------------------------------------
// Errors that name the source and the JSON path

export type { ConfigProblem };

export class DestinationConfigError extends ConfigError {
  override name = 'DestinationConfigError';
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[],
  ) {
    super(`invalid destination config ${source}:\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
  }
}

/** Validates a destination (e.g. workflow input pasted in the UI). `source` names it in errors. */
export function parseDestinationConfig(input: unknown, source = 'input'): DestinationConfig {
  const r = DestinationConfigSchema.safeParse(input);
  if (!r.success) throw new DestinationConfigError(source, zodProblems(r.error));
  return r.data;
}

/** Parses JSON text, turning syntax errors into line:column problems. */
export function parseDestinationJson(text: string, source: string): DestinationConfig {
  const parsed = parseJsonText(text);
  if (!parsed.ok) throw new DestinationConfigError(source, [parsed.problem]);
  return parseDestinationConfig(parsed.value, source);
}

// ---------------------------------------------------------------------------------------
// Rules across destinations

/** What the two-advertiser rule looks at: a destination config, or its entry in the segment claim registry. */
export type SegmentClaimant = Pick<DestinationConfig, 'destinationId' | 'advertiserId' | 'sourceSegmentId' | 'separateCopy' | 'audienceName'>;

/**
 * TikTok refuses the same segment in two ad accounts, so a source segment may feed one
 * advertiser; a destination in another advertiser is accepted only as `separateCopy: true`
 * with a name of its own. The owner is the first destination in `configs` that is not a
 * separate copy, so the claim registry (segmentClaims.ts) passes claims in the
 * order they were made. Returns one problem per offending destination.
 */
export function segmentConflicts(configs: readonly SegmentClaimant[]): { destinationId: string; message: string }[] {
  const problems: { destinationId: string; message: string }[] = [];
  const bySegment = new Map<string, SegmentClaimant[]>();
  for (const c of configs) bySegment.set(c.sourceSegmentId, [...(bySegment.get(c.sourceSegmentId) ?? []), c]);
  for (const [segment, group] of bySegment) {
    const owner = group.find((c) => !c.separateCopy) ?? group[0];
    if (!owner) continue;
    for (const c of group) {
      if (c === owner || c.advertiserId === owner.advertiserId) continue;
      if (!c.separateCopy)
        problems.push({
          destinationId: c.destinationId,
          message: `source segment "${segment}" is already synced to advertiser ${owner.advertiserId} by destination "${owner.destinationId}"; TikTok refuses one segment in two ad accounts. Set separateCopy: true and give this copy its own audienceName`,
        });
      else if (nameIdentity(c) === nameIdentity(owner))
        problems.push({
          destinationId: c.destinationId,
          message: `separate copy of segment "${segment}" must have its own audienceName (it repeats the one of destination "${owner.destinationId}")`,
        });
    }
  }
  return problems;
}

function nameIdentity(c: SegmentClaimant): string {
  const n = c.audienceName;
  return typeof n === 'string' ? `name:${n.toLowerCase()}` : `template:${n.template}|${n.prefix ?? ''}|${n.audienceSlug ?? c.sourceSegmentId}`;
}
