export * from './schema';
export * from './normalizer';
export { digestHex, prehashedKind, isTooLong, MAX_VALUE_BYTES } from './digest';
export { normalizeEmail } from './email';
export { normalizeMaid, ZEROED_MAID } from './maid';
export { parsePhoneE164, normalizeCountryCell } from './phone';
export { isMultiValueCell, splitMultiValueCell, parseJsonArray, jsonArrayValues } from './flatten';
export { sha256HexBatch, Sha256HexQueue } from './sha256batch/sha256Batch';
export { IdentifierHasher } from './hasher';
