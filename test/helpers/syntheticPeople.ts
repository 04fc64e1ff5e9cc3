import { createHash } from 'node:crypto';

/*
 * Test data for audience syncs: people with an email and a US phone as an export has them,
 * and the digests TikTok should end up holding, computed here with node:crypto so a test
 * never trusts the code under test for its expectations.
 */

export const sha = (v: string): string => createHash('sha256').update(v).digest('hex');
export const pad = (n: number, w: number): string => String(n).padStart(w, '0');
export const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

/** The sorted SHA-256 digests of normalized values: what an audience holds. */
export const sortedDigests = (normalized: string[]): string[] => normalized.map(sha).sort();

/** Person i (i < 90,000) as an export has it, and the normalized values TikTok hashes. */
export function person(i: number) {
  const exchange = 201 + Math.floor(i / 10_000);
  const line = pad(i % 10_000, 4);
  return {
    raw: { email: `Person${i}@Example.ORG`, phone: `(212) ${exchange}-${line}` },
    normalized: [`person${i}@example.org`, `1212${exchange}${line}`],
  };
}

/** The digests of people `ids` (email and phone each). */
export const expectedDigests = (ids: number[]): string[] => sortedDigests(ids.flatMap((i) => person(i).normalized));
