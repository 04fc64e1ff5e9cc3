import type { IdentifierContext } from './schema';

/**
 * Email rule of identifiers.md: remove all whitespace, NFC, lowercase; `audience` drops a
 * `+suffix` from the local part; then validate. Returns the normalized address or null
 * (invalid_email). Dots are never removed: TikTok does not ask for it.
 */
export function normalizeEmail(raw: string, context: IdentifierContext): string | null {
  let s = raw;
  let ascii = true;
  let hasSpace = false;
  let hasUpper = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128) {
      ascii = false;
      break;
    }
    if (c === 32 || (c >= 9 && c <= 13)) hasSpace = true;
    else if (c >= 65 && c <= 90) hasUpper = true;
  }
  if (ascii) {
    // Fast path: ASCII needs no NFC, and most addresses need no rewrite at all.
    if (hasSpace) s = s.replace(ASCII_SPACE, '');
    if (hasUpper) s = s.toLowerCase();
  } else {
    s = s.replace(ANY_SPACE, '').normalize('NFC').toLowerCase();
  }

  let at = s.indexOf('@', 0);
  if (at < 0 || s.indexOf('@', at + 1) >= 0) return null;
  if (context === 'audience') {
    const plus = s.indexOf('+', 0);
    if (plus >= 0 && plus < at) {
      s = s.slice(0, plus) + s.slice(at);
      at = plus;
    }
  }
  const localLength = ascii ? at : codePointLength(s.slice(0, at));
  if (localLength < 1 || localLength > 64) return null;
  if ((ascii ? s.length : codePointLength(s)) > 254) return null;
  return isValidDomain(s.slice(at + 1), ascii) ? s : null;
}

const ASCII_SPACE = /[\t\n\v\f\r ]+/g;
const ANY_SPACE = /\s+/gu;

function codePointLength(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

// Labels of letters, digits and hyphens, not starting or ending with a hyphen; the final
// label at least two letters. "Letters" includes non-ASCII letters (internationalized
// domains written in Unicode); digits are ASCII.
const UNICODE_LABEL = /^[\p{L}\p{M}0-9](?:[\p{L}\p{M}0-9-]*[\p{L}\p{M}0-9])?$/u;
const UNICODE_TLD = /^\p{L}[\p{L}\p{M}]*\p{L}[\p{L}\p{M}]*$/u;

/**
 * The ASCII domain rule in one pass over char codes (no split, no regex): this runs for
 * nearly every address, and a per-label regex costs more than the hash itself.
 * Input is already lowercase.
 */
function isValidAsciiDomain(d: string): boolean {
  const n = d.length;
  let labelStart = 0;
  let dots = 0;
  let lettersOnly = true; // current label so far is all letters
  for (let i = 0; i <= n; i++) {
    const c = i < n ? d.charCodeAt(i) : 46; // treat the end as a final dot
    if (c === 46) {
      // '.': close the label [labelStart, i)
      if (i === labelStart) return false; // empty label
      if (d.charCodeAt(labelStart) === 45 || d.charCodeAt(i - 1) === 45) return false; // edge hyphen
      if (i === n) return dots > 0 && lettersOnly && i - labelStart >= 2;
      dots++;
      labelStart = i + 1;
      lettersOnly = true;
    } else if (c >= 97 && c <= 122) {
      // a-z
    } else if ((c >= 48 && c <= 57) || c === 45) {
      lettersOnly = false;
    } else return false;
  }
  return false;
}

// Non-ASCII domains are rarer and go through Unicode regexes; they repeat across a file
// (the same few providers), so each distinct one is validated once.
const DOMAIN_CACHE_MAX = 8192;
const domainCache = new Map<string, boolean>();

function isValidDomain(domain: string, ascii: boolean): boolean {
  if (ascii) return isValidAsciiDomain(domain);
  const cached = domainCache.get(domain);
  if (cached !== undefined) return cached;
  const ok = checkDomain(domain);
  if (domainCache.size >= DOMAIN_CACHE_MAX) domainCache.clear();
  domainCache.set(domain, ok);
  return ok;
}

function checkDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  for (const l of labels) if (!UNICODE_LABEL.test(l)) return false;
  return UNICODE_TLD.test(labels[labels.length - 1] ?? '');
}
