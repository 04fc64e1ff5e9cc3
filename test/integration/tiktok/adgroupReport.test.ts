import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { formatMicros, type TikTokClient } from '../../../src/tiktok';
import { seededDay } from '../../helpers/usageExpected';
import { ADVERTISER, clientFor, emulatorControl, emulatorFor } from './helpers';

/*
 * The reads a Data Marketplace usage report makes, against the emulator over HTTP: ad groups
 * with their targeting (paged), and impressions and spend per ad group per day in windows of
 * at most 30 days, paged, money exact; the same numbers under injected throttling.
 */

let emu: RunningEmulator;
let client: TikTokClient;
const control = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(emu, method, path, body);

beforeAll(async () => {
  emu = await emulatorFor();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  await control('POST', 'reset');
  await control('POST', 'faults', { throttle: 0, paths: undefined, rules: [] });
  const token = (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [ADVERTISER] })).access_token;
  client = clientFor(emu, token, { retry: { maxAttempts: 30, initialDelayMs: 1, maxDelayMs: 5 } });
  await control('POST', 'adgroups', {
    advertiser_id: ADVERTISER,
    adgroups: [
      { campaign_id: '9100', campaign_name: 'Spring sale', adgroup_id: '9101', adgroup_name: 'Lookalikes', audience_ids: ['555', '444'], excluded_audience_ids: ['666'] },
      { campaign_id: '9100', adgroup_id: '9102', adgroup_name: 'Broad', audience_ids: [] },
    ],
  });
});

describe('ad group targeting and daily ad group stats', () => {
  it('reads every ad group with its audiences, excluded audiences and campaign name', async () => {
    const t = await client.adgroupTargeting(ADVERTISER);
    // 3 synthetic campaigns × 2 untargeted ad groups, plus the two seeded ones.
    expect(t).toHaveLength(8);
    expect(t.find((a) => a.adgroupId === '9101')).toEqual({
      adgroupId: '9101',
      adgroupName: 'Lookalikes',
      campaignId: '9100',
      campaignName: 'Spring sale',
      audienceIds: ['444', '555'],
      excludedAudienceIds: ['666'],
    });
    // Retargeting mid-month: the same call again replaces the ad group's audiences.
    await control('POST', 'adgroups', { advertiser_id: ADVERTISER, adgroups: [{ campaign_id: '9100', adgroup_id: '9101', audience_ids: ['777'] }] });
    expect((await client.adgroupTargeting(ADVERTISER)).find((a) => a.adgroupId === '9101')).toMatchObject({ adgroupName: 'Lookalikes', audienceIds: ['777'], excludedAudienceIds: [] });
  });

  it('pulls 41 days in windows of at most 30, every page, money exact', async () => {
    const pages: number[] = [];
    const stats = await client.adgroupDailyStats({ advertiserId: ADVERTISER, startDate: '2026-09-25', endDate: '2026-11-04', adgroupIds: ['9101', '9102'], pageSize: 7, onPage: () => pages.push(1) });
    expect(stats).toHaveLength(82);
    // 30 + 11 days × 2 ad groups = 60 + 22 rows, in pages of 7: 9 + 4.
    expect(pages).toHaveLength(13);
    const calls = (await control<{ calls: { path: string }[] }>('GET', 'calls')).calls.filter((c) => c.path.includes('report/integrated/get'));
    expect(calls).toHaveLength(13);
    for (const s of stats) {
      const e = seededDay(ADVERTISER, s.adgroupId, s.day);
      expect({ impressions: s.impressions, spend: formatMicros(s.spendMicros, 2), currency: s.currency }).toEqual({
        impressions: String(e.impressions),
        spend: `${Math.floor(e.spendCents / 100)}.${String(e.spendCents % 100).padStart(2, '0')}`,
        currency: 'USD',
      });
    }
    expect(new Set(stats.map((s) => s.day)).size).toBe(41);
  });

  it('gives the same numbers when half the report calls are throttled', async () => {
    const clean = await client.adgroupDailyStats({ advertiserId: ADVERTISER, startDate: '2026-10-01', endDate: '2026-10-31', adgroupIds: ['9101'], pageSize: 10 });
    await control('POST', 'faults', { throttle: 0.5, seed: 3, paths: ['report/integrated/get/'] });
    const throttled = await client.adgroupDailyStats({ advertiserId: ADVERTISER, startDate: '2026-10-01', endDate: '2026-10-31', adgroupIds: ['9101'], pageSize: 10 });
    expect(throttled).toEqual(clean);
    const outcomes = (await control<{ calls: { path: string; outcome: string }[] }>('GET', 'calls')).calls.filter((c) => c.path.includes('report/integrated/get')).map((c) => c.outcome);
    expect(outcomes).toContain('injected_throttle');
  });
});
