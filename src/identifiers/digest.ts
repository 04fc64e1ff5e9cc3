import { hash } from 'node:crypto';
import type { HashAlgorithm } from './schema';

/** Lowercase hex digest of the UTF-8 bytes of `value`: one native call, no Hash object. */
export function digestHex(algorithm: HashAlgorithm, value: string): string {
  return hash(algorithm, value, 'hex');
}

/**
 * The digest kind a value already is: exactly 64 hex chars = SHA-256, exactly 32 = MD5
 * (whole value, anchored), else null. A char loop, because it runs on every value.
 */
export function prehashedKind(value: string): HashAlgorithm | null {
  const n = value.length;
  if (n !== 64 && n !== 32) return null;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    // 0-9, A-F, a-f
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70))) return null;
  }
  return n === 64 ? 'sha256' : 'md5';
}

/** Longest raw value (UTF-8 bytes) accepted before normalization ("too_long" above it). */
export const MAX_VALUE_BYTES = 1024;

export function isTooLong(value: string): boolean {
  const n = value.length;
  // Each UTF-16 unit is at least one UTF-8 byte and at most three, so most values need no count.
  if (n > MAX_VALUE_BYTES) return true;
  if (n * 3 <= MAX_VALUE_BYTES) return false;
  return Buffer.byteLength(value, 'utf8') > MAX_VALUE_BYTES;
}
