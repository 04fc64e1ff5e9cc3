import type { IdentifierType, RejectReason } from './schema';
import type { Outcome } from './normalizer';

/** Per identifier type: values hashed, passed through, skipped as empty, rejected by reason. */
export interface TypeCounts {
  accepted: number;
  prehashed: number;
  empty: number;
  rejected: Partial<Record<RejectReason, number>>;
}

export type IdentifierCounts = Partial<Record<IdentifierType, TypeCounts>>;

export function emptyTypeCounts(): TypeCounts {
  return { accepted: 0, prehashed: 0, empty: 0, rejected: {} };
}

export function countOutcome(c: TypeCounts, outcome: Outcome): void {
  if (outcome === 'hashed') c.accepted++;
  else if (outcome === 'prehashed') c.prehashed++;
  else if (outcome === 'empty') c.empty++;
  else c.rejected[outcome] = (c.rejected[outcome] ?? 0) + 1;
}
