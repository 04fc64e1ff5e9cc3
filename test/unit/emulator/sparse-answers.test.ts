import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { RunningEmulator } from '../../../src/emulator';
import { AudienceGetDataSchema } from '../../../src/tiktok';
import { ADVERTISER, digests, emulatorFor, fileOf, raw, uploadForm } from '../../integration/tiktok/helpers';

const running: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

const HISTORY_FIELDS = ['opt_time', 'action', 'action_detail', 'editor', 'msg'];

/** An emulator with one audience (created, then renamed: two history entries); sparse answers as given. */
async function withAudience(sparseAnswers: boolean) {
  const emu = await emulatorFor({ minAudienceSize: 0, sparseAnswers: false });
  running.push(emu);
  const token = emu.control.issueToken([ADVERTISER]);
  const up = await raw(emu, 'POST', 'dmp/custom_audience/file/upload/', { token, form: uploadForm(ADVERTISER, fileOf(digests(20))) });
  const filePath = up.body.data.file_path as string;
  const created = await raw(emu, 'POST', 'dmp/custom_audience/create/', {
    token,
    json: { advertiser_id: ADVERTISER, custom_audience_name: 'sparse', calculate_type: 'EMAIL_SHA256', file_paths: [filePath] },
  });
  const audienceId = created.body.data.custom_audience_id as string;
  emu.control.finishProcessing(audienceId);
  await raw(emu, 'POST', 'dmp/custom_audience/update/', { token, json: { advertiser_id: ADVERTISER, custom_audience_id: audienceId, custom_audience_name: 'sparse 2' } });
  emu.control.setSparseAnswers(sparseAnswers);
  const get = () =>
    raw(emu, 'GET', 'dmp/custom_audience/get/', {
      token,
      query: { advertiser_id: ADVERTISER, custom_audience_ids: JSON.stringify([audienceId]), history_size: '10' },
    });
  return { emu, token, audienceId, get };
}

/** Every object in a JSON value, with its path. */
function objects(v: unknown, path = '(root)'): Array<[string, Record<string, unknown>]> {
  if (Array.isArray(v)) return v.flatMap((x, i) => objects(x, `${path}.${i}`));
  if (v === null || typeof v !== 'object') return [];
  const o = v as Record<string, unknown>;
  return [[path, o], ...Object.entries(o).flatMap(([k, x]) => (k === 'x_emulator_extra' ? [] : objects(x, `${path}.${k}`)))];
}

type GetBody = { list: Array<{ audience_details: Record<string, unknown>; audience_history: Array<Record<string, unknown>> }> };

describe('emulator sparse answers', () => {
  it('normally sends every history field; sparse, each is absent or null (both occur) and every object gains an unknown field', async () => {
    const normal = await withAudience(false);
    const full = (await normal.get()).body.data as unknown as GetBody;
    expect(full.list[0]!.audience_history).toHaveLength(2);
    for (const h of full.list[0]!.audience_history) expect(typeof h.opt_time).toBe('string');

    const sparse = await withAudience(true);
    const res = await sparse.get();
    expect(res.status).toBe(200);
    expect(res.body.code).toBe(0);
    expect(res.body.request_id).toMatch(/^\d{14}[0-9A-F]{10}$/);
    const data = res.body.data as unknown as GetBody;
    const entry = data.list[0]!;
    expect(entry.audience_details.audience_id).toBe(sparse.audienceId);
    expect(entry.audience_details.name).toBe('sparse 2');
    expect(entry.audience_details.is_valid).toBe(true);
    // cover_num is not among the always-sent fields: gone or null.
    expect(entry.audience_details.cover_num ?? null).toBeNull();
    expect(entry.audience_history).toHaveLength(2);
    let absent = 0;
    let nulls = 0;
    for (const h of entry.audience_history) {
      for (const f of HISTORY_FIELDS) {
        if (!(f in h)) absent++;
        else {
          expect(h[f]).toBeNull();
          nulls++;
        }
      }
    }
    expect(absent).toBeGreaterThan(0);
    expect(nulls).toBeGreaterThan(0);
    const all = objects(res.body);
    expect(all.length).toBeGreaterThan(4);
    for (const [path, o] of all) expect(o, path).toHaveProperty('x_emulator_extra');
  });

  it('bites: a schema requiring a history field ttsync never reads fails on a sparse answer; the client schema does not', async () => {
    const { get } = await withAudience(true);
    const data = (await get()).body.data;
    const overDemanding = z.looseObject({ list: z.array(z.looseObject({ audience_history: z.array(z.looseObject({ opt_time: z.string(), action: z.string() })) })) });
    const r = overDemanding.safeParse(data);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join('.'))).toContainEqual(expect.stringMatching(/^list\.0\.audience_history\.\d\.(opt_time|action)$/));
    const ours = AudienceGetDataSchema.safeParse(data);
    expect(ours.success).toBe(true);
  });

  it('is switched at run time through /_emulator/sparse-answers', async () => {
    const { emu, get } = await withAudience(false);
    const ctl = async (method: string, body?: unknown) => {
      const r = await fetch(`${emu.url}/_emulator/sparse-answers`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    expect(await ctl('GET')).toEqual({ status: 200, body: { enabled: false } });
    expect((await get()).body).not.toHaveProperty('x_emulator_extra');
    expect(await ctl('POST', { enabled: true })).toEqual({ status: 200, body: { enabled: true } });
    expect((await get()).body).toHaveProperty('x_emulator_extra');
    expect((await ctl('POST', { enabled: 'yes' })).status).toBe(400);
    expect(await ctl('POST', { enabled: false })).toEqual({ status: 200, body: { enabled: false } });
    expect((await get()).body).not.toHaveProperty('x_emulator_extra');
  });

  it('keeps the envelope of errors and adds the unknown field there too', async () => {
    const emu = await emulatorFor({ sparseAnswers: true });
    running.push(emu);
    const r = await raw(emu, 'GET', 'user/info/');
    expect(r.body).toMatchObject({ code: 40104, data: { x_emulator_extra: expect.any(Object) as unknown }, x_emulator_extra: expect.any(Object) as unknown });
    expect(r.body.message).toMatch(/Access token is null/);
  });
});
