export const ZEROED_MAID = '00000000-0000-0000-0000-000000000000';

/**
 * Mobile advertising ID rule (IDFA, GAID, AAID, MAID): trimmed UUID, lowercased (TikTok
 * asks for one consistent case and its worked example is lowercase). One pass over char
 * codes instead of a regex: this runs once per device ID in every snapshot.
 */
export function normalizeMaid(trimmed: string): string | 'invalid_maid' | 'zeroed_maid' {
  if (trimmed.length !== 36) return 'invalid_maid';
  let upper = false;
  let zero = true;
  for (let i = 0; i < 36; i++) {
    const c = trimmed.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return 'invalid_maid'; // '-'
    } else if (c >= 48 && c <= 57) {
      if (c !== 48) zero = false;
    } else if (c >= 97 && c <= 102) {
      zero = false;
    } else if (c >= 65 && c <= 70) {
      zero = false;
      upper = true;
    } else return 'invalid_maid';
  }
  // Ad tracking limited: the all-zero ID matches nobody.
  if (zero) return 'zeroed_maid';
  return upper ? trimmed.toLowerCase() : trimmed;
}
