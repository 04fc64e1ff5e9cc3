/*
 * The retention window as calendar arithmetic, in UTC. Pure and import-free: the workflow,
 * the activities and the CLI all decide by these functions.
 *
 * The rule: a row attributed at instant T is past a window of N months on the as-of day A
 * when T + N calendar months ≤ A at 00:00:00 UTC. Adding N months keeps the day of the
 * month and the time of day, and clamps the day to the last day of the target month
 * (31 Aug + 6 months = 28 Feb, or 29 Feb in a leap year). So the policy never removes data
 * early: a row is removed on the first day that starts at least N whole months after it.
 */

const DAY_MS = 86_400_000;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in month `month0` (0-11) of `year` (proleptic Gregorian, as Date.UTC counts). */
export function daysInMonth(year: number, month0: number): number {
  if (month0 !== 1) return MONTH_DAYS[month0]!;
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
}

/** `ms` plus `months` calendar months (UTC), the day clamped to the target month's last day. */
export function addCalendarMonths(ms: number, months: number): number {
  const d = new Date(ms);
  const total = d.getUTCFullYear() * 12 + d.getUTCMonth() + months;
  const year = Math.floor(total / 12);
  const month0 = total - year * 12;
  const day = Math.min(d.getUTCDate(), daysInMonth(year, month0));
  const timeOfDay = ms - Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  return Date.UTC(year, month0, day) + timeOfDay;
}

/** `YYYY-MM-DD` → ms at 00:00 UTC, or undefined for anything else (including 2026-02-30). */
export function dateToMs(date: string): number | undefined {
  const m = DATE_RE.exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo - 1)) return undefined;
  return Date.UTC(y, mo - 1, d);
}

/** ms → `YYYY-MM-DD` (UTC). */
export function msToDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function addDays(date: string, days: number): string {
  const ms = dateToMs(date);
  if (ms === undefined) throw new RangeError(`not a date: ${JSON.stringify(date)}`);
  return msToDate(ms + days * DAY_MS);
}

/** Whether a row attributed at `attributedMs` is past a window of `months` on as-of day `asOfMs` (00:00 UTC). */
export function isPastWindow(attributedMs: number, months: number, asOfMs: number): boolean {
  return addCalendarMonths(attributedMs, months) <= asOfMs;
}

/** When a row attributed at `attributedMs` falls past the window (ms, UTC). */
export function expiresAt(attributedMs: number, months: number): number {
  return addCalendarMonths(attributedMs, months);
}

/**
 * The cutoff day: the latest day D whose first instant is past the window on `asOf`, so
 * every row attributed before D is past it and rows of D itself are decided by their time.
 * Subtracting months does not invert the clamped addition (28 Feb − 6 months = 28 Aug, yet
 * 29-31 Aug + 6 months also land on 28 Feb), so the search goes forward from there.
 */
export function cutoffDate(months: number, asOf: string): string {
  const asOfMs = dateToMs(asOf);
  if (asOfMs === undefined) throw new RangeError(`not a date: ${JSON.stringify(asOf)}`);
  let d = msToDate(addCalendarMonths(asOfMs, -months));
  // Clamping can only pull later days onto the as-of day: at most 3 (31 → 28).
  for (let i = 0; i < 4; i++) {
    const next = addDays(d, 1);
    if (!isPastWindow(dateToMs(next)!, months, asOfMs)) break;
    d = next;
  }
  return d;
}

/**
 * Whether every instant of `date` is past the window on `asOf`: aggregate rows of a day are
 * moved only then, because a day's total cannot be split between TikTok and Organic.
 */
export function dayPastWindow(date: string, months: number, asOf: string): boolean {
  const dayMs = dateToMs(date);
  const asOfMs = dateToMs(asOf);
  if (dayMs === undefined || asOfMs === undefined) return false;
  return isPastWindow(dayMs + DAY_MS - 1, months, asOfMs);
}

/** The partition date a key names (`…date=YYYY-MM-DD/…`), or undefined. */
export function partitionDateOf(key: string): string | undefined {
  const m = /(?:^|\/)date=(\d{4}-\d{2}-\d{2})\//.exec(key);
  return m && dateToMs(m[1]!) !== undefined ? m[1] : undefined;
}
