import { Metadata } from 'libphonenumber-js';

/**
 * A fast path for the two phone shapes that dominate customer files, decided from
 * libphonenumber-js's own metadata and giving the library's answer:
 *   - international digits: `+` then digits, optionally separated by spaces, dots, dashes;
 *   - national digits with a known country: digits with those separators.
 * parsePhoneNumber costs 6-18 µs a value (it compiles regular expressions on every call
 * and resolves the exact country of shared calling codes); this path costs well under
 * 1 µs. It answers only when the library's steps are provably trivial for the input and
 * returns `undefined` otherwise, so the caller falls back to the library:
 *   - the calling code is geographic, and the number's length is possible in every country
 *     sharing the code or in none (so which exact country the library picks cannot
 *     change the answer);
 *   - no national prefix (or carrier code / transform rule) pattern matches the start of
 *     the national number, so the library would strip nothing;
 *   - national input: the country's international (IDD) prefix and its own calling code do
 *     not start the digits, so the library would not reinterpret it as international.
 * What remains is the library's possible-length check. A differential test
 * (test/unit/identifiers/phone-fast.test.ts) compares both paths on every country.
 */

interface Plan {
  callingCode(): string;
  possibleLengths(): number[] | undefined;
  IDDPrefix(): string;
  nationalPrefixForParsing(): string | undefined;
}
interface MetadataApi {
  selectNumberingPlan(countryOrCallingCode: string): void;
  numberingPlan: Plan;
  metadata: { country_calling_codes: Record<string, string[]>; nonGeographic?: Record<string, unknown> };
}

interface CallingCodeInfo {
  /**
   * Per national-number length: 1 = possible in every country sharing the code, 0 = in
   * none, 2 = in some (which exact country the library picks would decide: fall back).
   * Null when a country of the code has no length data (the library accepts any length).
   */
  lengths: Uint8Array | null;
  /** National prefix pattern of the code's main country, anchored; null when it has none. */
  prefix: RegExp | null;
}

interface CountryInfo {
  callingCode: string;
  idd: RegExp;
  prefix: RegExp | null;
  code: CallingCodeInfo;
}

let tables: { codes: Map<string, CallingCodeInfo>; nonGeographic: Set<string>; countries: Map<string, CountryInfo> } | undefined;

function anchored(pattern: string | undefined): RegExp | null {
  return pattern ? new RegExp(`^(?:${pattern})`) : null;
}

function build(): NonNullable<typeof tables> {
  const m = new Metadata() as unknown as MetadataApi;
  const codes = new Map<string, CallingCodeInfo>();
  const countries = new Map<string, CountryInfo>();
  for (const [cc, list] of Object.entries(m.metadata.country_calling_codes)) {
    let lengths: Uint8Array | null = new Uint8Array(MAX_NATIONAL + 1);
    const seen = new Uint16Array(MAX_NATIONAL + 1);
    for (const country of list) {
      m.selectNumberingPlan(country);
      const l = m.numberingPlan.possibleLengths();
      if (!l || l.length === 0) {
        lengths = null;
        break;
      }
      for (const n of l) if (n <= MAX_NATIONAL) seen[n]!++;
    }
    if (lengths) for (let n = 0; n <= MAX_NATIONAL; n++) lengths[n] = seen[n] === 0 ? 0 : seen[n] === list.length ? 1 : 2;
    m.selectNumberingPlan(cc);
    codes.set(cc, { lengths, prefix: anchored(m.numberingPlan.nationalPrefixForParsing()) });
  }
  for (const [cc, list] of Object.entries(m.metadata.country_calling_codes)) {
    const code = codes.get(cc)!;
    for (const country of list) {
      m.selectNumberingPlan(country);
      countries.set(country, {
        callingCode: cc,
        idd: new RegExp(`^(?:${m.numberingPlan.IDDPrefix()})`),
        prefix: anchored(m.numberingPlan.nationalPrefixForParsing()),
        code,
      });
    }
  }
  return { codes, nonGeographic: new Set(Object.keys(m.metadata.nonGeographic ?? {})), countries };
}

/** Digits of `s` from `from` when it holds only ASCII digits and ` .-` separators, else null. */
function plainDigits(s: string, from: number): string | null {
  let sep = false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) continue;
    if (c === 32 || c === 45 || c === 46) sep = true;
    else return null;
  }
  if (!sep) return from === 0 ? s : s.slice(from);
  let out = '';
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) out += s.charAt(i);
  }
  return out;
}

/** The library's national-number length bound (MAX_LENGTH_FOR_NSN). */
const MAX_NATIONAL = 17;

function decide(cc: string, lengths: Uint8Array, national: string): string | null | undefined {
  const v = lengths[national.length];
  return v === 1 ? `+${cc}${national}` : v === 0 ? null : undefined;
}

/**
 * E.164 (with `+`) or null (not a possible number) when decidable here; undefined when
 * the library must decide. `s` is trimmed with brackets removed; `country` is the
 * default country for national input (ignored for `+` input).
 */
export function fastE164(s: string, country: string | undefined): string | null | undefined {
  if (s.length < 4 || s.length > 40) return undefined;
  const t = (tables ??= build());
  if (s.charCodeAt(0) === 43) {
    // '+'
    const d = plainDigits(s, 1);
    if (d === null || d.length < 4 || d.length > 17 || d.charCodeAt(0) === 48) return undefined;
    for (let i = 1; i <= 3; i++) {
      const cc = d.slice(0, i);
      if (t.nonGeographic.has(cc)) return undefined;
      const code = t.codes.get(cc);
      if (!code) continue;
      const national = d.slice(i);
      if (code.lengths === null || national.length < 2 || (code.prefix && code.prefix.test(national))) return undefined;
      return decide(cc, code.lengths, national);
    }
    return undefined;
  }
  if (country === undefined) return undefined;
  const info = t.countries.get(country);
  if (!info || info.code.lengths === null) return undefined;
  const d = plainDigits(s, 0);
  if (d === null || d.length < 4 || d.length > 17) return undefined;
  if (info.idd.test(d) || d.startsWith(info.callingCode) || (info.prefix && info.prefix.test(d))) return undefined;
  return decide(info.callingCode, info.code.lengths, d);
}
