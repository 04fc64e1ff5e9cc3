import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/*
 * Synthetic audience snapshots for the demo and the sync benchmark: one shared generator, so
 * the numbers the benchmark prints describe the data the demo shows.
 *
 * Person i is a pure function of i (no randomness, no clock): the same spec always gives the
 * same bytes, and a test can say exactly which digests an audience must hold. The raw
 * values vary the way exports do (case, spaces, +tags, phone formats, pre-hashed emails,
 * upper-case IDFAs, missing values); `expectedValues` gives the normalized form of each,
 * built from the same parts, not by running ttsync's normalizer.
 */

/** The CSV columns, and how a destination maps them. */
export const SYNTHETIC_COLUMNS = { email: 'email', phone: 'phone', maid: 'maid' } as const;
export const SYNTHETIC_DEFAULT_COUNTRY = 'US';

/** Which people a snapshot holds and how many invalid rows it mixes in. */
export interface SyntheticSpec {
  /** People 0 .. people-1 (the population before churn). */
  people: number;
  /** Churn: people `people` .. `people + enters - 1` are added... */
  enters?: number;
  /** ...and every person below `people` with i % exitEvery < exitsEach (exitsEach in every exitEvery) has left. */
  exitEvery?: number;
  /** See exitEvery; 1 when absent. */
  exitsEach?: number;
  /** One invalid row after every `invalidEvery` people (0 or absent: none). */
  invalidEvery?: number;
}

/** The reasons the invalid rows carry, one reason per row, in this rotation. */
export const INVALID_REASONS = ['invalid_email', 'invalid_phone', 'invalid_maid', 'zeroed_maid', 'malformed_row', 'too_long'] as const;
export type InvalidReason = (typeof INVALID_REASONS)[number];

export interface SyntheticStats {
  path: string;
  /** Data rows written (people + invalid rows; the header is not counted). */
  rows: number;
  people: number;
  /** Invalid rows by the reason ttsync must reject them with. */
  invalid: Record<InvalidReason, number>;
  bytes: number;
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');

// US area codes, one per million people, so every phone stays distinct up to 11M people.
const AREAS = [212, 213, 305, 312, 415, 617, 646, 702, 713, 818, 917];
// NANP exchanges N11 (211, 311, ...) are service codes, not numbers: skip 611.
const exchangeOf = (j: number): number => (j < 11 ? 600 + j : 601 + j);
const DOMAINS = ['example', 'mail', 'shop', 'post'];
const TLDS = ['com', 'org', 'net', 'co.uk'];

function phoneParts(i: number): { area: number; exchange: number; line: string } {
  return { area: AREAS[Math.floor(i / 1_000_000) % AREAS.length]!, exchange: exchangeOf(Math.floor(i / 10_000) % 100), line: pad(i % 10_000, 4) };
}

/** Whether person i has a phone / a mobile ad id (about 90% and 67% do). */
const hasPhone = (i: number): boolean => i % 10 !== 3;
const hasMaid = (i: number): boolean => i % 3 !== 2;
/** One in 50 exports its email already hashed (SHA-256 of the normalized form). */
const emailPrehashed = (i: number): boolean => i % 50 === 25;

/** The normalized values TikTok hashes for person i (identifiers.md, audience context). */
export function expectedValues(i: number): { email: string; phone: string | null; maid: string | null } {
  const domain = `${DOMAINS[i % 4]}${i % 997}.${TLDS[(i >> 2) % 4]}`;
  const local = i % 4 === 1 ? `user.${i}` : i % 4 === 2 ? `user_${i}` : `user${i}`;
  const { area, exchange, line } = phoneParts(i);
  return {
    email: `${local}@${domain}`,
    phone: hasPhone(i) ? `1${area}${exchange}${line}` : null,
    maid: hasMaid(i) ? (i % 3 === 0 ? `6d92078a-8246-4ba4-ae5b-${pad(i, 12)}` : `38400000-8cf0-11bd-b23e-${pad(i, 12)}`) : null,
  };
}

/** Person i as an export has it: one CSV line `email,phone,maid`. */
export function personLine(i: number): string {
  const v = expectedValues(i);
  let email: string;
  if (emailPrehashed(i)) email = createHash('sha256').update(v.email).digest('hex');
  else {
    const [local, domain] = v.email.split('@') as [string, string];
    // Case, surrounding spaces and a +tag: all undone by normalization.
    switch (i % 4) {
      case 0:
        email = `${local.replace('user', 'User')}@${domain.charAt(0).toUpperCase()}${domain.slice(1)}`;
        break;
      case 1:
        email = ` ${local}+promo@${domain} `;
        break;
      case 2:
        email = `${local.toUpperCase()}@${domain.toUpperCase()}`;
        break;
      default:
        email = `${local}@${domain}`;
    }
  }
  let phone = '';
  if (hasPhone(i)) {
    const { area, exchange, line } = phoneParts(i);
    phone = i % 3 === 0 ? `(${area}) ${exchange}-${line}` : i % 3 === 1 ? `+1 ${area}-${exchange}-${line}` : `${area}.${exchange}.${line}`;
  }
  const maid = v.maid === null ? '' : i % 3 === 0 ? v.maid.toUpperCase() : v.maid;
  return `${email},${phone},${maid}\n`;
}

/** The k-th invalid row (k from 0) and the reason it must be rejected with. */
export function invalidLine(k: number): { line: string; reason: InvalidReason } {
  const reason = INVALID_REASONS[k % INVALID_REASONS.length]!;
  switch (reason) {
    case 'invalid_email':
      return { reason, line: `not-an-email-${k},,\n` };
    case 'invalid_phone':
      return { reason, line: `,12-${k % 100},\n` };
    case 'invalid_maid':
      return { reason, line: `,,not-a-maid-${k}\n` };
    case 'zeroed_maid':
      return { reason, line: ',,00000000-0000-0000-0000-000000000000\n' };
    case 'malformed_row':
      return { reason, line: `broken,row,${k},with an extra field\n` };
    case 'too_long':
      return { reason, line: `${'x'.repeat(1100)}${k}@example.com,,\n` };
  }
}

/** The people a spec holds, in file order. */
export function* peopleOf(spec: SyntheticSpec): Generator<number> {
  const every = spec.exitEvery ?? 0;
  const each = spec.exitsEach ?? 1;
  for (let i = 0; i < spec.people; i++) if (!(every > 0 && i % every < each)) yield i;
  const end = spec.people + (spec.enters ?? 0);
  for (let i = spec.people; i < end; i++) yield i;
}

/** Writes the snapshot CSV (streaming, bounded memory at any size). */
export async function writeSyntheticSnapshot(path: string, spec: SyntheticSpec): Promise<SyntheticStats> {
  await mkdir(dirname(path), { recursive: true });
  const out = createWriteStream(path);
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  const invalid = Object.fromEntries(INVALID_REASONS.map((r) => [r, 0])) as Record<InvalidReason, number>;
  const invalidEvery = spec.invalidEvery ?? 0;
  let buf = `${SYNTHETIC_COLUMNS.email},${SYNTHETIC_COLUMNS.phone},${SYNTHETIC_COLUMNS.maid}\n`;
  let people = 0;
  let k = 0;
  const flush = async (): Promise<void> => {
    if (!out.write(buf)) await Promise.race([once(out, 'drain'), failed]);
    buf = '';
  };
  for (const i of peopleOf(spec)) {
    buf += personLine(i);
    people++;
    if (invalidEvery > 0 && people % invalidEvery === 0) {
      const bad = invalidLine(k++);
      buf += bad.line;
      invalid[bad.reason]++;
    }
    if (buf.length > 1 << 20) await flush();
  }
  out.end(buf);
  await Promise.race([once(out, 'finish'), failed]);
  return { path, rows: people + k, people, invalid, bytes: (await stat(path)).size };
}

/**
 * A spec's churned successor: `share` of the people leave and as many new ones enter. The
 * `times`-th successor (hourly syncs) differs from the one before it by the same share.
 */
export function churned(spec: SyntheticSpec, share: number, times = 1): SyntheticSpec {
  const exitEvery = Math.max(1, Math.round(1 / share));
  if (!(Number.isInteger(times) && times >= 1 && times < exitEvery)) throw new RangeError(`churn ${times} times ${share} of the people: not 1 to ${exitEvery - 1} times`);
  return { ...spec, exitEvery, ...(times > 1 ? { exitsEach: times } : {}), enters: times * Math.ceil(spec.people / exitEvery) };
}
