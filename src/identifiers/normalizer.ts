import { digestHex, isTooLong, prehashedKind } from './digest';
import { normalizeEmail } from './email';
import { normalizeMaid } from './maid';
import { parsePhoneE164 } from './phone';
import type { CountryCode } from 'libphonenumber-js';
import { phoneLib } from './lazy';
import type {
  HashAlgorithm,
  IdentifierKind,
  IdentifierTarget,
  NormalizationOptions,
  RejectReason,
  ResolvedNormalizationOptions,
} from './schema';

/**
 * The options as NormalizationOptionsSchema (schema.ts) resolves them, without loading zod:
 * a normalizer of emails then starts without zod and libphonenumber-js (lazy.ts), which is
 * most of `ttsync ids normalize`'s start-up. The schema stays the one definition: callers
 * validate configs and flags with it, and a unit test holds this function to the same
 * answers, value for value; invalid options throw a RangeError naming the field.
 */
export function resolveNormalizationOptions(o: NormalizationOptions): ResolvedNormalizationOptions {
  const context = o.context;
  if (context !== 'audience' && context !== 'events') throw new RangeError('invalid normalization options: context must be "audience" or "events"');
  const phoneFormat = o.phoneFormat === undefined ? 'digits' : o.phoneFormat;
  if (phoneFormat !== 'digits' && phoneFormat !== 'e164') throw new RangeError('invalid normalization options: phoneFormat must be "digits" or "e164"');
  if (o.defaultCountry === undefined) return { context, phoneFormat };
  const country = typeof o.defaultCountry === 'string' ? o.defaultCountry.trim().toUpperCase() : '';
  if (!/^[A-Z]{2}$/.test(country) || !phoneLib().isSupportedCountry(country))
    throw new RangeError('invalid normalization options: defaultCountry must be an ISO 3166-1 alpha-2 country code known to libphonenumber-js (e.g. US, GB, DE)');
  return { context, defaultCountry: country as CountryCode, phoneFormat };
}

/** A value-level reason; `unmapped_column` applies to whole rows, never to one value. */
export type ValueRejectReason = Exclude<RejectReason, 'unmapped_column'>;

/** What happened to one value: hashed by us, passed through as a digest, skipped, or rejected. */
export type Outcome = 'hashed' | 'prehashed' | 'empty' | ValueRejectReason;

/**
 * Normalizes and hashes values of one identifier target under one set of options.
 * `process` returns the outcome and leaves the digest (and normalized value) in fields
 * instead of returning an object, so the per-row hot path allocates only the digest string.
 */
export class IdentifierNormalizer {
  readonly kind: IdentifierKind;
  readonly hash: HashAlgorithm;
  readonly options: ResolvedNormalizationOptions;
  /** Lowercase hex digest of the last `hashed`/`prehashed` value. */
  digest = '';
  /** The normalized plaintext of the last `hashed` value (null for a passed-through digest). */
  normalized: string | null = null;
  private readonly phoneWithPlus: boolean;

  constructor(target: IdentifierTarget, options: NormalizationOptions) {
    this.kind = target.kind;
    this.hash = target.hash;
    this.options = resolveNormalizationOptions(options);
    if (target.hash === 'md5' && target.kind !== 'maid')
      throw new RangeError(`${target.kind} identifiers are SHA-256 only; MD5 is for mobile advertising IDs`);
    this.phoneWithPlus = this.options.context === 'events' || this.options.phoneFormat === 'e164';
  }

  /** `rowCountry`: the row's country cell (already trimmed/uppercased), if a country column is mapped. */
  process(raw: string, rowCountry?: string): Outcome {
    const outcome = this.prepare(raw, rowCountry);
    if (outcome === 'hashed') this.digest = digestHex(this.hash, this.normalized!);
    return outcome;
  }

  /**
   * `process` without the hash: on 'hashed', `normalized` holds the value to digest and
   * `digest` stays '' for the caller to fill, so a batch of values can be hashed in one
   * call (sha256HexBatch); 'prehashed' already sets `digest`.
   */
  prepare(raw: string, rowCountry?: string): Outcome {
    this.normalized = null;
    this.digest = '';
    if (isTooLong(raw)) return 'too_long';
    const trimmed = raw.trim();
    if (trimmed.length === 0) return 'empty';
    const pre = prehashedKind(trimmed);
    if (pre !== null) {
      // Never hash a digest again; a digest of the other kind cannot match anything.
      if (pre !== this.hash) return 'wrong_hash_kind';
      this.digest = trimmed.toLowerCase();
      return 'prehashed';
    }
    let value: string;
    switch (this.kind) {
      case 'email': {
        const e = normalizeEmail(trimmed, this.options.context);
        if (e === null) return 'invalid_email';
        value = e;
        break;
      }
      case 'phone': {
        const p = parsePhoneE164(trimmed, rowCountry ?? this.options.defaultCountry);
        if (p === null) return 'invalid_phone';
        value = this.phoneWithPlus ? p : p.slice(1);
        break;
      }
      case 'maid': {
        const m = normalizeMaid(trimmed);
        if (m === 'invalid_maid' || m === 'zeroed_maid') return m;
        value = m;
        break;
      }
      case 'external_id':
        // IDs are case-sensitive in the systems that issue them: trim only.
        value = trimmed;
        break;
    }
    this.normalized = value;
    return 'hashed';
  }
}

export interface IdentifierResult {
  outcome: Outcome;
  normalized: string | null;
  hash: string | null;
}

/** One value, one result object: for callers off the hot path (CLI, tests, events export). */
export function normalizeIdentifier(
  raw: string,
  target: IdentifierTarget,
  options: NormalizationOptions,
  rowCountry?: string,
): IdentifierResult {
  const n = new IdentifierNormalizer(target, options);
  return resultOf(n, n.process(raw, rowCountry));
}

export function resultOf(n: IdentifierNormalizer, outcome: Outcome): IdentifierResult {
  const ok = outcome === 'hashed' || outcome === 'prehashed';
  return { outcome, normalized: outcome === 'hashed' ? n.normalized : null, hash: ok ? n.digest : null };
}
