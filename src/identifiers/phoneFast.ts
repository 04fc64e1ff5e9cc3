import { phoneLib } from './lazy';
import { INVALID, SLOW, isAsciiSpace } from './asciiRules';

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

/**
 * An anchored prefix pattern tested on digits in a byte array. Most of the metadata's
 * patterns (national prefixes, IDD prefixes) are alternatives of fixed digit sequences
 * such as `0|180020` or `0[09]`: those become digit masks; the rest keep the RegExp,
 * tested on a string of the digits.
 */
interface PrefixTest {
  /** Per alternative, per position, a bit mask of the digits allowed there; null = use `re`. */
  alts: Uint16Array[] | null;
  re: RegExp;
}

function prefixTest(pattern: string): PrefixTest {
  const re = new RegExp(`^(?:${pattern})`);
  if (/[()?*+{}$^]/.test(pattern)) return { alts: null, re };
  const alts: Uint16Array[] = [];
  for (const alt of pattern.split('|')) {
    const masks: number[] = [];
    let i = 0;
    while (i < alt.length) {
      const c = alt[i]!;
      if (c >= '0' && c <= '9') {
        masks.push(1 << (c.charCodeAt(0) - 48));
        i++;
      } else if (alt.startsWith('\\d', i)) {
        masks.push(0x3ff);
        i += 2;
      } else if (c === '[') {
        const close = alt.indexOf(']', i);
        const body = close < 0 ? '' : alt.slice(i + 1, close);
        if (!/^(?:\d-\d|\d)+$/.test(body)) return { alts: null, re };
        let m = 0;
        for (let k = 0; k < body.length; k++) {
          const lo = body.charCodeAt(k) - 48;
          if (body[k + 1] === '-') {
            const hi = body.charCodeAt(k + 2) - 48;
            for (let x = lo; x <= hi; x++) m |= 1 << x;
            k += 2;
          } else m |= 1 << lo;
        }
        masks.push(m);
        i = close + 1;
      } else return { alts: null, re };
    }
    if (masks.length === 0) return { alts: null, re };
    alts.push(Uint16Array.from(masks));
  }
  return { alts, re };
}

/** Whether the pattern matches at the start of the ASCII digits b[s, e). */
function prefixMatches(t: PrefixTest, b: Uint8Array, s: number, e: number): boolean {
  const alts = t.alts;
  if (alts === null) return t.re.test(Buffer.from(b.buffer, b.byteOffset + s, e - s).toString('latin1'));
  for (let a = 0; a < alts.length; a++) {
    const m = alts[a]!;
    if (m.length > e - s) continue;
    let k = 0;
    while (k < m.length && (m[k]! >> (b[s + k]! - 48)) & 1) k++;
    if (k === m.length) return true;
  }
  return false;
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
  /** The calling code. */
  cc: string;
  /** `prefix` as a byte-level test. */
  prefixBytes: PrefixTest | null;
}

interface CountryInfo {
  callingCode: string;
  idd: RegExp;
  prefix: RegExp | null;
  code: CallingCodeInfo;
  /** The same tests on bytes (fastE164Ascii). */
  iddBytes: PrefixTest;
  prefixBytes: PrefixTest | null;
  callingCodeBytes: Uint8Array;
}

interface Tables {
  codes: Map<string, CallingCodeInfo>;
  nonGeographic: Set<string>;
  countries: Map<string, CountryInfo>;
  /**
   * Calling codes by their numeric value, per digit count (index 1-3): a code, null for
   * a non-geographic code (the library decides), undefined for no code.
   */
  byDigits: Array<Array<CallingCodeInfo | null | undefined>>;
  resolved: Map<string, CountryInfo | null | undefined>;
}

let tables: Tables | undefined;

function anchored(pattern: string | undefined): RegExp | null {
  return pattern ? new RegExp(`^(?:${pattern})`) : null;
}

function build(): Tables {
  const m = new (phoneLib().Metadata)() as unknown as MetadataApi;
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
    const p = m.numberingPlan.nationalPrefixForParsing();
    codes.set(cc, { lengths, prefix: anchored(p), cc, prefixBytes: p ? prefixTest(p) : null });
  }
  for (const [cc, list] of Object.entries(m.metadata.country_calling_codes)) {
    const code = codes.get(cc)!;
    for (const country of list) {
      m.selectNumberingPlan(country);
      const p = m.numberingPlan.nationalPrefixForParsing();
      countries.set(country, {
        callingCode: cc,
        idd: new RegExp(`^(?:${m.numberingPlan.IDDPrefix()})`),
        prefix: anchored(p),
        code,
        iddBytes: prefixTest(m.numberingPlan.IDDPrefix()),
        prefixBytes: p ? prefixTest(p) : null,
        callingCodeBytes: Buffer.from(cc, 'latin1'),
      });
    }
  }
  const nonGeographic = new Set(Object.keys(m.metadata.nonGeographic ?? {}));
  const byDigits: Tables['byDigits'] = [[], new Array(10), new Array(100), new Array(1000)];
  for (const [cc, info] of codes) byDigits[cc.length]![Number(cc)] = info;
  for (const cc of nonGeographic) byDigits[cc.length]![Number(cc)] = null;
  return { codes, nonGeographic, countries, byDigits, resolved: new Map() };
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

const PLUS = 43;

/** LEADING_FORMAT of phone.ts for ASCII: whitespace, `-`, `.`, `/`, `~`. */
function isLeadingFormat(c: number): boolean {
  return isAsciiSpace(c) || c === 45 || c === 46 || c === 47 || c === 126;
}

function isBracket(c: number): boolean {
  return c === 40 || c === 41 || c === 91 || c === 93;
}

/**
 * parsePhoneE164 + fastE164 of phone.ts over the ASCII bytes src[s, e) (trimmed): writes
 * E.164 (with the `+` when `plus`, else its digits) to dst at d and returns its length,
 * or INVALID (invalid_phone), or SLOW where the string path would ask the library (or
 * meet non-ASCII). `country` is the row's country or the default, as phone.ts gets it.
 */
export function fastE164Ascii(src: Uint8Array, s: number, e: number, country: string | undefined, dst: Uint8Array, d: number, plus: boolean): number {
  // phone.ts first removes brackets; `len` and `lead` are in that bracket-free text.
  let len = 0;
  let lead = 0;
  let first = -1;
  let second = -1;
  let firstAt = s;
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (c >= 0x80) return SLOW;
    if (isBracket(c)) continue;
    if (first < 0) {
      if (isLeadingFormat(c)) lead++;
      else {
        first = c;
        firstAt = i;
      }
    } else if (second < 0) second = c;
    len++;
  }
  const t = (tables ??= build());
  if (first === PLUS || (first === 48 && second === 48)) {
    // International: "+" (which must open the text: the string path gives "  +1..." to the
    // library) or "00" in its place. digits = the calling code and national number.
    let from: number;
    if (first === PLUS) {
      if (lead !== 0 || len < 4 || len > 40) return SLOW;
      from = firstAt + 1;
    } else {
      // "+" + the text after "00".
      if (len - lead - 1 < 4 || len - lead - 1 > 40) return SLOW;
      from = firstAt + 1;
      while (isBracket(src[from]!)) from++;
      from++;
    }
    const o = plus ? d + 1 : d;
    const n = plainDigitsAscii(src, from, e, dst, o);
    if (n < 4 || n > 17 || dst[o] === 48) return SLOW;
    let num = 0;
    for (let k = 1; k <= 3; k++) {
      num = num * 10 + dst[o + k - 1]! - 48;
      const code = t.byDigits[k]![num];
      if (code === null) return SLOW;
      if (code === undefined) continue;
      const national = n - k;
      if (code.lengths === null || national < 2 || (code.prefixBytes !== null && prefixMatches(code.prefixBytes, dst, o + k, o + n))) return SLOW;
      const v = code.lengths[national];
      if (v !== 1) return v === 0 ? INVALID : SLOW;
      if (n > 15) return INVALID;
      if (plus) dst[d] = PLUS;
      return o + n - d;
    }
    return SLOW;
  }
  if (country === undefined) return INVALID;
  const info = countryInfo(t, country);
  if (info === null) return INVALID;
  if (info === undefined || len < 4 || len > 40 || info.code.lengths === null) return SLOW;
  const cc = info.callingCodeBytes;
  const o = (plus ? d + 1 : d) + cc.length;
  const n = plainDigitsAscii(src, s, e, dst, o);
  if (n < 4 || n > 17) return SLOW;
  if (prefixMatches(info.iddBytes, dst, o, o + n) || startsWithBytes(dst, o, n, cc) || (info.prefixBytes !== null && prefixMatches(info.prefixBytes, dst, o, o + n)))
    return SLOW;
  const v = info.code.lengths[n];
  if (v !== 1) return v === 0 ? INVALID : SLOW;
  if (n + cc.length > 15) return INVALID;
  if (plus) dst[d] = PLUS;
  dst.set(cc, o - cc.length);
  return o + n - d;
}

/**
 * phone.ts's `isSupportedCountry(country)` check and the country's tables, remembered per
 * country string: null = not supported (invalid_phone), undefined = no tables (library).
 */
function countryInfo(t: Tables, country: string): CountryInfo | null | undefined {
  // Usually the same country (the destination default) value after value.
  if (country === lastCountry) return lastInfo;
  const info = resolveCountry(t, country);
  lastCountry = country;
  lastInfo = info;
  return info;
}

let lastCountry: string | undefined;
let lastInfo: CountryInfo | null | undefined;

function resolveCountry(t: Tables, country: string): CountryInfo | null | undefined {
  const known = t.resolved.get(country);
  if (known !== undefined || t.resolved.has(country)) return known;
  const info = phoneLib().isSupportedCountry(country) ? t.countries.get(country) : null;
  // Country cells are free text: bound what distinct junk can make us keep.
  if (t.resolved.size >= 4096) t.resolved.clear();
  t.resolved.set(country, info);
  return info;
}

function startsWithBytes(b: Uint8Array, s: number, n: number, prefix: Uint8Array): boolean {
  if (n < prefix.length) return false;
  for (let k = 0; k < prefix.length; k++) if (b[s + k] !== prefix[k]) return false;
  return true;
}

/**
 * plainDigits over bytes, brackets already removed by skipping them: the digits of
 * src[from, e) written at dst[o..], their count returned; -1 unless every other byte is
 * one of the separators ` .-`.
 */
function plainDigitsAscii(src: Uint8Array, from: number, e: number, dst: Uint8Array, o: number): number {
  let n = 0;
  for (let i = from; i < e; i++) {
    const c = src[i]!;
    if (c >= 48 && c <= 57) {
      if (n === 17) return -1;
      dst[o + n++] = c;
    } else if (c !== 32 && c !== 45 && c !== 46 && !isBracket(c)) return -1;
  }
  return n;
}

/**
 * The tables of fastE164Ascii written into WebAssembly memory for the phone rule of
 * asciiRules.wat (layout documented there), from the same libphonenumber-js metadata:
 * `u8` from `at`, at most `end`. Returns where each country's record lies, and stores the
 * byDigits and gathering table addresses at [2560] and [2564] where the rule looks for them.
 */
export function writePhoneTables(u8: Uint8Array, at: number, end: number): PhoneTablesImage {
  const t = (tables ??= build());
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  let p = at;
  const alloc = (bytes: number): number => {
    const a = p;
    p += (bytes + 3) & ~3;
    if (p > end) throw new RangeError('phone tables do not fit their WebAssembly region');
    return a;
  };
  const tests = new Map<PrefixTest, number>();
  const test = (x: PrefixTest | null): number => {
    if (x === null) return 0;
    if (x.alts === null) return 1;
    const known = tests.get(x);
    if (known !== undefined) return known;
    const a = alloc(4 + x.alts.reduce((n, m) => n + 4 + 2 * m.length, 0));
    dv.setUint32(a, x.alts.length, true);
    let q = a + 4;
    for (const m of x.alts) {
      dv.setUint32(q, m.length, true);
      q += 4;
      for (let k = 0; k < m.length; k++, q += 2) dv.setUint16(q, m[k]!, true);
    }
    tests.set(x, a);
    return a;
  };
  const codes = new Map<CallingCodeInfo, number>();
  const code = (c: CallingCodeInfo): number => {
    const known = codes.get(c);
    if (known !== undefined) return known;
    const a = alloc(8 + MAX_NATIONAL + 1);
    dv.setUint32(a, c.lengths === null ? 0 : 1, true);
    dv.setUint32(a + 4, test(c.prefixBytes), true);
    if (c.lengths !== null) u8.set(c.lengths, a + 8);
    codes.set(c, a);
    return a;
  };
  const byDigits = alloc(4 * 1110);
  const base = [0, 0, 10, 110];
  for (let k = 1; k <= 3; k++) {
    const row = t.byDigits[k]!;
    for (let num = 0; num < row.length; num++) {
      const c = row[num];
      dv.setUint32(byDigits + 4 * (base[k]! + num), c === undefined ? 0 : c === null ? 1 : code(c), true);
    }
  }
  const countries = new Map<CountryInfo, number>();
  for (const info of t.countries.values()) {
    const cc = info.callingCodeBytes;
    const a = alloc(16 + cc.length);
    dv.setUint32(a, code(info.code), true);
    dv.setUint32(a + 4, test(info.iddBytes), true);
    dv.setUint32(a + 8, test(info.prefixBytes), true);
    dv.setUint32(a + 12, cc.length, true);
    u8.set(cc, a + 16);
    countries.set(info, a);
  }
  // Digit gathering (asciiRules.wat $phoneFast): per 8-bit mask, its set bits' positions,
  // then 0x80 (a shuffle index that gives 0).
  const gather = alloc(256 * 8);
  for (let mask = 0; mask < 256; mask++) {
    let k = 0;
    for (let b = 0; b < 8; b++) if (mask & (1 << b)) u8[gather + 8 * mask + k++] = b;
    while (k < 8) u8[gather + 8 * mask + k++] = 0x80;
  }
  dv.setUint32(2560, byDigits, true);
  dv.setUint32(2564, gather, true);
  return {
    /** The record for a national number's country: -1 invalid_phone, 0 let JavaScript decide. */
    country(country: string | undefined): number {
      if (country === undefined) return -1;
      const info = countryInfo(t, country);
      return info === null ? -1 : info === undefined ? 0 : (countries.get(info) ?? 0);
    },
  };
}

export interface PhoneTablesImage {
  country(country: string | undefined): number;
}
