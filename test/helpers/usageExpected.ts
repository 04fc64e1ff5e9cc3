import { createHash } from 'node:crypto';

/*
 * The emulator's ad group figures computed again from its documented seed (src/emulator
 * README: sha256 of "advertiser|adgroup|day", first 4 bytes; impressions = h mod 50,000,
 * CPM $2.00 + (h div 50,000) mod 1000 cents), without importing the emulator, so a usage
 * report is checked against numbers the code under test never produced.
 */
export function seededDay(advertiserId: string, adgroupId: string, day: string): { impressions: number; spendCents: number } {
  const h = createHash('sha256').update(`${advertiserId}|${adgroupId}|${day}`).digest().readUInt32BE(0);
  const impressions = h % 50_000;
  const cpmCents = 200 + (Math.floor(h / 50_000) % 1000);
  return { impressions, spendCents: Math.round((impressions * cpmCents) / 1000) };
}

/** Days of a month, YYYY-MM-DD. */
export function daysOf(month: string): string[] {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return Array.from({ length: n }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
}

/** Cents as "1234.56". */
export const money = (cents: bigint | number): string => {
  const c = BigInt(cents);
  return `${c / 100n}.${String(c % 100n).padStart(2, '0')}`;
};

/** spendCents × percent / 100 rounded half up to cents, percent a decimal text ("12.5"). */
export function costCents(spendCents: bigint, percent: string): bigint {
  const [i, f = ''] = percent.split('.');
  const scaled = BigInt(i!) * 10_000n + BigInt(f.padEnd(4, '0'));
  const num = spendCents * scaled;
  const den = 100n * 10_000n;
  return (num + den / 2n) / den;
}
