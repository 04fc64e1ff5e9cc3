import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { ADVERTISER, clientFor, emulatorFor, raw } from './helpers';

let emu: RunningEmulator;
let token: string;

beforeAll(async () => {
  emu = await emulatorFor({ campaignsPerAdvertiser: 3 });
  token = emu.control.issueToken([ADVERTISER]);
});
afterAll(async () => {
  await emu?.close();
});

const control = (path: string, body?: unknown) =>
  fetch(`${emu.url}/_emulator/${path}`, body === undefined ? {} : { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }).then((r) => r.json() as Promise<Record<string, unknown>>);

describe('campaign/get and adgroup/get (digest §11)', () => {
  it('lists the advertiser campaigns, ENABLE until paused, and hides deleted ones unless STATUS_ALL', async () => {
    const client = clientFor(emu, token);
    const campaigns = await client.listAllCampaigns(ADVERTISER);
    expect(campaigns).toHaveLength(3);
    expect(campaigns.every((c) => c.operation_status === 'ENABLE' && c.secondary_status === 'CAMPAIGN_STATUS_ENABLE')).toBe(true);
    const [first, second] = campaigns.map((c) => c.campaign_id);
    await control('campaigns', { advertiser_id: ADVERTISER, campaign_id: first, operation_status: 'DISABLE' });
    await control('campaigns', { advertiser_id: ADVERTISER, campaign_id: second, operation_status: 'DELETE' });
    const after = await client.listAllCampaigns(ADVERTISER);
    expect(after.map((c) => [c.campaign_id, c.operation_status, c.secondary_status])).toEqual([
      [first, 'DISABLE', 'CAMPAIGN_STATUS_DISABLE'],
      [campaigns[2]!.campaign_id, 'ENABLE', 'CAMPAIGN_STATUS_ENABLE'],
    ]);
    expect(await client.listAllCampaigns(ADVERTISER, { primary_status: 'STATUS_ALL' })).toHaveLength(3);
    const one = await client.getCampaigns({ advertiserId: ADVERTISER, filtering: { campaign_ids: [first] } });
    expect(one.campaigns.map((c) => c.campaign_id)).toEqual([first]);
    const page2 = await client.getCampaigns({ advertiserId: ADVERTISER, page: 2, pageSize: 1 });
    expect(page2.pageInfo).toMatchObject({ page: 2, page_size: 1, total_number: 2, total_page: 2 });
  });

  it('lists ad groups per campaign, a paused campaign showing in their secondary status', async () => {
    const client = clientFor(emu, token);
    const campaigns = await client.listAllCampaigns(ADVERTISER, { primary_status: 'STATUS_ALL' });
    const paused = campaigns.find((c) => c.operation_status === 'DISABLE')!;
    const r = await client.getAdgroups({ advertiserId: ADVERTISER, filtering: { campaign_ids: [paused.campaign_id] }, pageSize: 100 });
    expect(r.adgroups).toHaveLength(2);
    expect(r.adgroups.every((a) => a.campaign_id === paused.campaign_id && a.secondary_status === 'ADGROUP_STATUS_CAMPAIGN_DISABLE')).toBe(true);
  });

  it('needs the advertiser on the token (40001)', async () => {
    await expect(clientFor(emu, token).getCampaigns({ advertiserId: '7000000000000000999' })).rejects.toMatchObject({ code: 40001 });
  });
});

describe('status-changing endpoints (digest §11.3)', () => {
  it('record the call with its body, change nothing and answer 40001', async () => {
    const client = clientFor(emu, token);
    const before = await client.listAllCampaigns(ADVERTISER, { primary_status: 'STATUS_ALL' });
    const target = before.find((c) => c.operation_status === 'ENABLE')!;
    const res = await raw(emu, 'POST', 'campaign/status/update/', { token, json: { advertiser_id: ADVERTISER, campaign_ids: [target.campaign_id], operation_status: 'DISABLE' } });
    expect(res.body.code).toBe(40001);
    const res2 = await raw(emu, 'POST', 'adgroup/status/update/', { token, json: { advertiser_id: ADVERTISER, adgroup_ids: ['1'], operation_status: 'DISABLE' } });
    expect(res2.body.code).toBe(40001);
    const after = await client.listAllCampaigns(ADVERTISER, { primary_status: 'STATUS_ALL' });
    expect(after).toEqual(before);
    const log = (await control('status-changes')) as { statusChanges: { path: string; body: Record<string, unknown> }[] };
    expect(log.statusChanges.map((c) => c.path)).toEqual(['campaign/status/update/', 'adgroup/status/update/']);
    expect(log.statusChanges[0]!.body).toMatchObject({ campaign_ids: [target.campaign_id], operation_status: 'DISABLE' });
  });
});
