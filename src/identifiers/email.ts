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

  let at = s.indexOf('@');
  if (at < 0 || s.indexOf('@', at + 1) >= 0) return null;
  if (context === 'audience') {
    const plus = s.indexOf('+');
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
const ASCII_LABEL = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const ASCII_TLD = /^[a-z]{2,}$/;
const UNICODE_LABEL = /^[\p{L}\p{M}0-9](?:[\p{L}\p{M}0-9-]*[\p{L}\p{M}0-9])?$/u;
const UNICODE_TLD = /^\p{L}[\p{L}\p{M}]*\p{L}[\p{L}\p{M}]*$/u;

// Domains repeat heavily across a customer file (a handful of providers cover most
// rows), so validating each distinct domain once saves a split and a regex per label.
const DOMAIN_CACHE_MAX = 8192;
const domainCache = new Map<string, boolean>();

function isValidDomain(domain: string, ascii: boolean): boolean {
  const cached = domainCache.get(domain);
  if (cached !== undefined) return cached;
  const ok = checkDomain(domain, ascii);
  if (domainCache.size >= DOMAIN_CACHE_MAX) domainCache.clear();
  domainCache.set(domain, ok);
  return ok;
}

function checkDomain(domain: string, ascii: boolean): boolean {
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  const label = ascii ? ASCII_LABEL : UNICODE_LABEL;
  for (const l of labels) if (!label.test(l)) return false;
  return (ascii ? ASCII_TLD : UNICODE_TLD).test(labels[labels.length - 1] ?? '');
}
