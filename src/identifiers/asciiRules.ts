/**
 * The identifiers.md rules over bytes, for ASCII values: each reads a trimmed value from
 * `src[s, e)` and writes the normalized value to `dst` from `d`, validating as it copies,
 * so the hot path makes no string at all (not the trimmed, lowercased or normalized
 * value). Each returns the normalized length, or a negative code below.
 *
 * They answer only what they can answer exactly as the string rules do (email.ts,
 * maid.ts, phone.ts); anything else returns SLOW and the caller runs the string rule on
 * the same value. Any byte >= 0x80 is SLOW: non-ASCII needs NFC, Unicode lowercase,
 * Unicode whitespace and Unicode domain labels. test/unit/identifiers/hasher.test.ts
 * compares both on generated values of every shape.
 */

export const SLOW = -1;
export const INVALID = -2;
export const ZEROED = -3;

/** ASCII whitespace as String.prototype.trim and /\s/ see it: TAB, LF, VT, FF, CR, space. */
export function isAsciiSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

/**
 * Email (identifiers.md): remove whitespace, lowercase, `audience` drops a `+suffix` of
 * the local part, then: one `@`, local part 1-64, whole at most 254, domain labels of
 * [a-z0-9-] not starting or ending with `-`, at least one dot, final label >= 2 letters.
 */
export function emailAscii(src: Uint8Array, s: number, e: number, dst: Uint8Array, d: number, dropPlus: boolean): number {
  let o = d;
  let at = -1;
  let ats = 0;
  let plus = -1;
  const cls = EMAIL_CLASS;
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    const k = cls[c]!;
    // One table load decides the common byte (copied as is).
    if (k === E_COPY) {
      dst[o++] = c;
      continue;
    }
    if (k === E_UPPER) dst[o++] = c + 32;
    else if (k === E_SPACE) continue;
    else if (k === E_AT) {
      ats++;
      at = o;
      dst[o++] = c;
    } else if (k === E_PLUS) {
      if (plus < 0 && ats === 0) plus = o;
      dst[o++] = c;
    } else return SLOW;
  }
  if (ats !== 1) return INVALID;
  if (dropPlus && plus >= 0) {
    // "+suffix" up to the "@": move the "@domain" down over it.
    for (let i = at; i < o; i++) dst[plus + i - at] = dst[i]!;
    o -= at - plus;
    at = plus;
  }
  const local = at - d;
  if (local < 1 || local > 64 || o - d > 254) return INVALID;
  return asciiDomainOk(dst, at + 1, o) ? o - d : INVALID;
}

const E_COPY = 0;
const E_UPPER = 1;
const E_SPACE = 2;
const E_AT = 3;
const E_PLUS = 4;
const E_SLOW = 5;

/** What the email rule does with each byte. */
const EMAIL_CLASS = (() => {
  const t = new Uint8Array(256);
  for (let c = 0x80; c < 256; c++) t[c] = E_SLOW;
  for (let c = 65; c <= 90; c++) t[c] = E_UPPER;
  for (const c of [9, 10, 11, 12, 13, 32]) t[c] = E_SPACE;
  t[64] = E_AT;
  t[43] = E_PLUS;
  return t;
})();

/** ^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$ without a regular expression. */
function asciiDomainOk(b: Uint8Array, s: number, e: number): boolean {
  let label = s;
  let dots = 0;
  let letters = true;
  for (let i = s; i < e; i++) {
    const c = b[i]!;
    if (c >= 97 && c <= 122) continue;
    if (c === 46) {
      if (i === label || b[label] === 45 || b[i - 1] === 45) return false;
      dots++;
      label = i + 1;
      letters = true;
    } else if ((c >= 48 && c <= 57) || c === 45) letters = false;
    else return false;
  }
  return dots > 0 && letters && e - label >= 2;
}

/** MAID: a UUID (8-4-4-4-12 hex, any case), lowercased; the all-zero ID is ZEROED. */
export function maidAscii(src: Uint8Array, s: number, e: number, dst: Uint8Array, d: number): number {
  if (e - s !== 36) {
    for (let i = s; i < e; i++) if (src[i]! >= 0x80) return SLOW;
    return INVALID;
  }
  if (src[s + 8] !== 45 || src[s + 13] !== 45 || src[s + 18] !== 45 || src[s + 23] !== 45) return asciiOrSlow(src, s, e);
  const hex = HEX_LOWER;
  let nonZero = 0;
  let dashes = 0;
  for (let i = 0; i < 36; i++) {
    const c = src[s + i]!;
    const h = hex[c]!;
    if (h === 0) {
      if (c !== 45) return asciiOrSlow(src, s, e);
      dashes++;
      dst[d + i] = 45;
    } else {
      nonZero |= h ^ 48;
      dst[d + i] = h;
    }
  }
  // The four dashes are where they belong (checked above), so a fifth is misplaced.
  if (dashes !== 4) return INVALID;
  return nonZero === 0 ? ZEROED : 36;
}

/** Lowercase hex digit per byte (0 for anything else). */
const HEX_LOWER = (() => {
  const t = new Uint8Array(256);
  for (let c = 48; c <= 57; c++) t[c] = c;
  for (let c = 97; c <= 102; c++) t[c] = c;
  for (let c = 65; c <= 70; c++) t[c] = c + 32;
  return t;
})();

function asciiOrSlow(src: Uint8Array, s: number, e: number): number {
  for (let i = s; i < e; i++) if (src[i]! >= 0x80) return SLOW;
  return INVALID;
}

/** External ID: trimmed, unchanged (IDs are case-sensitive). */
export function copyAscii(src: Uint8Array, s: number, e: number, dst: Uint8Array, d: number): number {
  for (let i = s; i < e; i++) {
    const c = src[i]!;
    if (c >= 0x80) return SLOW;
    dst[d + i - s] = c;
  }
  return e - s;
}
