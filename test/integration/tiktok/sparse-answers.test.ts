import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { campaignIds, syntheticDay, type RunningEmulator } from '../../../src/emulator';
import { InvalidRequest, TikTokClient, TikTokError, UnexpectedResponse, type RetryInfo } from '../../../src/tiktok';
import { ADVERTISER, OTHER_ADVERTISER, clientFor, digests, emulatorControl, emulatorFor, fileOf } from './helpers';

/*
 * The client against an emulator in sparse-answers mode: every field TikTok does not always
 * send is absent or null, and every object carries an unknown field. Each call must still
 * give what ttsync reads; ground truth comes from the emulator's /_emulator/ view.
 */

let emu: RunningEmulator;
let token: string;
let client: TikTokClient;
const control = <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => emulatorControl<T>(emu, method, path, body);

beforeAll(async () => {
  emu = await emulatorFor({ processingDelay: 100, minAudienceSize: 0, sparseAnswers: true });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  await control('POST', 'reset');
  expect(await control('POST', 'sparse-answers', { enabled: true })).toEqual({ enabled: true });
  token = (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [ADVERTISER] })).access_token;
  client = clientFor(emu, token);
});

describe('TikTok client against sparse answers', () => {
  it('auth: exchanges a code, lists authorized advertisers, reads advertiser and user info', async () => {
    const { auth_code } = await control<{ auth_code: string }>('POST', 'auth-codes', { advertiser_ids: [ADVERTISER, OTHER_ADVERTISER] });
    const got = await clientFor(emu, undefined).exchangeAuthCode({ appId: 'emulator-app', secret: 'emulator-secret', authCode: auth_code });
    expect(got.advertiserIds).toEqual([ADVERTISER, OTHER_ADVERTISER]);
    const advertisers = await clientFor(emu, got.accessToken).getAuthorizedAdvertisers({ appId: 'emulator-app', secret: 'emulator-secret' });
    expect(advertisers.map((a) => a.advertiserId)).toEqual([ADVERTISER, OTHER_ADVERTISER]);
    const [info] = await client.getAdvertiserInfo([ADVERTISER]);
    expect(info?.advertiser_id).toBe(ADVERTISER);
    expect(info?.name ?? null).toBeNull();
    const me = await client.getUserInfo();
    expect(me.display_name ?? null).toBeNull();
  });

  it('customer-file audiences: upload, create, get (history without its fields), list with paging, update, delete', async () => {
    const ids = digests(50);
    const { filePath } = await client.uploadAudienceFile({ advertiserId: ADVERTISER, calculateType: 'EMAIL_SHA256', fileName: 'a.csv', content: fileOf(ids) });
    const { audienceId } = await client.createAudience({ advertiserId: ADVERTISER, name: 'sparse one', calculateType: 'EMAIL_SHA256', filePaths: [filePath] });
    const held = await control<{ ids: string[]; cover_num: number }>('GET', `audiences/${audienceId}`);
    expect(new Set(held.ids)).toEqual(new Set(ids));

    await control('POST', `audiences/${audienceId}/finish-processing`);
    const [got] = await client.getAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId], historySize: 10 });
    expect(got?.details.is_valid).toBe(true);
    expect(got?.details.cover_num ?? null).toBeNull();
    expect(got?.history).toHaveLength(1);
    for (const h of got!.history) expect(h.opt_time ?? null).toBeNull();

    for (let i = 0; i < 2; i++) await client.createAudience({ advertiserId: ADVERTISER, name: `sparse ${i + 2}`, calculateType: 'EMAIL_SHA256', filePaths: [filePath] });
    const p1 = await client.listAudiences({ advertiserId: ADVERTISER, page: 1, pageSize: 2 });
    const p2 = await client.listAudiences({ advertiserId: ADVERTISER, page: 2, pageSize: 2 });
    expect(p1.pageInfo).toMatchObject({ total_number: 3, total_page: 2 });
    expect([...p1.audiences, ...p2.audiences].map((a) => a.name).sort()).toEqual(['sparse 2', 'sparse 3', 'sparse one']);

    const more = digests(10);
    const { filePath: p } = await client.uploadAudienceFile({ advertiserId: ADVERTISER, calculateType: 'EMAIL_SHA256', fileName: 'b.csv', content: fileOf(more) });
    await client.updateAudience({ advertiserId: ADVERTISER, audienceId, action: 'APPEND', filePaths: [p] });
    expect(new Set((await control<{ ids: string[] }>('GET', `audiences/${audienceId}`)).ids)).toEqual(new Set([...ids, ...more]));
    await client.deleteAudiences({ advertiserId: ADVERTISER, audienceIds: [audienceId] });
    expect((await client.listAudiences({ advertiserId: ADVERTISER })).pageInfo.total_number).toBe(2);
  });

  it('segment API and events: create, map, delete; track events', async () => {
    const { audienceId } = await client.createSegmentAudience({ advertiserId: ADVERTISER, name: 'sparse partner' });
    const [email] = digests(1);
    await client.segmentMapping({ advertiserIds: [ADVERTISER], action: 'add', idSchema: ['EMAIL_SHA256'], users: [{ EMAIL_SHA256: email }], audienceIds: [audienceId] });
    expect((await control<{ ids: string[] }>('GET', `audiences/${audienceId}`)).ids).toEqual([email]);
    await client.deleteSegmentAudience({ advertiserId: ADVERTISER, audienceId });
    const r = await client.trackEvents({ eventSource: 'web', eventSourceId: 'PIXEL1', data: [{ event: 'Purchase', event_time: Math.floor(Date.now() / 1000), event_id: 'e1' }] });
    expect(r).toMatchObject({ partial: false, message: 'OK' });
  });

  it('reporting: daily spend per campaign across pages', async () => {
    const rows = await client.dailySpend({ advertiserId: ADVERTISER, level: 'AUCTION_CAMPAIGN', startDate: '2026-11-01', endDate: '2026-11-02', pageSize: 4 });
    expect(rows).toHaveLength(6);
    for (const c of campaignIds(ADVERTISER, 3)) {
      const s = syntheticDay(ADVERTISER, c, '2026-11-02');
      expect(rows).toContainEqual({ id: c, day: '2026-11-02', impressions: s.impressions, spend: s.spendCents / 100 });
    }
  });
});

/** A stand-in for TikTok answering every request with `answer(req)` (HTTP 200, JSON). */
async function fakeTikTok(answer: (req: IncomingMessage) => unknown): Promise<{ base: string; calls: string[]; close(): Promise<void> }> {
  const calls: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    calls.push(new URL(req.url ?? '/', 'http://x').pathname);
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(answer(req)));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/open_api/v1.3`,
    calls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const FAKE_TOKEN = 'fake-tiktok-token-0123456789';

async function rejection(p: Promise<unknown>): Promise<TikTokError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TikTokError);
  return err as TikTokError;
}

describe('answers lacking what ttsync reads', () => {
  it('an audience without its id: UnexpectedResponse with endpoint, JSON path and request_id, retried a few times, never InvalidRequest', async () => {
    const tiktok = await fakeTikTok(() => ({
      code: 0,
      message: 'OK',
      request_id: 'REQ-42',
      data: { list: [{ audience_details: { name: 'x', is_valid: true }, audience_history: [] }, { audience_details: { is_valid: true } }] },
    }));
    try {
      const retries: RetryInfo[] = [];
      const c = new TikTokClient({
        accessToken: FAKE_TOKEN,
        appId: 'unexpected',
        env: { TIKTOK_API_BASE_URL: tiktok.base, TIKTOK_QPS: 1000, TIKTOK_UNEXPECTED_RESPONSE_ATTEMPTS: 3 },
        retry: { initialDelayMs: 1, maxDelayMs: 5 },
        onRetry: (r) => retries.push(r),
      });
      const listed = await rejection(c.listAudiences({ advertiserId: ADVERTISER }));
      expect(listed).toBeInstanceOf(UnexpectedResponse);
      expect(listed).not.toBeInstanceOf(InvalidRequest);
      expect(listed.type).toBe('UnexpectedResponse');
      expect(listed.endpoint).toBe('dmp/custom_audience/list/');
      expect(listed.requestId).toBe('REQ-42');
      expect((listed as UnexpectedResponse).jsonPath).toBe('data.list.0.audience_id');
      expect(listed.message).toMatch(
        /^TikTok answered \/open_api\/v1\.3\/dmp\/custom_audience\/list\/ with an unexpected shape \(request_id REQ-42\): data\.list\.0\.audience_id: missing; /,
      );
      // Also the list's page_info and the second entry's name and id.
      expect(listed.message).toContain('data.page_info: missing');
      expect(listed.message).toContain('data.list.1.name: missing');
      expect(tiktok.calls).toHaveLength(3);
      expect(retries.map((r) => r.type)).toEqual(['UnexpectedResponse', 'UnexpectedResponse']);
      expect(JSON.parse(JSON.stringify(listed))).toMatchObject({ type: 'UnexpectedResponse', endpoint: 'dmp/custom_audience/list/', requestId: 'REQ-42', jsonPath: 'data.list.0.audience_id' });
    } finally {
      await tiktok.close();
    }
  });

  it('a non-idempotent create is not repeated on an odd answer; a null is named as such; a body that is no envelope is UnexpectedResponse too', async () => {
    let body: unknown = { code: 0, message: 'OK', request_id: 'REQ-7', data: { custom_audience_id: null } };
    const tiktok = await fakeTikTok(() => body);
    try {
      const c = new TikTokClient({ accessToken: FAKE_TOKEN, appId: 'unexpected2', env: { TIKTOK_API_BASE_URL: tiktok.base, TIKTOK_QPS: 1000 }, retry: { initialDelayMs: 1, maxDelayMs: 5 } });
      const created = await rejection(c.createAudience({ advertiserId: ADVERTISER, name: 'n', calculateType: 'EMAIL_SHA256', filePaths: ['p'] }));
      expect(created.message).toMatch(/\(request_id REQ-7\): data\.custom_audience_id: null$/);
      expect(tiktok.calls).toHaveLength(1);

      body = { error: 'gateway says hi' };
      const notEnvelope = await rejection(c.getUserInfo());
      expect(notEnvelope).toBeInstanceOf(UnexpectedResponse);
      expect((notEnvelope as UnexpectedResponse).jsonPath).toBe('code');
      expect(notEnvelope.requestId).toBeNull();
      expect(notEnvelope.message).toBe('TikTok answered /open_api/v1.3/user/info/ with an unexpected shape: not a TikTok envelope: code: missing');
    } finally {
      await tiktok.close();
    }
  });

  it('report rows: a requested dimension is needed, a metric without value counts as 0', async () => {
    let rows: unknown[] = [];
    const tiktok = await fakeTikTok(() => ({ code: 0, message: 'OK', request_id: 'REQ-R', data: { list: rows, page_info: { total_page: 1 } } }));
    try {
      const c = new TikTokClient({ accessToken: FAKE_TOKEN, appId: 'report', env: { TIKTOK_API_BASE_URL: tiktok.base, TIKTOK_QPS: 1000, TIKTOK_UNEXPECTED_RESPONSE_ATTEMPTS: 1 } });
      const ask = () => c.dailySpend({ advertiserId: ADVERTISER, level: 'AUCTION_CAMPAIGN', startDate: '2026-11-01', endDate: '2026-11-01' });
      rows = [{ dimensions: { campaign_id: 17, stat_time_day: '2026-11-01 00:00:00', extra: { x: 1 } }, metrics: { impressions: '-', spend: null, clicks: 'n/a' } }];
      expect(await ask()).toEqual([{ id: '17', day: '2026-11-01', impressions: 0, spend: 0 }]);
      rows = [{ dimensions: { campaign_id: '17' }, metrics: {} }];
      const err = await rejection(ask());
      expect(err).toBeInstanceOf(UnexpectedResponse);
      expect((err as UnexpectedResponse).jsonPath).toBe('data.list.0.dimensions.stat_time_day');
      expect(err.requestId).toBe('REQ-R');
    } finally {
      await tiktok.close();
    }
  });

  it('an absent or null descriptive field is no failure: a null message, a null history, null cover_num', async () => {
    const tiktok = await fakeTikTok(() => ({
      code: 0,
      message: null,
      data: { list: [{ audience_details: { is_valid: false, cover_num: null, msg: null }, audience_history: null }] },
    }));
    try {
      const c = new TikTokClient({ accessToken: FAKE_TOKEN, appId: 'tolerant', env: { TIKTOK_API_BASE_URL: tiktok.base, TIKTOK_QPS: 1000 } });
      const [a] = await c.getAudiences({ advertiserId: ADVERTISER, audienceIds: ['1'] });
      expect(a).toEqual({ details: { is_valid: false, cover_num: null, msg: null }, history: [] });
    } finally {
      await tiktok.close();
    }
  });
});
