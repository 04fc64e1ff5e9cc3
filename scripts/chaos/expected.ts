import { createHash } from 'node:crypto';

/*
 * The input files of a chaos or load run, and what TikTok must hold after it, computed here
 * with node:crypto from the same rows: never through ttsync's normalizer, hasher or diff.
 */

export const sha256 = (v: string): string => createHash('sha256').update(v).digest('hex');

/** Person i (0 ≤ i < 90,000) as an export writes them, and the values TikTok hashes (email lowercased, phone E.164 without "+"). */
export function person(i: number): { email: string; phone: string; normalized: [string, string] } {
  const exchange = 201 + Math.floor(i / 10_000);
  const line = String(i % 10_000).padStart(4, '0');
  return { email: `Person${i}@Example.ORG`, phone: `(212) ${exchange}-${line}`, normalized: [`person${i}@example.org`, `1212${exchange}${line}`] };
}

/** The people of one snapshot generation: a window of `size` that moves by `churn` per generation (exits and enters). */
export function generationPeople(base: number, generation: number, size: number, churn: number): number[] {
  const start = base + generation * churn;
  return Array.from({ length: size }, (_, k) => (start + k) % 90_000);
}

/** A snapshot CSV of these people, with two rows every sync must reject (they are in no audience). */
export function snapshotCsv(people: number[]): string {
  const rows = people.map((i) => `${person(i).email},${person(i).phone}`);
  rows.splice(Math.min(3, rows.length), 0, 'not-an-email,');
  rows.push(',12');
  return ['email,phone', ...rows].join('\n') + '\n';
}

/** The digests an audience of these people holds, as a set. */
export function audienceDigests(people: number[]): Set<string> {
  return new Set(people.flatMap((i) => person(i).normalized.map(sha256)));
}

/** An events file: one Purchase per row, each with its own order id (what the check counts by). */
export function eventsCsv(orderIds: string[], at: Date): string {
  const ts = at.toISOString();
  return ['ts,email,order,value,currency', ...orderIds.map((o, k) => `${ts},buyer.${o}@example.com,${o},${(k % 97) + 1}.50,USD`)].join('\n') + '\n';
}

/** What a set comparison found: expected items missing, items present that were not expected. */
export function compareSets(expected: Set<string>, actual: Iterable<string>): { missing: number; unexpected: number } {
  const seen = new Set<string>();
  let unexpected = 0;
  for (const a of actual) {
    if (expected.has(a)) seen.add(a);
    else unexpected++;
  }
  return { missing: expected.size - seen.size, unexpected };
}
