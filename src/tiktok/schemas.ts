import { z } from 'zod';
import { MICRO_DIGITS, parseMicros } from './money';

/**
 * Response shapes of the endpoints ttsync uses (one schema per concept; types derive from
 * them). The rule: a field is required only where ttsync's code reads it and cannot do
 * without it (README "Response fields ttsync needs"). Everything else is nullish or left to
 * the loose objects, because TikTok adds, drops and nulls descriptive fields at will, and
 * one such field must not stop a sync. A required field that is missing makes the call fail
 * as UnexpectedResponse (transport.ts).
 * Ids are strings in v1.3; numbers are accepted and turned into strings because older
 * responses used them.
 */
const id = z.union([z.string(), z.number()]).transform(String);
/** Read but optional: null and absent both mean "not given". */
const optionalString = z.string().nullish();
const optionalBool = z.boolean().nullish();

export const EnvelopeSchema = z.looseObject({
  /** The one field that decides success or failure: without it nothing can be concluded. */
  code: z.number().int(),
  // Shown in errors and trackEvents' result; a missing message is an empty one.
  message: z
    .string()
    .nullish()
    .transform((m) => m ?? ''),
  request_id: optionalString,
  data: z.unknown().optional(),
});
export type Envelope = z.infer<typeof EnvelopeSchema>;

export const PageInfoSchema = z.looseObject({
  page: z.number().int().nullish(),
  page_size: z.number().int().nullish(),
  total_number: z.number().int().nullish(),
  /** Every paging loop stops on it; guessing the end could miss an audience or loop forever. */
  total_page: z.number().int(),
});
export type PageInfo = z.infer<typeof PageInfoSchema>;

export const EmptyDataSchema = z.unknown();

export const AccessTokenDataSchema = z.looseObject({
  access_token: z.string().min(1),
  // Absent with return_advertiser_ids=false (digest §13.3): then nothing is known, not an error.
  advertiser_ids: z
    .array(id)
    .nullish()
    .transform((v) => v ?? []),
  scope: z
    .array(z.union([z.number(), z.string()]))
    .nullish()
    .transform((v) => v ?? []),
});

export const AuthorizedAdvertisersDataSchema = z.looseObject({
  list: z.array(z.looseObject({ advertiser_id: id, advertiser_name: optionalString })),
});

export const AdvertiserInfoDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      advertiser_id: id,
      name: optionalString,
      currency: optionalString,
      timezone: optionalString,
      status: optionalString,
    }),
  ),
});

/** getUserInfo is a token check: code 0 is the answer, every field is informational. */
export const UserInfoDataSchema = z.looseObject({
  core_user_id: id.nullish(),
  display_name: optionalString,
  email: optionalString,
  create_time: z.number().nullish(),
});

export const FileUploadDataSchema = z.looseObject({ file_path: z.string().min(1) });

/** The new audience's id: without it the create cannot be followed (the next cycle finds it by name). */
export const AudienceCreateDataSchema = z.looseObject({ custom_audience_id: id });

/**
 * An audience as list and get describe it. Nothing is required here: each endpoint's schema
 * below requires what its readers use.
 */
export const AudienceSchema = z.looseObject({
  audience_id: id.nullish(),
  name: optionalString,
  audience_type: optionalString,
  type: optionalString,
  audience_sub_type: optionalString,
  calculate_type: optionalString,
  /**
   * Matched users; informational (status, "too small" advice). Absent or null = unknown
   * (null in AudienceStatus), never a failure: TikTok fills it in only after processing.
   */
  cover_num: z.number().int().nullish(),
  is_valid: optionalBool,
  is_expiring: optionalBool,
  is_creator: optionalBool,
  shared: optionalBool,
  msg: optionalString,
  error_msg: optionalString,
  create_time: optionalString,
  expired_time: optionalString,
});
export type Audience = z.infer<typeof AudienceSchema>;

export const AudienceListDataSchema = z.looseObject({
  list: z.array(
    // findAudiencesByName matches on name and returns the id: an entry without either could
    // be the audience sought, and guessing "not it" would create a duplicate.
    AudienceSchema.extend({ audience_id: id, name: z.string() }),
  ),
  // countCustomAudiences reads it for the 400-audience cap check, before anything is uploaded.
  page_info: PageInfoSchema.extend({ total_number: z.number().int() }),
});

/** History is returned to callers but ttsync decides nothing on it: every field may be missing. */
export const AudienceHistoryEntrySchema = z.looseObject({
  opt_time: optionalString,
  action: optionalString,
  action_detail: optionalString,
  editor: optionalString,
  msg: optionalString,
});
export type AudienceHistoryEntry = z.infer<typeof AudienceHistoryEntrySchema>;

export const AudienceGetDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      // is_valid is the one readiness signal (digest §3.4): no edit may be sent while it is
      // false, so a missing one cannot be read as either value.
      audience_details: AudienceSchema.extend({ is_valid: z.boolean() }),
      audience_history: z
        .array(AudienceHistoryEntrySchema)
        .nullish()
        .transform((h) => h ?? []),
    }),
  ),
});

/**
 * A campaign or ad group as campaign/get and adgroup/get list it (digest §11). A migration
 * reads the status to find paused campaigns, so the id and operation_status are needed;
 * secondary_status and names are shown when present.
 */
export const CampaignSchema = z.looseObject({
  campaign_id: id,
  campaign_name: optionalString,
  operation_status: z.string(),
  secondary_status: optionalString,
});
export type Campaign = z.infer<typeof CampaignSchema>;
export const CampaignListDataSchema = z.looseObject({ list: z.array(CampaignSchema), page_info: PageInfoSchema });

/** Audience ids of an ad group's targeting; absent or null is none (TikTok drops empty fields on request). */
const idList = z
  .array(id)
  .nullish()
  .transform((v) => v ?? []);

export const AdgroupSchema = z.looseObject({
  adgroup_id: id,
  campaign_id: id,
  adgroup_name: optionalString,
  campaign_name: optionalString,
  operation_status: z.string(),
  secondary_status: optionalString,
  /** Audiences the ad group targets (digest §11.1): what a Data Marketplace usage report counts. */
  audience_ids: idList,
  /** Audiences it excludes. One SDK spells it exclude_audience_ids; both are read (adgroupTargeting). */
  excluded_audience_ids: idList,
  exclude_audience_ids: idList,
});
export type Adgroup = z.infer<typeof AdgroupSchema>;
export const AdgroupListDataSchema = z.looseObject({ list: z.array(AdgroupSchema), page_info: PageInfoSchema });

export const SegmentAudienceDataSchema = z.looseObject({ audience_id: id });

/** `report/integrated/get/` rows: dimension values and metric values both arrive as strings (or numbers). */
export interface ReportRow {
  dimensions: Record<string, string>;
  /** null: TikTok gave no value (null, `"-"` is passed through as is). */
  metrics: Record<string, string | number | null>;
}

const dimensionValue = z.union([z.string(), z.number()]).transform(String);
// The digest (§10.2) shows metrics as strings, numbers and null; absent is read as null.
const metricValue = z
  .union([z.string(), z.number()])
  .nullish()
  .transform((v) => v ?? null);

/**
 * The report answer for the columns asked for: every requested dimension is required (a row
 * without its campaign or day cannot be attributed), requested metrics may be null. Other
 * keys of `dimensions`/`metrics` are dropped (z.object strips), so the row type stays exact.
 */
export function reportDataSchema(dimensions: readonly string[], metrics: readonly string[]): z.ZodType<{ list: ReportRow[]; page_info: PageInfo }> {
  const row = z.looseObject({
    dimensions: z.object(Object.fromEntries(dimensions.map((d) => [d, dimensionValue]))),
    metrics: z.object(Object.fromEntries(metrics.map((m) => [m, metricValue]))),
  });
  return z.looseObject({ list: z.array(row), page_info: PageInfoSchema });
}

/**
 * One ad group's day from `report/integrated/get/` at AUCTION_ADGROUP level by stat_time_day,
 * with money read exactly: `spend` becomes micro-units (src/tiktok/money.ts) here, so a value
 * that is not a plain decimal fails the call as UnexpectedResponse naming its JSON path.
 * "-" and null are TikTok's "no value": nothing delivered, nothing spent.
 */
const noValue = (v: unknown): boolean => v === null || v === undefined || v === '-' || v === '';
const countValue = z.union([z.string(), z.number()]).nullish().transform((v, ctx) => {
  if (noValue(v)) return '0';
  const t = String(v).trim();
  if (!/^\d+$/.test(t)) ctx.addIssue({ code: 'custom', message: `not a whole count: ${JSON.stringify(v)}` });
  return t.replace(/^0+(?=\d)/, '');
});
const moneyValue = z.union([z.string(), z.number()]).nullish().transform((v, ctx) => {
  if (noValue(v)) return 0n;
  const micros = parseMicros(v as string | number);
  if (micros === null) {
    ctx.addIssue({ code: 'custom', message: `not a decimal amount with at most ${MICRO_DIGITS} decimal places: ${JSON.stringify(v)}` });
    return 0n;
  }
  return micros;
});
export const AdgroupDayReportDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      dimensions: z.looseObject({ adgroup_id: id, stat_time_day: z.string().regex(/^\d{4}-\d{2}-\d{2}/, 'must start with a day YYYY-MM-DD') }),
      metrics: z.looseObject({ impressions: countValue, spend: moneyValue, currency: optionalString }),
    }),
  ),
  page_info: PageInfoSchema,
});

/**
 * Business Centers the token's user belongs to (`bc/get/`, digest §13.7). Only the id is
 * needed: it is what `bc/asset/get/` takes. The user's BC role is informational.
 */
export const BusinessCentersDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      bc_info: z.looseObject({ bc_id: id, name: optionalString }),
      user_role: optionalString,
    }),
  ),
  page_info: PageInfoSchema,
});

/**
 * Assets of one Business Center (`bc/asset/get/`, digest §13.7). `advertiser_role` is the
 * token user's permission on the ad account (ADMIN, OPERATOR, ANALYST): the only place
 * TikTok shows it. Optional: an asset without it leaves the role unverified, never guessed.
 */
export const BcAssetsDataSchema = z.looseObject({
  list: z.array(
    z.looseObject({
      asset_id: id,
      asset_name: optionalString,
      asset_type: optionalString,
      relation_type: optionalString,
      relation_status: optionalString,
      advertiser_role: optionalString,
    }),
  ),
  page_info: PageInfoSchema,
});
export type BcAsset = z.infer<typeof BcAssetsDataSchema>['list'][number];
