import type { IdentifierType } from '../identifiers/schema';
import type { Outcome } from '../identifiers/normalizer';
import type { RowRejectReason, ValueReason } from './rejects';

/** Per identifier type: values hashed, passed through as digests, skipped as empty, rejected by reason. */
export interface TypeCounts {
  accepted: number;
  prehashed: number;
  empty: number;
  rejected: Partial<Record<ValueReason, number>>;
}

/** A run's summary: safe to log and to return from an activity (numbers only). */
export interface SnapshotCounts {
  /** Data records read (not the header, not blank lines). */
  rows: number;
  rowsRejected: Partial<Record<RowRejectReason, number>>;
  types: Partial<Record<IdentifierType, TypeCounts>>;
}

export function newTypeCounts(): TypeCounts {
  return { accepted: 0, prehashed: 0, empty: 0, rejected: {} };
}

export function countOutcome(c: TypeCounts, outcome: Outcome | 'malformed_value'): void {
  if (outcome === 'hashed') c.accepted++;
  else if (outcome === 'prehashed') c.prehashed++;
  else if (outcome === 'empty') c.empty++;
  else c.rejected[outcome] = (c.rejected[outcome] ?? 0) + 1;
}
