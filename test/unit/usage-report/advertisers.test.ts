import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadUsageAdvertisers } from '../../../src/usage-report/advertisers';

/*
 * Which advertisers get a report, from a folder of audience destination configs: only those
 * with dataMarketplace, one report per advertiser, whose destinations must agree on its settings.
 */

const dir = mkdtempSync(join(tmpdir(), 'ttsync-usage-advertisers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dm = (extra: Record<string, unknown> = {}) => ({
  dataUsageReporting: 'I Agree',
  paymentModel: 'I Agree',
  paymentRequirement: 'I Agree',
  reportingContacts: 'a@b.example',
  providerId: 'p',
  segmentId: 's',
  pricePercent: '10',
  currency: 'USD',
  ...extra,
});
const dest = (id: string, advertiserId: string, dataMarketplace?: Record<string, unknown>) => ({
  destinationId: id,
  advertiserId,
  audienceName: 'Some audience name',
  action: 'append',
  audienceId: '123',
  identifiers: { email: 'email' },
  accessToken: 'env:T',
  sourceSegmentId: `${id}-seg`,
  ...(dataMarketplace ? { dataMarketplace } : {}),
});
function folder(name: string, files: Record<string, unknown>): string {
  const d = join(dir, name);
  mkdirSync(d);
  for (const [f, v] of Object.entries(files)) writeFileSync(join(d, f), JSON.stringify(v));
  return d;
}

describe('usage advertisers from destination configs', () => {
  it('groups 3PD destinations by advertiser and skips first-party ones', async () => {
    const d = folder('ok', { 'a.json': dest('a', '1', dm()), 'b.json': dest('b', '1', dm({ segmentId: 't' })), 'c.json': dest('c', '2', dm()), 'fp.json': dest('fp', '3') });
    const out = await loadUsageAdvertisers(d);
    expect(out.map((a) => [a.advertiserId, a.segments.map((s) => s.destinationId), a.timeZone, a.dayOfMonth, a.hour, a.settle])).toEqual([
      ['1', ['a', 'b'], 'UTC', 2, 6, '3d'],
      ['2', ['c'], 'UTC', 2, 6, '3d'],
    ]);
  });

  it('refuses destinations of one advertiser whose report settings differ, an unknown zone and a relative storage path', async () => {
    const d = folder('bad', {
      'a.json': dest('a', '1', dm({ report: { timeZone: 'Europe/Paris' } })),
      'b.json': dest('b', '1', dm()),
      'c.json': dest('c', '2', dm({ report: { timeZone: 'Mars/Olympus_Mons' } })),
      'd.json': dest('d', '4', dm({ report: { storage: 'reports/here' } })),
    });
    await expect(loadUsageAdvertisers(d)).rejects.toThrow(/\$\.dataMarketplace\.report\.storage: must be a folder URI/);
    rmSync(join(d, 'd.json'));
    const err = await loadUsageAdvertisers(d).catch((e: Error) => e);
    expect((err as Error).message.split('\n')).toEqual([
      'advertiser 1: its 3PD destinations "a", "b" share one monthly report, so their accessToken, appId and dataMarketplace.report must be the same; "b" differs from "a"',
      'advertiser 2: dataMarketplace.report.timeZone "Mars/Olympus_Mons" is not a time zone this runtime knows (IANA names such as "America/New_York")',
    ]);
  });
});
