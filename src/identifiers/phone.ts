import type { CountryCode } from 'libphonenumber-js';
import { phoneLib } from './lazy';
import { fastE164 } from './phoneFast';

/**
 * Phone rule of identifiers.md: parse to E.164 with libphonenumber-js. A value starting
 * with `+` or `00` carries its own country code; otherwise `country` (row, then
 * destination default) applies. Must be a possible number of at most 15 digits.
 * Returns E.164 with the `+`, or null (invalid_phone).
 */
export function parsePhoneE164(trimmed: string, country: string | undefined): string | null {
  // Brackets are pure formatting; libphonenumber's strict mode rejects "(+1)213…", which
  // is TikTok's own Events API example, so they go before parsing.
  let s = BRACKETS.test(trimmed) ? trimmed.replace(BRACKETS_G, '') : trimmed;
  let i = 0;
  while (i < s.length && LEADING_FORMAT.test(s.charAt(i))) i++;
  const first = s.charAt(i);
  let defaultCountry: CountryCode | undefined;
  if (first === '+' || first === '\uff0b') {
    // A full-width plus (East Asian input methods) is a plus; the strict parser rejects it.
    if (first === '\uff0b') s = `${s.slice(0, i)}+${s.slice(i + 1)}`;
    defaultCountry = undefined;
  } else if (first === '0' && s.charAt(i + 1) === '0') {
    // "00" is the international prefix in most of the world; the contract treats it as
    // carrying its own country code wherever the number comes from.
    s = '+' + s.slice(i + 2);
  } else {
    if (country === undefined || !phoneLib().isSupportedCountry(country)) return null;
    defaultCountry = country;
  }
  const fast = fastE164(s, defaultCountry);
  if (fast !== undefined) return fast !== null && fast.length - 1 <= 15 ? fast : null;
  let e164: string;
  try {
    // extract:false = the whole value must be a phone number, not text containing one.
    const parsed = phoneLib().parsePhoneNumber(s, { defaultCountry, extract: false });
    if (!parsed || !parsed.isPossible()) return null;
    e164 = parsed.number;
  } catch {
    return null;
  }
  return e164.length - 1 <= 15 ? e164 : null;
}

const BRACKETS = /[()[\]\uff08\uff09\uff3b\uff3d]/;
const BRACKETS_G = /[()[\]\uff08\uff09\uff3b\uff3d]/g;
const LEADING_FORMAT = /[\s\-./~\u2010-\u2015\u2212\u30fc\uff0d\uff0e\uff0f]/;

/**
 * Row country cells are free text: trimmed and uppercased. An empty cell counts as absent
 * (the destination default applies); an unknown code stays as is and makes the phone
 * invalid rather than silently falling back to another country's numbering plan.
 */
export function normalizeCountryCell(cell: string | undefined): string | undefined {
  if (cell === undefined) return undefined;
  const c = cell.trim();
  if (c.length === 0) return undefined;
  return c.toUpperCase();
}
