import { describe, expect, it } from 'vitest';
import type { AdgroupDayStats, AdgroupTargeting } from '../../../src/tiktok/client';
import { computeUsage } from '../../../src/usage-report/compute';
import type { UsageAdvertiser } from '../../../src/usage-report/messages';
import { daysOfMonth, nextMonth, previousMonth } from '../../../src/usage-report/month';
import { dayIn, monthEnd, reportMonthAt, settleUntil } from '../../../src/usage-report/zone';

/*
 * The report's rules on small hand-made months: targeting counts and exclusion does not,
 * shared ad groups on every segment's line, days without a record take the targeting read at
 * report time, one rounding per line, totals as sums of the lines.
 */

const advertiser = (segments: Partial<UsageAdvertiser['segments'][number]>[]): UsageAdvertiser => ({
  advertiserId: '1',
  accessToken: 'env:T',
  timeZone: 'UTC',
  dayOfMonth: 2,
  hour: 6,
  settle: '3d',
  segments: segments.map((s, i) => ({
    destinationId: `d${i}`,
    sourceSegmentId: `s${i}`,
    providerId: `p${i}`,
    segmentId: `seg${i}`,
    pricePercent: '10',
    currency: 'USD',
    reportingContacts: ['a@b.example'],
    ...s,
  })),
});
const group = (id: string, audienceIds: string[], excludedAudienceIds: string[] = []): AdgroupTargeting => ({ adgroupId: id, adgroupName: `g${id}`, campaignId: 'c', campaignName: 'C', audienceIds, excludedAudienceIds });
const stat = (adgroupId: string, day: string, impressions: number, spendMicros: bigint): AdgroupDayStats => ({ adgroupId, day, impressions: String(impressions), spendMicros, currency: 'USD' });

describe('computeUsage', () => {
  const days = ['2026-02-01', '2026-02-02', '2026-02-03'];

  it('counts targeting only, puts a shared ad group on each segment line, rounds each line once', () => {
    const adv = advertiser([{ audienceId: 'A', pricePercent: '12.5' }, { audienceId: 'B', pricePercent: '33.3333' }]);
    const records = new Map(days.map((d) => [d, [group('1', ['A', 'B']), group('2', ['A'], ['B'])]]));
    // 0.05 + 0.05 = 0.10 spent by ad group 1; 10.01 by ad group 2 (spend in micro-units).
    const stats = [stat('1', '2026-02-01', 10, 50_000n), stat('1', '2026-02-02', 5, 50_000n), stat('2', '2026-02-03', 7, 10_010_000n)];
    const r = computeUsage({ advertiser: adv, month: '2026-02', days, records, current: [], stats }, 'now');
    expect(r.lines.map((l) => [l.segment_id, l.adgroup_id, l.impressions, l.amount_spent, l.data_cost, l.days_in_use, l.shared_adgroup, l.targeting_source])).toEqual([
      // 0.10 × 12.5% = 0.0125 → 0.01; 10.01 × 12.5% = 1.25125 → 1.25; 0.10 × 33.3333% = 0.0333 → 0.03.
      ['seg0', '1', '15', '0.10', '0.01', '2', 'yes', 'daily_record'],
      ['seg0', '2', '7', '10.01', '1.25', '1', 'no', 'daily_record'],
      ['seg1', '1', '15', '0.10', '0.03', '2', 'yes', 'daily_record'],
    ]);
    expect(r.totals).toMatchObject({ impressions: '37', amountSpent: '10.21', dataCost: '1.29', lines: 3 });
    expect(r.totals.bySegment.map((s) => [s.segmentId, s.amountSpent, s.dataCost])).toEqual([
      ['seg0', '10.11', '1.26'],
      ['seg1', '0.10', '0.03'],
    ]);
    expect(r.notes.join('\n')).toMatch(/Ad group 2 excluded the audience of segment p1\/seg1 \(2026-02-01\.\.2026-02-03\) without targeting it/);
  });

  it('takes the targeting read at report time for days without a record, and says which', () => {
    const adv = advertiser([{ audienceId: 'A' }]);
    const records = new Map([['2026-02-02', [group('1', [])]]]);
    const stats = days.map((d) => stat('1', d, 100, 1_000_000n));
    const r2 = computeUsage({ advertiser: adv, month: '2026-02', days, records, current: [group('1', ['A'])], stats }, '2026-03-05T00:00:00.000Z');
    // The recorded day (02) had no targeting: two days in use, both read at report time.
    expect(r2.lines.map((l) => [l.days_in_use, l.first_day, l.last_day, l.targeting_source])).toEqual([['2', '2026-02-01', '2026-02-03', 'report_time']]);
    expect(r2.recordedDays).toBe(1);
    expect(r2.notes.join('\n')).toMatch(/No daily targeting record for 2026-02-01, 2026-02-03: those days use the ad groups' targeting read at report time \(2026-03-05T00:00:00.000Z\)/);
  });

  it('leaves out a segment without an audience id and says so; no delivery, no line', () => {
    const adv = advertiser([{}, { audienceId: 'B' }]);
    const r = computeUsage({ advertiser: adv, month: '2026-02', days, records: new Map(days.map((d) => [d, [group('1', ['B'])]])), current: [], stats: [] }, 'now');
    expect(r.lines).toEqual([]);
    expect(r.notes.join('\n')).toMatch(/Destination "d0" \(segment p0\/seg0\) names no audienceId/);
    expect(r.notes.join('\n')).toMatch(/1 ad group × segment pair\(s\) targeted a segment but delivered nothing/);
  });
});

describe('months and the advertiser calendar', () => {
  it('lists days and steps months across years', () => {
    expect(daysOfMonth('2028-02')).toHaveLength(29);
    expect([previousMonth('2026-01'), nextMonth('2026-12')]).toEqual(['2025-12', '2027-01']);
    expect(() => daysOfMonth('2026-13')).toThrow(/"2026-13" is not a month YYYY-MM/);
  });

  it('reads days and month ends in the time zone, DST included', () => {
    expect(dayIn('America/Los_Angeles', new Date('2026-11-01T05:00:00Z'))).toBe('2026-10-31');
    expect(reportMonthAt('Asia/Tokyo', new Date('2026-10-31T16:00:00Z'))).toBe('2026-10');
    expect(monthEnd('2026-10', 'America/New_York').toISOString()).toBe('2026-11-01T04:00:00.000Z');
    expect(monthEnd('2026-11', 'America/New_York').toISOString()).toBe('2026-12-01T05:00:00.000Z');
    expect(settleUntil('2026-10', 'UTC', '3d').toISOString()).toBe('2026-11-04T00:00:00.000Z');
  });
});
