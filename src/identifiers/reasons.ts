/**
 * Why a value was rejected (identifiers.md "Reason codes"), as a plain list: the hot path
 * (IdentifierHasher) needs the names without loading the schemas. `unmapped_column` is a
 * row-level reason: none of the row's identifier columns is present at all. Pure.
 */
export const REJECT_REASONS = ['invalid_email', 'invalid_phone', 'invalid_maid', 'zeroed_maid', 'wrong_hash_kind', 'too_long', 'unmapped_column'] as const;
