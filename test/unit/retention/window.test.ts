import { describe, expect, it } from 'vitest';
import { parseDatasetConfig } from '../../../src/retention/config';
import { decideRow, rowPolicyOf } from '../../../src/retention/rowPolicy';
import { addCalendarMonths, cutoffDate, dayPastWindow, isPastWindow, partitionDateOf } from '../../../src/retention/window';
import { plusMonths } from '../../helpers/retentionExpected';

const at = (iso: string): number => Date.parse(iso);

describe('calendar-month window (UTC)', () => {
  it('adds months keeping day and time, clamping to the end of the month', () => {
    expect(new Date(addCalendarMonths(at('2026-08-31T13:45:10.250Z'), 6)).toISOString()).toBe('2027-02-28T13:45:10.250Z');
    expect(new Date(addCalendarMonths(at('2027-08-31T00:00:00Z'), 6)).toISOString()).toBe('2028-02-29T00:00:00.000Z');
    expect(new Date(addCalendarMonths(at('2026-03-31T23:59:59Z'), 6)).toISOString()).toBe('2026-09-30T23:59:59.000Z');
    expect(new Date(addCalendarMonths(at('2026-12-15T08:00:00Z'), 6)).toISOString()).toBe('2027-06-15T08:00:00.000Z');
    expect(new Date(addCalendarMonths(at('2026-07-31T00:00:00Z'), 1)).toISOString()).toBe('2026-08-31T00:00:00.000Z');
    expect(new Date(addCalendarMonths(at('2027-02-28T00:00:00Z'), -6)).toISOString()).toBe('2026-08-28T00:00:00.000Z');
  });

  it('a row is past the window from the first day that starts N whole months after it', () => {
    const asOf = at('2027-02-28T00:00:00Z');
    expect(isPastWindow(at('2026-08-28T00:00:00Z'), 6, asOf)).toBe(true);
    expect(isPastWindow(at('2026-08-31T00:00:00Z'), 6, asOf)).toBe(true); // clamps onto 28 Feb 00:00
    expect(isPastWindow(at('2026-08-31T00:00:00.001Z'), 6, asOf)).toBe(false);
    expect(isPastWindow(at('2026-08-27T23:59:59Z'), 6, asOf)).toBe(true);
    expect(isPastWindow(at('2026-09-01T00:00:00Z'), 6, asOf)).toBe(false);
    expect(isPastWindow(at('2026-09-01T00:00:00Z'), 6, at('2027-03-01T00:00:00Z'))).toBe(true);
  });

  it('the cutoff day is found forward from the subtraction, because clamping folds 29-31 Aug onto 28 Feb', () => {
    expect(cutoffDate(6, '2027-02-28')).toBe('2026-08-31');
    expect(cutoffDate(6, '2027-03-01')).toBe('2026-09-01');
    expect(cutoffDate(6, '2028-02-28')).toBe('2027-08-28');
    expect(cutoffDate(6, '2028-02-29')).toBe('2027-08-31');
    expect(cutoffDate(6, '2026-12-03')).toBe('2026-06-03');
    expect(cutoffDate(1, '2026-03-31')).toBe('2026-02-28'); // Feb 28 + 1 month = Mar 28 ≤ Mar 31; Mar 1 + 1 = Apr 1
    expect(cutoffDate(3, '2026-01-01')).toBe('2025-10-01');
  });

  it('an aggregate day moves only once every instant of it is past the window', () => {
    expect(dayPastWindow('2026-08-27', 6, '2027-02-28')).toBe(true);
    expect(dayPastWindow('2026-08-28', 6, '2027-02-28')).toBe(false);
    expect(dayPastWindow('2026-08-31', 6, '2027-02-28')).toBe(false);
    expect(dayPastWindow('2026-08-31', 6, '2027-03-01')).toBe(true);
  });

  it('reads the partition date of a key', () => {
    expect(partitionDateOf('installs/date=2026-05-01/part-0.csv')).toBe('2026-05-01');
    expect(partitionDateOf('date=2026-05-01/x.ndjson')).toBe('2026-05-01');
    expect(partitionDateOf('installs/date=2026-02-30/part-0.csv')).toBeUndefined();
    expect(partitionDateOf('installs/xdate=2026-05-01/part-0.csv')).toBeUndefined();
    expect(partitionDateOf('installs/date=2026-05-01')).toBeUndefined();
  });
});

describe('row decisions with the cutoff-day shortcut', () => {
  it('agree, instant by instant, with the calendar rule computed independently (test/helpers plusMonths), across month ends and leap years', () => {
    const config = parseDatasetConfig({ datasetId: 'w', records: { uri: '/tmp/r', format: 'csv' }, audit: '/tmp/a', windowMonthsByNetwork: { 'TikTok for Business – SAN': 3 } });
    let checked = 0;
    for (const asOf of ['2027-02-28', '2027-03-01', '2028-02-29', '2028-03-31', '2026-09-30', '2027-04-30', '2026-10-01', '2027-01-01']) {
      const policy = rowPolicyOf(config, asOf);
      const asOfMs = Date.parse(`${asOf}T00:00:00Z`);
      for (const network of ['TikTok for Business – iOS', 'TikTok for Business – SAN']) {
        const months = network.endsWith('SAN') ? 3 : 6;
        const center = plusMonths(asOfMs, -months);
        // Every 37 minutes over ±5 days around the boundary, as ISO text the rows carry.
        for (let t = center - 5 * 86_400_000; t <= center + 5 * 86_400_000; t += 37 * 60_000) {
          const text = new Date(t).toISOString().replace(/\.\d{3}Z$/, 'Z');
          const at = Date.parse(text);
          const past = plusMonths(at, months) <= asOfMs;
          const d = decideRow(policy, network, text);
          expect(d.kind, `${network} ${text} as of ${asOf}`).toBe(past ? 'past_window' : 'within_window');
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(3000);
  });
});
