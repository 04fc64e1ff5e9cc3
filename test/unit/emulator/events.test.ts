import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningEmulator } from '../../../src/emulator';
import { ADVERTISER, emulatorFor, raw } from '../../integration/tiktok/helpers';

/*
 * The emulator's event store as the events export relies on it: per-source tokens, TikTok's
 * dedup key and 48 h window, per-source inspection, faults aimed at /event/track/.
 */

const running: RunningEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});
async function start(opts: Parameters<typeof emulatorFor>[0] = {}) {
  const e = await emulatorFor(opts);
  running.push(e);
  return e;
}
const ctl = async <T>(emu: RunningEmulator, method: string, path: string, body?: unknown): Promise<T> => {
  const r = await fetch(`${emu.url}/_emulator/${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body) });
  return (await r.json()) as T;
};
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const event = (id: string, name = 'Purchase') => ({ event: name, event_time: Math.floor(Date.now() / 1000) - 60, event_id: id, user: { email: [sha(`${id}@x.io`)] } });
const track = (emu: RunningEmulator, token: string, sourceId: string, data: unknown[], source = 'web') =>
  raw(emu, 'POST', 'event/track/', { token, json: { event_source: source, event_source_id: sourceId, data } });

describe('emulated event store', () => {
  it("scopes an event source's own token to that source", async () => {
    const emu = await start();
    const { access_token } = await ctl<{ access_token: string }>(emu, 'POST', 'event-source-tokens', { event_source_id: '1616318632825', advertiser_id: ADVERTISER });
    expect((await track(emu, access_token, '1616318632825', [event('a')], 'offline')).body.code).toBe(0);
    const other = await track(emu, access_token, '1616318632826', [event('a')], 'offline');
    expect(other.body).toMatchObject({ code: 40001, message: expect.stringContaining('1616318632826') });
    expect((await raw(emu, 'GET', 'dmp/custom_audience/list/', { token: access_token, query: { advertiser_id: ADVERTISER } })).body.code).toBe(40001);
  });

  it('deduplicates (source, event_id, event) within the window, and counts per source', async () => {
    const emu = await start();
    const token = emu.control.issueToken([ADVERTISER]);
    await track(emu, token, 'PIXEL0000000000000001', [event('a'), event('b')]);
    await track(emu, token, 'PIXEL0000000000000001', [event('a'), event('a', 'AddToCart')]);
    await track(emu, token, 'PIXEL0000000000000002', [event('a')]);
    const bad = await track(emu, token, 'PIXEL0000000000000001', [event('c'), { ...event('d'), event_time: Date.now() }]);
    expect(bad.body.code).toBe(40002);
    const one = await ctl<{ received: number; deduplicated: number; rejected: number; rejectedRequests: number; events: Array<{ eventId: string; deduplicated: boolean }> }>(emu, 'GET', 'event-sources/PIXEL0000000000000001');
    expect(one).toMatchObject({ received: 4, deduplicated: 1, rejected: 2, rejectedRequests: 1, advertiser_id: ADVERTISER });
    expect(one.events.map((e) => [e.eventId, e.deduplicated])).toEqual([['a', false], ['b', false], ['a', true], ['a', false]]);
    const two = await ctl<{ received: number; deduplicated: number }>(emu, 'GET', 'event-sources/PIXEL0000000000000002');
    expect(two).toMatchObject({ received: 1, deduplicated: 0 });
  });

  it('counts an identical event again once the window has passed', async () => {
    const emu = await start({ eventDedupWindow: 0 });
    const token = emu.control.issueToken([ADVERTISER]);
    await track(emu, token, 'PIXEL0000000000000003', [event('a')]);
    await track(emu, token, 'PIXEL0000000000000003', [event('a')]);
    expect(await ctl(emu, 'GET', 'event-sources/PIXEL0000000000000003')).toMatchObject({ received: 2, deduplicated: 0 });
  });

  it('aims faults at the paths named', async () => {
    const emu = await start({ faults: { error: 1, paths: ['event/track/'] } });
    const token = emu.control.issueToken([ADVERTISER]);
    expect((await raw(emu, 'GET', 'user/info/', { token })).body.code).toBe(0);
    expect((await track(emu, token, 'PIXEL0000000000000004', [event('a')])).body.code).toBe(50000);
  });
});
