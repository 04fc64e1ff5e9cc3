export const ZEROED_MAID = '00000000-0000-0000-0000-000000000000';
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Mobile advertising ID rule (IDFA, GAID, AAID, MAID): trimmed UUID, lowercased (TikTok
 * asks for one consistent case and its worked example is lowercase). One native regex
 * test: measured faster in V8 than a charCodeAt loop over the 36 characters.
 */
export function normalizeMaid(trimmed: string): string | 'invalid_maid' | 'zeroed_maid' {
  if (trimmed.length !== 36 || !UUID.test(trimmed)) return 'invalid_maid';
  const s = trimmed.toLowerCase();
  // Ad tracking limited: the all-zero ID matches nobody.
  return s === ZEROED_MAID ? 'zeroed_maid' : s;
}
