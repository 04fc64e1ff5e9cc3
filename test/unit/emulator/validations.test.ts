import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { ADVERTISER, OTHER_ADVERTISER, digests, emulatorFor, fileOf, raw, sleep, uploadForm } from '../../integration/tiktok/helpers';

let emu: RunningEmulator;
let token: string;

beforeAll(async () => {
  emu = await emulatorFor({ maxFileBytes: 200_000, maxAudiencesPerAdvertiser: 3, fileTtl: 300, processingDelay: 0 });
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  emu.control.reset();
  token = emu.control.issueToken([ADVERTISER]);
});

const expectCode = (r: Awaited<ReturnType<typeof raw>>, code: number, message?: RegExp) => {
  expect(r.status).toBe(200);
  expect(r.body.code).toBe(code);
  expect(r.body.request_id).toMatch(/^\d{14}[0-9A-F]{10}$/);
  expect(r.body.data).toEqual({});
  if (message) expect(r.body.message).toMatch(message);
};

async function filePath(ids = digests(1000), advertiserId = ADVERTISER, tok = token): Promise<string> {
  const r = await raw(emu, 'POST', 'dmp/custom_audience/file/upload/', { token: tok, form: uploadForm(advertiserId, fileOf(ids)) });
  expect(r.body.code).toBe(0);
  return r.body.data.file_path as string;
}

describe('protocol', () => {
  it('unknown path and a missing trailing slash are HTTP 404, not envelopes; wrong method is 405', async () => {
    const a = await raw(emu, 'GET', 'no/such/', { token });
    expect(a.status).toBe(404);
    const b = await raw(emu, 'GET', 'user/info', { token });
    expect(b.status).toBe(404);
    const c = await raw(emu, 'POST', 'user/info/', { token, json: {} });
    expect(c.status).toBe(405);
  });
  it('success envelope: code 0, message OK, request_id, data', async () => {
    const r = await raw(emu, 'GET', 'user/info/', { token });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ code: 0, message: 'OK' });
    expect(r.body.request_id).toBeTruthy();
  });
});

describe('auth', () => {
  it('40104 missing token, 40105 invalid or revoked, 40001 advertiser not in token', async () => {
    expectCode(await raw(emu, 'GET', 'user/info/'), 40104, /Access token is null/);
    expectCode(await raw(emu, 'GET', 'user/info/', { token: 'Bearer x' }), 40105);
    emu.control.revokeToken(token);
    expectCode(await raw(emu, 'GET', 'user/info/', { token }), 40105, /revoked/);
    const t2 = emu.control.issueToken([ADVERTISER]);
    expectCode(
      await raw(emu, 'GET', 'advertiser/info/', { token: t2, query: { advertiser_ids: JSON.stringify([OTHER_ADVERTISER]) } }),
      40001,
    );
  });
  it('auth codes are single use (40110), app secret must match (40101), revoke_token revokes', async () => {
    const code = emu.control.issueAuthCode([ADVERTISER]);
    const body = { app_id: 'emulator-app', secret: 'emulator-secret', auth_code: code };
    expectCode(await raw(emu, 'POST', 'oauth2/access_token/', { json: { ...body, secret: 'x' } }), 40101);
    const ok = await raw(emu, 'POST', 'oauth2/access_token/', { json: body });
    expect(ok.body.code).toBe(0);
    expect(ok.body.data.advertiser_ids).toEqual([ADVERTISER]);
    expectCode(await raw(emu, 'POST', 'oauth2/access_token/', { json: body }), 40110);
    const t = ok.body.data.access_token as string;
    const rv = await raw(emu, 'POST', 'oauth2/revoke_token/', { json: { app_id: 'emulator-app', secret: 'emulator-secret', access_token: t } });
    expect(rv.body.code).toBe(0);
    expectCode(await raw(emu, 'GET', 'user/info/', { token: t }), 40105);
  });
  it('oauth2/advertiser/get/ checks the app against the token (40113)', async () => {
    emu.options.apps['other-app'] = 'other-secret';
    expectCode(await raw(emu, 'GET', 'oauth2/advertiser/get/', { token, query: { app_id: 'other-app', secret: 'other-secret' } }), 40113);
  });
  it('a token with an explicit scope list lacking audience scope gets 40001', async () => {
    const t = emu.control.issueToken([ADVERTISER], { scope: ['4'] });
    expectCode(await raw(emu, 'GET', 'dmp/custom_audience/list/', { token: t, query: { advertiser_id: ADVERTISER } }), 40001, /scope 30/);
  });
});

describe('file upload', () => {
  const up = (form: FormData) => raw(emu, 'POST', 'dmp/custom_audience/file/upload/', { token, form });
  const content = fileOf(digests(10));
  it('suffix .csv/.txt (40908), MD5 signature (40900), calculate_type (40909), empty (40906), size cap (40907)', async () => {
    expectCode(await up(uploadForm(ADVERTISER, content, { name: 'ids.xlsx' })), 40908);
    expect((await up(uploadForm(ADVERTISER, content, { name: 'ids.txt' }))).body.code).toBe(0);
    expectCode(await up(uploadForm(ADVERTISER, content, { signature: '0'.repeat(32) })), 40900);
    expectCode(await up(uploadForm(ADVERTISER, content, { type: 'FIRST_PARTY_USER_ID' })), 40909);
    expectCode(await up(uploadForm(ADVERTISER, Buffer.alloc(0))), 40906);
    expectCode(await up(uploadForm(ADVERTISER, Buffer.from('Email_SHA256\n'))), 40906);
    expectCode(await up(uploadForm(ADVERTISER, fileOf(digests(4000)))), 40907);
    expectCode(await up(uploadForm(ADVERTISER, fileOf(digests(5, 32)))), 40914);
    expectCode(await up(uploadForm(OTHER_ADVERTISER, content)), 40001);
  });
  it('returns 16-char paths usable only by the uploader, that expire (40905, 40910)', async () => {
    const other = emu.control.issueToken([OTHER_ADVERTISER]);
    const p = await filePath(digests(1000), OTHER_ADVERTISER, other);
    expect(p).toMatch(/^[0-9a-f]{16}$/);
    const create = { advertiser_id: ADVERTISER, custom_audience_name: 'x', calculate_type: 'EMAIL_SHA256', file_paths: [p] };
    expectCode(await raw(emu, 'POST', 'dmp/custom_audience/create/', { token, json: create }), 40905);
    const mine = await filePath();
    await sleep(350);
    expectCode(
      await raw(emu, 'POST', 'dmp/custom_audience/create/', { token, json: { ...create, file_paths: [mine] } }),
      40910,
    );
  });
});

describe('create and update', () => {
  const create = (over: Record<string, unknown>) =>
    raw(emu, 'POST', 'dmp/custom_audience/create/', {
      token,
      json: { advertiser_id: ADVERTISER, custom_audience_name: 'n', calculate_type: 'EMAIL_SHA256', ...over },
    });
  it('name 1–128, retention 1–365, 1–500 files, calculate_type must match the files', async () => {
    const p = await filePath();
    expectCode(await create({ file_paths: [p], custom_audience_name: '' }), 40002, /custom_audience_name/);
    expectCode(await create({ file_paths: [p], custom_audience_name: 'x'.repeat(129) }), 40002, /1 and 128/);
    expect((await create({ file_paths: [p], custom_audience_name: 'x'.repeat(128) })).body.code).toBe(0);
    expectCode(await create({ file_paths: [p], retention_in_days: 0 }), 40002, /retention_in_days/);
    expectCode(await create({ file_paths: [p], retention_in_days: 366 }), 40002, /retention_in_days/);
    expectCode(await create({ file_paths: Array(501).fill(p) }), 40002, /file_paths/);
    expectCode(await create({ file_paths: [] }), 40002, /file_paths/);
    expectCode(await create({ file_paths: [p], calculate_type: 'PHONE_SHA256' }), 40002, /does not match/);
  });
  it('caps audiences per advertiser (configured 3 here; default 400)', async () => {
    const p = await filePath();
    for (let i = 0; i < 3; i++) expect((await create({ file_paths: [p] })).body.code).toBe(0);
    expectCode(await create({ file_paths: [p] }), 40002, /reached the limit of 3/);
  });
  it('an edit while processing gets 40002 "Audience is not editable…"; one leaving < 1,000 gets 40002', async () => {
    const ids = digests(1100);
    const p = await filePath(ids);
    emu.control.configure({ processingDelay: '5s' });
    const id = (await create({ file_paths: [p] })).body.data.custom_audience_id as string;
    const update = (json: Record<string, unknown>) =>
      raw(emu, 'POST', 'dmp/custom_audience/update/', { token, json: { advertiser_id: ADVERTISER, custom_audience_id: id, ...json } });
    const small = await filePath(ids.slice(0, 101));
    expectCode(await update({ action: 'REMOVE', file_paths: [small] }), 40002, /^Audience is not editable/);
    emu.control.finishProcessing(id);
    expectCode(await update({ action: 'REMOVE', file_paths: [small] }), 40002, /would be 999, below the minimum of 1000/);
    expectCode(await update({ action: 'DELETE', file_paths: [small] }), 40002, /action/);
    expectCode(await update({}), 40002, /custom_audience_name or file_paths/);
    expect(emu.control.audience(id, false)?.size).toBe(1100);
    emu.control.configure({ processingDelay: 0 });
  });
});

describe('segment API', () => {
  it('truncates long names, validates id_schema and row alignment, rejects unknown audiences', async () => {
    const r = await raw(emu, 'POST', 'segment/audience/', {
      token,
      json: { advertiser_id: ADVERTISER, action: 'create', custom_audience_name: 'y'.repeat(80) },
    });
    const id = r.body.data.audience_id as string;
    expect(emu.control.audience(id)?.name).toBe(`${'y'.repeat(67)}...`);
    const map = (json: Record<string, unknown>) =>
      raw(emu, 'POST', 'segment/mapping/', { token, json: { advertiser_ids: [ADVERTISER], action: 'add', ...json } });
    const [e] = digests(1);
    expectCode(await map({ id_schema: ['EMAIL'], batch_data: [[{ id: e, audience_ids: [id] }]] }), 40002, /id_schema/);
    expectCode(await map({ id_schema: ['EMAIL_SHA256', 'EMAIL_SHA256'], batch_data: [] }), 40002, /Duplicate/);
    expectCode(await map({ id_schema: ['EMAIL_SHA256', 'PHONE_SHA256'], batch_data: [[{ id: e, audience_ids: [id] }]] }), 40002, /one entry per id_schema/);
    expectCode(await map({ id_schema: ['IDFA_MD5'], batch_data: [[{ id: e, audience_ids: [id] }]] }), 40002, /IDFA_MD5 hex digest/);
    expectCode(await map({ id_schema: ['EMAIL_SHA256'], batch_data: [[{ id: e, audience_ids: ['1'] }]] }), 40002, /invalid audience ID/);
    expect((await map({ id_schema: ['email_sha256'], batch_data: [[{ id: e, audience_ids: [id] }]] })).body.code).toBe(0);
    expectCode(await map({ action: 'upsert', id_schema: ['EMAIL_SHA256'], batch_data: [[{}]] }), 40002, /action/);
  });
});

describe('events API', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const track = (json: Record<string, unknown>) =>
    raw(emu, 'POST', 'event/track/', { token, json: { event_source: 'web', event_source_id: 'PX', ...json } });
  it('at most 1,000 events; field validation with 40002 messages', async () => {
    const ok = { event: 'Purchase', event_time: now() };
    expect((await track({ data: Array(1000).fill(ok) })).body.code).toBe(0);
    expectCode(await track({ data: Array(1001).fill(ok) }), 40002, /^data: Length must be between 1 and 1000/);
    expectCode(await track({ event_source: 'tv', data: [ok] }), 40002, /event_source/);
    expectCode(await track({ data: [{ event_time: now() }] }), 40002, /^data\.0\.event: Missing/);
    expectCode(await track({ data: [{ event: 'Purchase', event_time: Date.now() }] }), 40002, /in seconds/);
    expectCode(await track({ data: [{ event: 'Purchase', event_time: now() - 30 * 86400 }] }), 40002, /older than/);
    expectCode(await track({ data: [{ ...ok, properties: { contents: [{ content_id: 1077218 }] } }] }), 40002, /^data\.0\.properties\.contents\.0\.content_id: Not a valid string/);
    expectCode(await track({ data: [{ ...ok, properties: { currency: 'usd' } }] }), 40002, /currency/);
    expectCode(await track({ event_source: 'offline', data: [{ ...ok, event: 'MyCustom' }] }), 40002, /standard events only/);
    expectCode(await track({ event_source: 'crm', data: [ok] }), 40002, /lead_id/);
  });
});

describe('report/integrated/get/', () => {
  const q = (over: Record<string, string>) =>
    raw(emu, 'GET', 'report/integrated/get/', {
      token,
      query: {
        advertiser_id: ADVERTISER,
        report_type: 'BASIC',
        data_level: 'AUCTION_CAMPAIGN',
        dimensions: '["campaign_id","stat_time_day"]',
        metrics: '["spend","impressions"]',
        start_date: '2026-11-01',
        end_date: '2026-11-02',
        ...over,
      },
    });
  it('returns string metrics per campaign and day, validates its fields', async () => {
    const r = await q({});
    expect(r.body.code).toBe(0);
    const list = r.body.data.list as Array<{ dimensions: Record<string, string>; metrics: Record<string, string> }>;
    expect(list).toHaveLength(6);
    expect(list[0]!.dimensions.stat_time_day).toBe('2026-11-01 00:00:00');
    expect(list[0]!.metrics.spend).toMatch(/^\d+\.\d{2}$/);
    expect((await q({})).body.data).toEqual(r.body.data);
    expectCode(await q({ report_type: 'AUDIENCE' }), 40002);
    expectCode(await q({ dimensions: '["adgroup_id"]' }), 40002);
    expectCode(await q({ metrics: '["bogus"]' }), 40002);
    expectCode(await q({ start_date: '2026/11/01' }), 40002, /YYYY-MM-DD/);
    expectCode(await q({ end_date: '2026-12-31' }), 40002, /30 days/);
  });
});
