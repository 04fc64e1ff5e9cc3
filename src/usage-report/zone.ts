import { durationMsOf } from '../config/duration';
import { nextMonth, previousMonth } from './month';

/*
 * The advertiser's calendar: TikTok's days are the ad account's (digest §10.3), so "today"
 * and "the month that just ended" are read in its IANA time zone, never the worker's.
 */

function wallParts(ms: number, timeZone: string): { y: number; m: number; d: number; h: number; min: number; s: number } {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const p = Object.fromEntries(f.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return { y: Number(p.year), m: Number(p.month), d: Number(p.day), h: Number(p.hour), min: Number(p.minute), s: Number(p.second) };
}

/** The day (YYYY-MM-DD) an instant falls on in the time zone. */
export function dayIn(timeZone: string, at: Date): string {
  const w = wallParts(at.getTime(), timeZone);
  return `${w.y}-${String(w.m).padStart(2, '0')}-${String(w.d).padStart(2, '0')}`;
}

/** The month before the one an instant falls in (what a monthly tick reports). */
export function reportMonthAt(timeZone: string, at: Date): string {
  return previousMonth(dayIn(timeZone, at).slice(0, 7));
}

/** The instant a month ends in the time zone (local midnight of the next month's first day). */
export function monthEnd(month: string, timeZone: string): Date {
  const [y, m] = nextMonth(month).split('-').map(Number) as [number, number];
  const wall = Date.UTC(y, m - 1, 1);
  let guess = wall;
  for (let i = 0; i < 3; i++) {
    const w = wallParts(guess, timeZone);
    const offset = Date.UTC(w.y, w.m - 1, w.d, w.h, w.min, w.s) - guess;
    guess = wall - offset;
  }
  return new Date(guess);
}

/** When a month's numbers are taken as final: its end plus the settle duration. */
export function settleUntil(month: string, timeZone: string, settle: string): Date {
  return new Date(monthEnd(month, timeZone).getTime() + durationMsOf(settle));
}

/** Throws a RangeError naming the zone when the runtime does not know it. */
export function checkTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch {
    throw new RangeError(`unknown time zone "${timeZone}"`);
  }
}
