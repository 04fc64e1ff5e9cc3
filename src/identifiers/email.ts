import type { IdentifierContext } from './schema';

/**
 * Email rule of identifiers.md: remove all whitespace, NFC, lowercase; `audience` drops a
 * `+suffix` from the local part; then validate. Returns the normalized address or null
 * (invalid_email). Dots are never removed: TikTok does not ask for it.
 */
export function normalizeEmail(raw: string, context: IdentifierContext): string | null {
  // Most addresses are already normalized and valid: one native regex test proves it
  // (measured ~3x faster in V8 than the same checks as charCodeAt loops).
  if (raw.length <= 254 && NORMALIZED_VALID.test(raw)) return raw;
  let s = raw;
  let ascii = CLEAN_ASCII.test(s);
  if (!ascii) {
    s = s.replace(ANY_SPACE, '');
    ascii = !NON_ASCII.test(s);
    if (!ascii) s = s.normalize('NFC');
    s = s.toLowerCase();
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

/**
 * An address needing no change in either context and valid: local part of 1-64 printable
 * ASCII characters other than A-Z, `+` and `@`; lowercase ASCII domain per the rule.
 */
const NORMALIZED_VALID = /^[\x21-\x2a\x2c-\x3f\x5b-\x7e]{1,64}@(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/;
/** Printable ASCII except A-Z: '!'..'@' and '['..'~'. */
const CLEAN_ASCII = /^[\x21-\x40\x5b-\x7e]*$/;
const NON_ASCII = /[\u0080-\uffff]/;
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

/** The domain rule for ASCII (already lowercase): one anchored regex, no split. */
const ASCII_DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/;

function isValidAsciiDomain(d: string): boolean {
  return ASCII_DOMAIN.test(d);
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
