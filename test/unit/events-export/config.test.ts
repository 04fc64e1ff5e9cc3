import { describe, expect, it } from 'vitest';
import { EventsConfigError, maxEventAgeMs, parseEventsConfig, parseEventsConfigJson, type EventsDestinationConfigInput } from '../../../src/events-export/config';

const web: EventsDestinationConfigInput = {
  destinationId: 'web-purchases',
  source: 'web',
  eventSourceId: 'A1T8T4UYGVIQA8ORZMX9',
  accessToken: 'env:TIKTOK_EVENTS_TOKEN',
  input: { kind: 'files' },
  event: { standard: 'Purchase' },
  eventTimeField: 'ts',
  identifiers: { email: 'email' },
};

function problems(input: unknown): { path: string; message: string }[] {
  try {
    parseEventsConfig(input, 'events.json');
  } catch (err) {
    expect(err).toBeInstanceOf(EventsConfigError);
    expect((err as Error).message).toContain('events.json');
    return (err as EventsConfigError).problems;
  }
  throw new Error('the config was accepted');
}

describe('events destination config', () => {
  it('accepts a web config and fills the defaults', () => {
    const c = parseEventsConfig(web);
    expect(c.eventTimeFormat).toBe('iso');
    expect(c.limitedDataUse).toBe(false);
    expect(maxEventAgeMs(c)).toBe(7 * 86_400_000);
  });

  it('checks the event_source_id against its source', () => {
    expect(problems({ ...web, eventSourceId: '1616318632825' })).toEqual([{ path: '$.eventSourceId', message: expect.stringContaining('pixel code') }]);
    expect(problems({ ...web, source: 'offline', eventSourceId: 'A1T8T4UYGVIQA8ORZMX9' })).toEqual([{ path: '$.eventSourceId', message: expect.stringContaining('offline event set id') }]);
    expect(problems({ ...web, source: 'app', eventSourceId: 'abc' })[0]?.path).toBe('$.eventSourceId');
    expect(problems({ ...web, eventSourceId: 1616318632825 })[0]).toEqual({ path: '$.eventSourceId', message: expect.stringContaining('quote it') });
    expect(parseEventsConfig({ ...web, source: 'offline', eventSourceId: '1616318632825' }).source).toBe('offline');
  });

  it('refuses a custom event name for offline, and a non-standard "standard" name', () => {
    expect(problems({ ...web, source: 'offline', eventSourceId: '1616318632825', event: { custom: 'VipEntered' } })).toEqual([
      { path: '$.event.custom', message: expect.stringContaining('standard events only') },
    ]);
    expect(problems({ ...web, event: { standard: 'Purchased' } })[0]?.path).toBe('$.event.standard');
    expect(problems({ ...web, event: 'Purchase' })[0]?.path).toBe('$.event');
  });

  it('needs lead_id for CRM and the time column for files', () => {
    expect(problems({ ...web, source: 'crm', eventSourceId: '7000000001' }).map((p) => p.path)).toEqual(['$.leadIdField']);
    const { eventTimeField: _t, ...noTime } = web;
    expect(problems(noTime).map((p) => p.path)).toEqual(['$.eventTimeField']);
  });

  it('validates the audience trigger input', () => {
    const trigger = { ...web, input: { kind: 'audienceTrigger', keyColumn: 'user_id', on: ['enter', 'enter'] } };
    expect(problems(trigger).map((p) => p.path)).toEqual(['$.input.on']);
    const ok = parseEventsConfig({ ...web, eventTimeField: undefined, input: { kind: 'audienceTrigger', keyColumn: 'user_id', on: ['exit'] } });
    expect(ok.input).toEqual({ kind: 'audienceTrigger', keyColumn: 'user_id', on: ['exit'], baseline: 'skip' });
    expect(problems({ ...web, input: { kind: 'stream' } })[0]?.path).toBe('$.input.kind');
  });

  it('limits the offline window to 28 days and names unknown keys', () => {
    const offline = { ...web, source: 'offline', eventSourceId: '1616318632825' };
    expect(maxEventAgeMs(parseEventsConfig(offline))).toBe(28 * 86_400_000);
    expect(problems({ ...offline, maxEventAge: '30d' })).toEqual([{ path: '$.maxEventAge', message: expect.stringContaining('28d') }]);
    expect(maxEventAgeMs(parseEventsConfig({ ...web, maxEventAge: '3d' }))).toBe(3 * 86_400_000);
    expect(problems({ ...web, identifiers: { emial: 'email' } })).toContainEqual({ path: '$.identifiers.emial', message: expect.stringContaining('not a known setting') });
    expect(problems({ ...web, accessToken: 'abcdef0123456789' })[0]?.path).toBe('$.accessToken');
  });

  it('refuses fields of another source and a column mapped twice', () => {
    expect(problems({ ...web, app: { appName: 'x' } }).map((p) => p.path)).toEqual(['$.app']);
    expect(problems({ ...web, identifiers: { email: 'id', external_id: 'id' } }).map((p) => p.path)).toEqual(['$.identifiers.external_id']);
    expect(problems({ ...web, identifiers: {} }).map((p) => p.path)).toEqual(['$.identifiers']);
  });

  it('names the line and column of a JSON syntax error', () => {
    try {
      parseEventsConfigJson('{\n  "destinationId": "x",\n  oops\n}', 'cfg/events.json');
      throw new Error('accepted');
    } catch (err) {
      expect((err as EventsConfigError).problems[0]?.path).toMatch(/^line 3 column \d+$/);
    }
  });
});
