import { inspect } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { syntheticDay, campaignIds } from '../../../src/emulator';
import {
  AudienceBusy,
  InvalidRequest,
  PermissionDenied,
  ReauthorizationRequired,
  TikTokError,
  type TikTokClient,
} from '../../../src/tiktok';
import { ADVERTISER, OTHER_ADVERTISER, clientFor, digests, emulatorFor, fileOf, sleep, emulatorControl } from './helpers';
import { rejectionOf } from '../../helpers/rejection';

let emu: RunningEmulator;
let token: string;
let client: TikTokClient;

const control = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(emu, method, path, body);

beforeAll(async () => {
  emu = await emulatorFor({ processingDelay: 300, matchRate: 0.6 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  await control('POST', 'reset');
  token = (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [ADVERTISER] })).access_token;
  client = clientFor(emu, token);
});

async function waitValid(audienceId: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const [a] = await client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId] });
    if (a?.details.is_valid) return;
    await sleep(50);
  }
  throw new Error('audience never became valid');
}

async function upload(ids: string[], type: 'EMAIL_SHA256' | 'IDFA_MD5' = 'EMAIL_SHA256') {
  return (await client.uploadAudienceFile({ advertiserId: ADVERTISER, calculateType: type, fileName: 'ids.csv', content: fileOf(ids) }))
    .filePath;
}

async function emulatorIds(audienceId: string): Promise<string[]> {
  return (await control<{ ids: string[] }>('GET', `audiences/${audienceId}`)).ids;
}

describe('auth', () => {
  it('exchanges a single-use auth_code for a token bound to its advertisers', async () => {
    const { auth_code } = await control<{ auth_code: string }>('POST', 'auth-codes', { advertiser_ids: [ADVERTISER, OTHER_ADVERTISER] });
    const anon = clientFor(emu, undefined);
    const got = await anon.exchangeAuthCode({ appId: 'emulator-app', secret: 'emulator-secret', authCode: auth_code });
    expect(got.advertiserIds).toEqual([ADVERTISER, OTHER_ADVERTISER]);
    expect(got.accessToken).toMatch(/^[0-9a-f]{40}$/);

    const again = await rejectionOf(anon.exchangeAuthCode({ appId: 'emulator-app', secret: 'emulator-secret', authCode: auth_code }), TikTokError);
    expect(again).toBeInstanceOf(ReauthorizationRequired);
    expect(again.code).toBe(40110);
    expect(again.requestId).toMatch(/^\d{14}[0-9A-F]{10}$/);

    const badSecret = await rejectionOf(anon.exchangeAuthCode({ appId: 'emulator-app', secret: 'nope', authCode: auth_code }), TikTokError);
    expect(badSecret).toBeInstanceOf(InvalidRequest);
    expect(badSecret.code).toBe(40101);

    const fresh = clientFor(emu, got.accessToken);
    const advertisers = await fresh.getAuthorizedAdvertisers({ appId: 'emulator-app', secret: 'emulator-secret' });
    expect(advertisers.map((a) => a.advertiserId)).toEqual([ADVERTISER, OTHER_ADVERTISER]);
  });

  it('reads advertiser and user info, and refuses an advertiser the token lacks (PermissionDenied)', async () => {
    const [info] = await client.getAdvertiserInfo([ADVERTISER]);
    expect(info?.advertiser_id).toBe(ADVERTISER);
    expect((await client.getUserInfo()).display_name).toBeTruthy();
    const denied = await rejectionOf(client.getAdvertiserInfo([OTHER_ADVERTISER]), TikTokError);
    expect(denied).toBeInstanceOf(PermissionDenied);
    expect(denied.code).toBe(40001);
  });

  it('a revoked or unknown token needs re-authorization (40105)', async () => {
    await control('POST', 'tokens/revoke', { access_token: token });
    const err = await rejectionOf(client.getUserInfo(), TikTokError);
    expect(err).toBeInstanceOf(ReauthorizationRequired);
    expect(err.code).toBe(40105);
    const unknown = await rejectionOf(clientFor(emu, 'f'.repeat(40)).getUserInfo(), TikTokError);
    expect(unknown.code).toBe(40105);
  });

  it('never exposes the access token in errors, JSON or inspect output', async () => {
    const secretToken = 'SECRET-token-value-0123456789';
    const c = clientFor(emu, secretToken);
    const err = await rejectionOf(c.getUserInfo(), TikTokError);
    for (const text of [
      JSON.stringify(c),
      inspect(c, { depth: 10, showHidden: true }),
      JSON.stringify(err),
      inspect(err, { depth: 10, showHidden: true }),
      err.message,
      String(err.stack),
    ]) {
      expect(text).not.toContain(secretToken);
    }
    const calls = await control<{ calls: unknown[] }>('GET', 'calls');
    expect(JSON.stringify(calls)).not.toContain(secretToken);
  });
});

describe('customer-file audiences', () => {
  it('upload → create → processing (AudienceBusy) → valid with cover_num → APPEND/REMOVE/REPLACE as set operations', async () => {
    const base = digests(1500);
    const p1 = await upload(base);
    expect(p1).toHaveLength(16);
    const { audienceId } = await client.createAudience({
      advertiserId: ADVERTISER,
      name: 'VIP buyers',
      calculateType: 'EMAIL_SHA256',
      filePaths: [p1],
      retentionInDays: 180,
    });
    const [fresh] = await client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId] });
    expect(fresh?.details).toMatchObject({ audience_id: audienceId, is_valid: false, cover_num: 0, calculate_type: 'EMAIL_SHA256' });

    const busy = await rejectionOf(client.updateAudience({ advertiserId: ADVERTISER, audienceId, action: 'APPEND', filePaths: [p1] }), TikTokError);
    expect(busy).toBeInstanceOf(AudienceBusy);
    expect(busy.code).toBe(40002);
    expect(busy.tiktokMessage).toMatch(/^Audience is not editable/);

    await waitValid(audienceId);
    const [valid] = await client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId] });
    const cover = valid!.details.cover_num!;
    // Deterministic per digest: about 60% of uniform digests match.
    expect(cover).toBeGreaterThan(1500 * 0.5);
    expect(cover).toBeLessThan(1500 * 0.7);
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set(base));

    const extra = digests(500);
    await client.updateAudience({ advertiserId: ADVERTISER, audienceId, action: 'APPEND', filePaths: [await upload([...extra, ...base.slice(0, 10)])] });
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set([...base, ...extra]));
    await waitValid(audienceId);

    await client.updateAudience({ advertiserId: ADVERTISER, audienceId, action: 'REMOVE', filePaths: [await upload(base.slice(0, 300))] });
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set([...base.slice(300), ...extra]));
    await waitValid(audienceId);

    const replacement = digests(1200);
    await client.updateAudience({ advertiserId: ADVERTISER, audienceId, action: 'REPLACE', filePaths: [await upload(replacement)] });
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set(replacement));
    await waitValid(audienceId);

    const tooSmall = await rejectionOf(
      client.updateAudience({ advertiserId: ADVERTISER, audienceId, action: 'REMOVE', filePaths: [await upload(replacement.slice(0, 201))] }),
      TikTokError,
    );
    expect(tooSmall).toBeInstanceOf(InvalidRequest);
    expect(tooSmall.code).toBe(40002);
    expect(tooSmall.tiktokMessage).toMatch(/below the minimum of 1000/);
    expect(await emulatorIds(audienceId)).toHaveLength(1200);

    const noAction = await rejectionOf(client.updateAudience({ advertiserId: ADVERTISER, audienceId, filePaths: [p1] }), TikTokError);
    expect(noAction).toBeInstanceOf(InvalidRequest);
    expect(noAction.tiktokMessage).toMatch(/action .* is required/);
    await client.updateAudience({ advertiserId: ADVERTISER, audienceId, name: 'VIP buyers (renamed)' });
    const [final] = await client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId], historySize: 10 });
    expect(final?.details.name).toBe('VIP buyers (renamed)');
    expect(final?.history.map((h) => h.action)).toEqual(['rename', 'replace', 'remove', 'append', 'create']);
    expect(final?.history[3]).toMatchObject({ action: 'append', action_detail: '500', editor: 'open_api' });
  });

  it('lists with paging and deletes', async () => {
    const p = await upload(digests(1000));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await client.createAudience({ advertiserId: ADVERTISER, name: `a${i}`, calculateType: 'EMAIL_SHA256', filePaths: [p] })).audienceId);
    }
    const page1 = await client.listAudiences({ advertiserId: ADVERTISER, page: 1, pageSize: 2 });
    expect(page1.pageInfo).toEqual({ page: 1, page_size: 2, total_number: 3, total_page: 2 });
    const page2 = await client.listAudiences({ advertiserId: ADVERTISER, page: 2, pageSize: 2 });
    expect(new Set([...page1.audiences, ...page2.audiences].map((a) => a.audience_id))).toEqual(new Set(ids));
    const only = await client.listAudiences({ advertiserId: ADVERTISER, audienceIds: [ids[1]!] });
    expect(only.audiences.map((a) => a.audience_id)).toEqual([ids[1]]);

    await client.deleteAudiences({ advertiserId: ADVERTISER, audienceIds: [ids[0]!, ids[2]!] });
    expect((await client.listAudiences({ advertiserId: ADVERTISER })).audiences.map((a) => a.audience_id)).toEqual([ids[1]]);
    const gone = await rejectionOf(client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [ids[0]!] }), TikTokError);
    expect(gone).toBeInstanceOf(InvalidRequest);
  });

  it('uploads MD5 files for MD5 audiences', async () => {
    const ids = digests(1000, 32);
    const p = await upload(ids, 'IDFA_MD5');
    const { audienceId } = await client.createAudience({ advertiserId: ADVERTISER, name: 'idfa', calculateType: 'IDFA_MD5', filePaths: [p] });
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set(ids));
  });
});

describe('segment API', () => {
  it('creates a partner audience, maps users with positional id_schema slots, deletes mappings and the audience', async () => {
    const { audienceId } = await client.createSegmentAudience({ advertiserId: ADVERTISER, name: 'Streaming fans' });
    const emails = digests(3);
    const phones = digests(2);
    await client.segmentMapping({
      advertiserIds: [ADVERTISER],
      action: 'add',
      idSchema: ['EMAIL_SHA256', 'PHONE_SHA256'],
      users: [{ EMAIL_SHA256: emails[0], PHONE_SHA256: phones[0] }, { EMAIL_SHA256: emails[1] }, { PHONE_SHA256: phones[1] }, { EMAIL_SHA256: emails[2] }],
      audienceIds: [audienceId],
    });
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set([...emails, ...phones]));
    await client.segmentMapping({
      advertiserIds: [ADVERTISER],
      action: 'delete',
      idSchema: ['EMAIL_SHA256'],
      users: [{ EMAIL_SHA256: emails[0] }],
      audienceIds: [audienceId],
    });
    expect(new Set(await emulatorIds(audienceId))).toEqual(new Set([emails[1], emails[2], ...phones]));
    const [a] = await client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId] });
    expect(a?.details).toMatchObject({ type: 'Partner', calculate_type: 'MULTIPLE_TYPES' });

    const bad = await rejectionOf(
      client.segmentMapping({
        advertiserIds: [ADVERTISER],
        action: 'add',
        idSchema: ['EMAIL_SHA256'],
        users: [{ EMAIL_SHA256: emails[0] }],
        audienceIds: ['123'],
      }),
      TikTokError,
    );
    expect(bad).toBeInstanceOf(InvalidRequest);
    expect(bad.tiktokMessage).toBe('Parameter error: invalid audience ID');

    await client.deleteSegmentAudience({ advertiserId: ADVERTISER, audienceId });
    expect((await client.listAudiences({ advertiserId: ADVERTISER })).audiences).toEqual([]);
  });
});

describe('events API', () => {
  it('accepts events, dedups on (event_source_id, event_id, event), rejects bad fields with 40002', async () => {
    const now = Math.floor(Date.now() / 1000);
    const [email] = digests(1);
    const ev = (id: string, event = 'Purchase') => ({
      event,
      event_time: now,
      event_id: id,
      user: { email: [email!], ip: '127.0.0.1' },
      properties: { currency: 'USD', value: 12.5, contents: [{ content_id: 'sku1', price: 12.5, quantity: 1 }] },
    });
    const first = await client.trackEvents({ eventSource: 'web', eventSourceId: 'PIXEL1', data: [ev('e1'), ev('e2'), ev('e1', 'AddToCart')] });
    expect(first).toMatchObject({ partial: false, message: 'OK' });
    await client.trackEvents({ eventSource: 'web', eventSourceId: 'PIXEL1', data: [ev('e1'), ev('e3')] });
    const stored = await control<{ events: Array<{ eventId: string; event: string; deduplicated: boolean }>; eventsDeduplicated: number }>(
      'GET',
      'events',
    );
    expect(stored.events.map((e) => [e.eventId, e.event, e.deduplicated])).toEqual([
      ['e1', 'Purchase', false],
      ['e2', 'Purchase', false],
      ['e1', 'AddToCart', false],
      ['e1', 'Purchase', true],
      ['e3', 'Purchase', false],
    ]);

    const bad = await rejectionOf(
      client.trackEvents({ eventSource: 'web', eventSourceId: 'PIXEL1', data: [{ ...ev('e4'), user: { email: 'alice@example.com' } }] }),
      TikTokError,
    );
    expect(bad).toBeInstanceOf(InvalidRequest);
    expect(bad.code).toBe(40002);
    expect(bad.tiktokMessage).toBe('data.0.user.email: must be a lowercase SHA-256 hex digest.');

    const tooMany = await rejectionOf(
      client.trackEvents({ eventSource: 'web', eventSourceId: 'PIXEL1', data: Array.from({ length: 1001 }, (_, i) => ev(`x${i}`)) }),
      TikTokError,
    );
    expect(tooMany).toBeInstanceOf(InvalidRequest);
  });

  it('refuses a pixel owned by an advertiser the token lacks (PermissionDenied)', async () => {
    await control('POST', 'event-sources', { event_source_id: 'PIXEL2', advertiser_id: OTHER_ADVERTISER });
    const err = await rejectionOf(
      client.trackEvents({ eventSource: 'web', eventSourceId: 'PIXEL2', data: [{ event: 'Purchase', event_time: Math.floor(Date.now() / 1000) }] }),
      TikTokError,
    );
    expect(err).toBeInstanceOf(PermissionDenied);
    expect(err.tiktokMessage).toMatch(/No permission to operate pixel code: PIXEL2/);
  });
});

describe('reporting', () => {
  it('returns deterministic impressions and spend per campaign and day, across pages', async () => {
    const rows = await client.dailySpend({
      advertiserId: ADVERTISER,
      level: 'AUCTION_CAMPAIGN',
      startDate: '2026-11-01',
      endDate: '2026-11-05',
      pageSize: 4,
    });
    const campaigns = campaignIds(ADVERTISER, 3);
    expect(rows).toHaveLength(15);
    for (const c of campaigns) {
      for (const day of ['2026-11-01', '2026-11-03', '2026-11-05']) {
        const s = syntheticDay(ADVERTISER, c, day);
        expect(rows).toContainEqual({ id: c, day, impressions: s.impressions, spend: s.spendCents / 100 });
      }
    }
    const advertiserLevel = await client.dailySpend({ advertiserId: ADVERTISER, level: 'AUCTION_ADVERTISER', startDate: '2026-11-01', endDate: '2026-11-01' });
    const sum = campaigns.map((c) => syntheticDay(ADVERTISER, c, '2026-11-01'));
    expect(advertiserLevel).toEqual([
      {
        id: ADVERTISER,
        day: '2026-11-01',
        impressions: sum.reduce((s, x) => s + x.impressions, 0),
        spend: sum.reduce((s, x) => s + x.spendCents, 0) / 100,
      },
    ]);
    const tooLong = await rejectionOf(
      client.dailySpend({ advertiserId: ADVERTISER, level: 'AUCTION_CAMPAIGN', startDate: '2026-01-01', endDate: '2026-03-01' }),
      TikTokError,
    );
    expect(tooLong).toBeInstanceOf(InvalidRequest);
  });
});
