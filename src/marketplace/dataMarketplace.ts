import { z } from 'zod';
import { SecretRefSchema } from '../config/secretRef';
import { DurationSchema } from '../config/duration';
import { WebhookRouteSchema } from '../notices/schema';
import { storageUriSchema } from '../storage/uriSchema';

/*
 * The TikTok Data Marketplace (third-party data, "3PD") contract, shared by the lifecycle
 * that syncs a 3PD segment (audience sync: a destination with `dataMarketplace`) and the one
 * that reports its monthly usage (usage report). Neither imports the other: both read this.
 * Pure (zod only): workflows validate their input with it.
 *
 * Facts behind it (LiveRamp's TikTok Data Marketplace destination): a buyer must accept three
 * agreements, each by typing exactly "I Agree"; the data cost is a percentage of the campaign
 * spend ("Amount Spent") in a monthly usage report; reporting contacts are one or more emails,
 * comma separated; only plaintext or SHA-256 emails and plaintext phones may carry 3PD data.
 */

/** The exact text each agreement takes. */
export const I_AGREE = 'I Agree';

/** The three agreements, with what each one accepts (our words; the literal is the seed's). */
export const DATA_MARKETPLACE_AGREEMENTS = {
  dataUsageReporting: 'Data Usage Reporting Requirement: the impressions and amount spent of every campaign using the data are reported monthly',
  paymentModel: 'Payment Model: the data cost is a percentage of campaign spend, taken from the "Amount Spent" column of the monthly usage report',
  paymentRequirement: 'Payment Requirement: the data is paid for under the TikTok Data Agreement',
} as const;
export type DataMarketplaceAgreement = keyof typeof DATA_MARKETPLACE_AGREEMENTS;

const agreement = (name: DataMarketplaceAgreement) =>
  z
    .unknown()
    .superRefine((v, ctx) => {
    if (v === I_AGREE) return;
    const got = v === undefined ? 'it is missing' : `got ${JSON.stringify(v)}`;
    ctx.addIssue({ code: 'custom', message: `must be exactly "${I_AGREE}" (${DATA_MARKETPLACE_AGREEMENTS[name]}); ${got}` });
  })
    .transform((): typeof I_AGREE => I_AGREE);

const EMAIL = z.email();

/** One address, a list, or "a@x.example, b@y.example": always a list of distinct addresses. */
export const ReportingContactsSchema = z
  .union([z.string(), z.array(z.string())], { error: 'must be an email address, a comma-separated list of them, or an array of them' })
  .transform((v, ctx) => {
    const parts = (Array.isArray(v) ? v.flatMap((s) => s.split(',')) : v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
    if (parts.length === 0) ctx.addIssue({ code: 'custom', message: 'name at least one reporting contact email' });
    for (const p of parts) if (!EMAIL.safeParse(p).success) ctx.addIssue({ code: 'custom', message: `"${p}" is not an email address such as reports@example.com` });
    return [...new Set(parts.map((p) => p.toLowerCase()))];
  })
  .pipe(z.array(z.string()).max(50, 'at most 50 reporting contacts'));

/**
 * A percentage as a decimal string ("12.5"), kept as text so money is never a binary float:
 * 0 < p ≤ 100, at most 4 decimal places. A JSON number is accepted when it prints exactly.
 */
export const PricePercentSchema = z
  .union([z.string(), z.number()], { error: 'must be a percentage such as "12.5" (a string keeps it exact)' })
  .transform((v, ctx) => {
    const s = typeof v === 'number' ? String(v) : v.trim();
    const m = /^(\d{1,3})(?:\.(\d{1,4}))?$/.exec(s);
    if (!m) {
      ctx.addIssue({ code: 'custom', message: `must be a percentage with at most 4 decimal places, such as "12.5"; got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    const n = Number(`${m[1]}.${m[2] ?? '0'}`);
    if (!(n > 0 && n <= 100)) ctx.addIssue({ code: 'custom', message: `must be more than 0 and at most 100; got ${s}` });
    // Canonical text: no leading zeros, no trailing fractional zeros.
    const int = String(Number(m[1]));
    const frac = (m[2] ?? '').replace(/0+$/, '');
    return frac ? `${int}.${frac}` : int;
  });

export const CurrencySchema = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 currency code such as "USD"');

const IANA_TZ = /^(UTC|[A-Za-z]+(?:\/[A-Za-z0-9_+-]+)+)$/;

/** When and how the monthly report runs; every 3PD destination of one advertiser must agree. */
export const UsageReportSettingsSchema = z
  .object({
    /** The advertiser's time zone (TikTok reports days in it); the schedules run in it. */
    timeZone: z.string().regex(IANA_TZ, 'must be an IANA time zone such as "UTC" or "America/New_York"').default('UTC'),
    /** Day of the month the monthly report starts (default the 2nd). */
    dayOfMonth: z.number().int().min(1, 'must be 1-28').max(28, 'must be 1-28').default(2),
    /** Hour of that day (default 06:00). */
    hour: z.number().int().min(0, 'must be 0-23').max(23, 'must be 0-23').default(6),
    /** How long after the month's end TikTok's numbers are taken as final (peers re-read ~3 days). */
    settle: DurationSchema.default('3d'),
    /** Where reports and daily targeting records go (folder URI); default the worker's data folder. */
    storage: storageUriSchema('folder').optional(),
    /** A webhook that also receives each report (the contacts get it by email). */
    webhook: WebhookRouteSchema.optional(),
  })
  .strict();
export type UsageReportSettings = z.output<typeof UsageReportSettingsSchema>;

export const DataMarketplaceSchema = z
  .object({
    dataUsageReporting: agreement('dataUsageReporting'),
    paymentModel: agreement('paymentModel'),
    paymentRequirement: agreement('paymentRequirement'),
    /** Who sends and receives the monthly usage report. */
    reportingContacts: ReportingContactsSchema,
    /** The data provider (seller) and its segment id, as the provider names them on invoices. */
    providerId: z.string().min(1).max(200),
    segmentId: z.string().min(1).max(200),
    /** The data cost as a percentage of spend. */
    pricePercent: PricePercentSchema,
    /** The currency the price is agreed in (the ad account's currency). */
    currency: CurrencySchema,
    report: UsageReportSettingsSchema.optional(),
  })
  .strict();
export type DataMarketplaceInput = z.input<typeof DataMarketplaceSchema>;
export type DataMarketplace = z.output<typeof DataMarketplaceSchema>;

/** Column types a 3PD destination may map (emails plaintext or SHA-256, phones plaintext). */
export const DATA_MARKETPLACE_IDENTIFIER_TYPES = ['email', 'phone'] as const;

/**
 * A 3PD destination as the usage report sees it: the ids, the token reference and the
 * `dataMarketplace` section of an audience destination config, everything else ignored
 * (audience sync validates the whole file; this view never grows a second schema of it).
 */
export const ThirdPartyDestinationSchema = z.object({
  destinationId: z.string().min(1),
  advertiserId: z.string().regex(/^\d{1,30}$/, 'must be digits only'),
  /** The audience the destination feeds, when its config names it. */
  audienceId: z.string().regex(/^\d{1,30}$/).optional(),
  sourceSegmentId: z.string().min(1),
  accessToken: SecretRefSchema,
  appId: z.string().optional(),
  dataMarketplace: DataMarketplaceSchema,
});
export type ThirdPartyDestination = z.output<typeof ThirdPartyDestinationSchema>;
