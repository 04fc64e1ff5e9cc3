import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import { z } from 'zod';
import { REJECT_REASONS } from './reasons';

/**
 * The identifier vocabulary shared by every surface that sends people to TikTok
 * (shared/identifiers.md). Destination configs (src/config) reuse these schemas so a
 * column mapping is validated in exactly one place.
 */

/** Which TikTok surface the digests are for; email and phone rules differ between them. */
export const IdentifierContextSchema = z.enum(['audience', 'events']);
export type IdentifierContext = z.infer<typeof IdentifierContextSchema>;

export const HashAlgorithmSchema = z.enum(['sha256', 'md5']);
export type HashAlgorithm = z.infer<typeof HashAlgorithmSchema>;

/** The rule families of identifiers.md. IDFA, GAID, AAID and MAID all follow the MAID rule. */
export const IdentifierKindSchema = z.enum(['email', 'phone', 'maid', 'external_id']);
export type IdentifierKind = z.infer<typeof IdentifierKindSchema>;

/**
 * Identifier types as TikTok names them in `calculate_type` / `id_schema`, plus
 * EXTERNAL_ID_SHA256 (ttsync's name for the Events API `user.external_id` field, which
 * has no customer-file type). Email and phone exist only as SHA-256 on TikTok.
 */
export const IDENTIFIER_TYPES = [
  'EMAIL_SHA256',
  'PHONE_SHA256',
  'IDFA_SHA256',
  'IDFA_MD5',
  'GAID_SHA256',
  'GAID_MD5',
  'AAID_SHA256',
  'AAID_MD5',
  'MAID_SHA256',
  'MAID_MD5',
  'EXTERNAL_ID_SHA256',
] as const;
export const IdentifierTypeSchema = z.enum(IDENTIFIER_TYPES);
export type IdentifierType = z.infer<typeof IdentifierTypeSchema>;

export interface IdentifierTarget {
  kind: IdentifierKind;
  hash: HashAlgorithm;
}

const TYPE_TARGETS: Readonly<Record<IdentifierType, IdentifierTarget>> = {
  EMAIL_SHA256: { kind: 'email', hash: 'sha256' },
  PHONE_SHA256: { kind: 'phone', hash: 'sha256' },
  IDFA_SHA256: { kind: 'maid', hash: 'sha256' },
  IDFA_MD5: { kind: 'maid', hash: 'md5' },
  GAID_SHA256: { kind: 'maid', hash: 'sha256' },
  GAID_MD5: { kind: 'maid', hash: 'md5' },
  AAID_SHA256: { kind: 'maid', hash: 'sha256' },
  AAID_MD5: { kind: 'maid', hash: 'md5' },
  MAID_SHA256: { kind: 'maid', hash: 'sha256' },
  MAID_MD5: { kind: 'maid', hash: 'md5' },
  EXTERNAL_ID_SHA256: { kind: 'external_id', hash: 'sha256' },
};

export function targetOfType(type: IdentifierType): IdentifierTarget {
  return TYPE_TARGETS[type];
}

/**
 * Why a value was rejected (identifiers.md "Reason codes"). `unmapped_column` is a
 * row-level reason: none of the row's identifier columns is present at all.
 */
export const RejectReasonSchema = z.enum(REJECT_REASONS);
export type RejectReason = z.infer<typeof RejectReasonSchema>;

/** ISO 3166-1 alpha-2, any case in config; must be a country libphonenumber-js knows. */
export const CountryCodeSchema = z
  .string()
  .trim()
  .transform((s) => s.toUpperCase())
  .refine((s): s is CountryCode => /^[A-Z]{2}$/.test(s) && isSupportedCountry(s), {
    message: 'must be an ISO 3166-1 alpha-2 country code known to libphonenumber-js (e.g. US, GB, DE)',
  })
  .transform((s) => s as CountryCode);

/**
 * The hashed form of an audience phone: `digits` = E.164 without the `+` (TikTok's
 * customer-file guidance, the default) or `e164` = with the `+` (an override, because
 * that guidance has changed before). Events API phones always carry the `+`.
 */
export const PhoneFormatSchema = z.enum(['digits', 'e164']);
export type PhoneFormat = z.infer<typeof PhoneFormatSchema>;

export const NormalizationOptionsSchema = z.object({
  context: IdentifierContextSchema,
  defaultCountry: CountryCodeSchema.optional(),
  phoneFormat: PhoneFormatSchema.default('digits'),
});
export type NormalizationOptions = z.input<typeof NormalizationOptionsSchema>;
export type ResolvedNormalizationOptions = z.output<typeof NormalizationOptionsSchema>;

/** One identifier column of a snapshot: the column (CSV header / NDJSON key) and its type. */
export const IdentifierColumnSchema = z.object({
  column: z.string().min(1),
  type: IdentifierTypeSchema,
});
export type IdentifierColumn = z.infer<typeof IdentifierColumnSchema>;

/** Which columns hold which identifier types, plus an optional per-row country column. */
export const ColumnMappingSchema = z
  .object({
    identifiers: z.array(IdentifierColumnSchema).min(1, 'map at least one identifier column'),
    countryColumn: z.string().min(1).optional(),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    m.identifiers.forEach((c, i) => {
      if (seen.has(c.column))
        ctx.addIssue({ code: 'custom', path: ['identifiers', i, 'column'], message: `column "${c.column}" is mapped twice` });
      seen.add(c.column);
      if (c.column === m.countryColumn)
        ctx.addIssue({
          code: 'custom',
          path: ['identifiers', i, 'column'],
          message: `column "${c.column}" is also the country column`,
        });
    });
  });
export type ColumnMapping = z.infer<typeof ColumnMappingSchema>;
