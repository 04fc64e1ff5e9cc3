import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { EventBuilder, parseEventTime, type RowOrigin } from '../../../src/events-export/buildEvent';
import { parseEventsConfig, type EventsDestinationConfigInput } from '../../../src/events-export/config';

// Expected digests are computed here with node:crypto from values normalized by hand.
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const NOW = Date.UTC(2026, 11, 3, 12, 0, 0);
const clock = { nowMs: NOW };
const file = (digest = 'd'.repeat(64)): RowOrigin => ({ kind: 'file', rowDigest: digest });

const base: EventsDestinationConfigInput = {
  destinationId: 'web-purchases',
  source: 'web',
  eventSourceId: 'A1T8T4UYGVIQA8ORZMX9',
  accessToken: 'env:T',
  input: { kind: 'files' },
  event: { standard: 'Purchase' },
  eventTimeField: 'ts',
  identifiers: { email: 'email', phone: 'phone', external_id: 'uid' },
  properties: { value: 'total', currency: 'cur', content_ids: 'skus', order_id: 'order' },
  web: { pageUrlField: 'url', ipField: 'ip', userAgentField: 'ua', ttclidField: 'ttclid' },
  defaultCountry: 'US',
};
const builder = (extra: Partial<EventsDestinationConfigInput> = {}) => new EventBuilder(parseEventsConfig({ ...base, ...extra }));

describe('EventBuilder', () => {
  it('builds a web event value by value', () => {
    const r = builder().build(
      {
        ts: '2026-12-03T11:00:00Z',
        email: ' Jane.Doe+promo@Example.COM ',
        phone: '(213) 373-4253',
        uid: 'user_123',
        total: '46.50',
        cur: 'usd',
        skus: 'a1;b2',
        order: 'o-1',
        url: 'https://shop.example/checkout',
        ip: '13.57.97.131',
        ua: 'Mozilla/5.0',
        ttclid: 'E.C.P.abc',
      },
      file('ab'.repeat(32)),
      clock,
    );
    const expectedId = sha(`ttsync-event-id/v1\u0000file\u0000A1T8T4UYGVIQA8ORZMX9\u0000${'ab'.repeat(32)}`).slice(0, 32);
    expect(r).toEqual({
      event: {
        event: 'Purchase',
        event_time: Date.UTC(2026, 11, 3, 11, 0, 0) / 1000,
        event_id: expectedId,
        user: {
          // events context: the +suffix stays, dots stay, lowercased
          email: [sha('jane.doe+promo@example.com')],
          // events context: E.164 WITH the "+"
          phone: [sha('+12133734253')],
          external_id: [sha('user_123')],
          ttclid: 'E.C.P.abc',
          ip: '13.57.97.131',
          user_agent: 'Mozilla/5.0',
        },
        properties: { value: 46.5, currency: 'USD', content_ids: ['a1', 'b2'], order_id: 'o-1' },
        page: { url: 'https://shop.example/checkout' },
      },
    });
  });

  it("hashes TikTok's own worked examples to TikTok's digests", () => {
    const r = builder().build({ ts: '2026-12-03T11:00:00Z', email: ' ALICE_abc@gmail.com ', phone: '(+1)2133734253' }, file(), clock);
    expect('event' in r && r.event.user).toMatchObject({
      email: ['848a771458438fc2ec420560d769fb9b9b86851ee338ec56517baabd79d3bb4f'],
      phone: ['9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd'],
    });
  });

  it('passes digests through and sends app fields for app sources', () => {
    const b = builder({
      source: 'app',
      eventSourceId: '7123456789012345678',
      event: { standard: 'InstallApp' },
      web: undefined,
      identifiers: { idfa: 'idfa', email: 'email' },
      properties: {},
      app: { appName: 'Shop', appVersionField: 'ver' },
      eventTimeFormat: 'unix_ms',
    });
    const digest = sha('x@y.io');
    const r = b.build({ ts: String(NOW - 5000), idfa: '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25', email: digest.toUpperCase(), ver: '2.1' }, file(), clock);
    expect(r).toMatchObject({
      event: {
        event: 'InstallApp',
        event_time: Math.floor((NOW - 5000) / 1000),
        user: { idfa: '83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd', email: [digest] },
        app: { app_id: '7123456789012345678', app_name: 'Shop', app_version: '2.1' },
      },
    });
  });

  it('rejects with the field and the reason', () => {
    const b = builder();
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ ts: '2026-11-20T00:00:00Z', email: 'a@b.co' }, 'event_time', 'event_too_old'],
      [{ ts: '2026-12-03T12:05:00Z', email: 'a@b.co' }, 'event_time', 'event_in_future'],
      [{ ts: '2026-12-03 11:00', email: 'a@b.co' }, 'event_time', 'invalid_event_time'],
      [{ ts: '', email: 'a@b.co' }, 'event_time', 'missing_event_time'],
      [{ ts: '2026-12-03T11:00:00Z', email: 'not-an-email' }, 'user.email', 'invalid_email'],
      [{ ts: '2026-12-03T11:00:00Z', email: 'a@b.co', phone: '12' }, 'user.phone', 'invalid_phone'],
      [{ ts: '2026-12-03T11:00:00Z', email: 'a@b.co', cur: 'XYZ1' }, 'properties.currency', 'invalid_currency'],
      [{ ts: '2026-12-03T11:00:00Z', email: 'a@b.co', cur: 'ABC' }, 'properties.currency', 'invalid_currency'],
      [{ ts: '2026-12-03T11:00:00Z', email: 'a@b.co', total: '$12' }, 'properties.value', 'invalid_value'],
      [{ ts: '2026-12-03T11:00:00Z' }, 'user', 'no_match_key'],
    ];
    for (const [cells, field, reason] of cases) {
      const r = b.build(cells, file(), clock);
      expect('reject' in r ? { field: r.reject.field, reason: r.reject.reason } : r, JSON.stringify(cells)).toEqual({ field, reason });
    }
  });

  it('keeps the window at 28 days for offline and refuses non-standard names from a field', () => {
    const b = builder({ source: 'offline', eventSourceId: '1616318632825', web: undefined, event: { field: 'name' } });
    const twentyDays = new Date(NOW - 20 * 86_400_000).toISOString();
    expect('event' in b.build({ ts: twentyDays, email: 'a@b.co', name: 'Purchase' }, file(), clock)).toBe(true);
    const r = b.build({ ts: twentyDays, email: 'a@b.co', name: 'VipEntered' }, file(), clock);
    expect('reject' in r && r.reject.reason).toBe('invalid_event_name');
  });

  it('gives a change its own deterministic id and the detection time when the row has none', () => {
    const b = builder({ event: { custom: 'VipEntered' }, input: { kind: 'audienceTrigger', keyColumn: 'uid', on: ['enter', 'exit'] } });
    const origin = (change: 'enter' | 'exit', prev: string): RowOrigin => ({ kind: 'change', change, key: 'k1', previousDigest: prev, currentDigest: 'c2', detectedAtMs: NOW - 1500 });
    const r1 = b.build({ uid: 'k1', email: 'a@b.co' }, origin('enter', 'c1'), clock);
    const r2 = b.build({ uid: 'k1', email: 'a@b.co' }, origin('enter', 'c1'), clock);
    const r3 = b.build({ uid: 'k1', email: 'a@b.co' }, origin('exit', 'c1'), clock);
    const r4 = b.build({ uid: 'k1', email: 'a@b.co' }, origin('enter', 'c0'), clock);
    const id = (r: ReturnType<EventBuilder['build']>) => ('event' in r ? r.event.event_id : null);
    expect(id(r1)).toBe(sha('ttsync-event-id/v1\u0000change\u0000A1T8T4UYGVIQA8ORZMX9\u0000c1\u0000c2\u0000enter\u0000k1').slice(0, 32));
    expect(id(r2)).toBe(id(r1));
    expect(id(r3)).not.toBe(id(r1));
    expect(id(r4)).not.toBe(id(r1));
    expect('event' in r1 && r1.event.event_time).toBe(Math.floor((NOW - 1500) / 1000));
  });

  it('takes event_id from a column when configured', () => {
    const r = builder({ eventIdField: 'eid' }).build({ ts: '2026-12-03T11:00:00Z', email: 'a@b.co', eid: 'order-77' }, file(), clock);
    expect('event' in r && r.event.event_id).toBe('order-77');
  });

  it('reads the three time formats to whole seconds', () => {
    expect(parseEventTime('2026-12-03T11:00:00.900Z', 'iso')).toBe(Date.UTC(2026, 11, 3, 11, 0, 0, 900));
    expect(parseEventTime('2026-12-03T12:00:00+01:00', 'iso')).toBe(Date.UTC(2026, 11, 3, 11));
    expect(parseEventTime('1764759600', 'unix_s')).toBe(1764759600000);
    expect(parseEventTime(1764759600123, 'unix_ms')).toBe(1764759600123);
    expect(parseEventTime('soon', 'unix_s')).toBeNull();
  });
});
