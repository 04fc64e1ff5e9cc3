/*
 * Report months (YYYY-MM) and their days. Pure and clock-free: workflows use it. Days are
 * the advertiser's calendar days, as TikTok's reports give them (digest §10.3), so no time
 * zone arithmetic happens here.
 */

const MONTH = /^(\d{4})-(0[1-9]|1[0-2])$/;

export function isMonth(text: string): boolean {
  return MONTH.test(text);
}

/** Why `text` is not a report month, or undefined. */
export function monthProblem(text: string): string | undefined {
  return isMonth(text) ? undefined : `${JSON.stringify(text)} is not a month YYYY-MM (e.g. 2026-10)`;
}

function parts(month: string): [number, number] {
  const m = MONTH.exec(month);
  if (!m) throw new RangeError(monthProblem(month));
  return [Number(m[1]), Number(m[2])];
}

/** Every day of the month, YYYY-MM-DD, in order. */
export function daysOfMonth(month: string): string[] {
  const [y, m] = parts(month);
  const n = new Date(Date.UTC(y, m, 0)).getUTCDate();
  return Array.from({ length: n }, (_, i) => `${month}-${String(i + 1).padStart(2, '0')}`);
}

/** The month before: 2026-01 → 2025-12. */
export function previousMonth(month: string): string {
  const [y, m] = parts(month);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, '0')}`;
}

/** The month after: 2026-12 → 2027-01. */
export function nextMonth(month: string): string {
  const [y, m] = parts(month);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}
