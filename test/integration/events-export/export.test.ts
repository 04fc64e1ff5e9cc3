import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { EventsDestinationConfigInput } from '../../../src/events-export/config';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { requestEventsExport, waitForEventsRun } from '../../../src/events-export/client';
import { eventsExportStatusQuery, eventsPauseSignal, eventsReauthorizedSignal, eventsResumeSignal, inputLandedSignal, type EventsExportStatus } from '../../../src/events-export/messages';
import { useEventsHarness, type EmulatedEvent } from '../../helpers/eventsHarness';
import { decodedText } from '../../helpers/workflowHistory';

/*
 * Events export end to end: the eventsExport workflow on the test dev server, real workers
 * (control, data, TikTok + events queue), the TikTok emulator over HTTP, local storage.
 * Every expected digest and event_id is computed here with node:crypto from values
 * normalized by hand.
 */

const h = useEventsHarness({ name: 'events' });
const ADV = '7100000000000000001';
const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const pixel = () => randomBytes(10).toString('hex').toUpperCase();
const numericId = () => `16${String(randomBytes(5).readUIntBE(0, 5)).padStart(13, '0')}`;
let seq = 0;
const destId = (p: string) => `${p}-${Date.now().toString(36)}-${++seq}`;
const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The id of a file row: sha256 over each cell and a NUL, then over the prefix, the source and that digest. */
const fileEventId = (source: string, cells: string[]) => sha(`ttsync-event-id/v1\u0000file\u0000${source}\u0000${sha(cells.map((c) => `${c}\u0000`).join(''))}`).slice(0, 32);

/** Raw values and tokens that must never appear in workflow history. */
const secrets = new Set<string>();

function writeCsv(name: string, header: string[], rows: string[][]): string {
  const path = join(h.dir, name);
  writeFileSync(path, [header.join(','), ...rows.map((r) => r.join(','))].join('\n') + '\n');
  return pathToFileURL(path).href;
}

const byId = (events: EmulatedEvent[]) => [...events].sort((a, b) => String(a.eventId).localeCompare(String(b.eventId)));

describe('events export', () => {
  it('sends a web file: exact events, the bad rows in rejects with their reasons', { timeout: 180_000 }, async () => {
    const source = pixel();
    const token = await h.sourceToken(source, ADV, 'TTSYNC_TEST_WEB_TOKEN');
    secrets.add(token);
    const header = ['ts', 'email', 'phone', 'uid', 'value', 'currency', 'url', 'ip', 'ua'];
    const good = [
      [iso(HOUR), ' Jane.Doe+promo@Example.COM ', '(213) 373-4253', 'user_1', '46.50', 'usd', 'https://shop.example/a', '13.57.97.131', 'Mozilla/5.0'],
      [iso(2 * HOUR), 'bob@example.org', '+44 20 7946 0958', 'user_2', '10', 'EUR', 'https://shop.example/b', '', ''],
      [iso(3 * DAY), 'carol@example.net', '', 'user_3', '', '', '', '', ''],
    ];
    const bad = [
      [iso(HOUR), 'not-an-email', '', 'user_4', '1', 'USD', '', '', ''],
      [iso(8 * DAY), 'dave@example.com', '', 'user_5', '1', 'USD', '', '', ''],
      [iso(HOUR), 'erin@example.com', '', 'user_6', '1', 'DOLLARS', '', '', ''],
      [new Date(Date.now() + HOUR).toISOString(), 'frank@example.com', '', 'user_7', '1', 'USD', '', '', ''],
    ];
    for (const r of [...good, ...bad]) for (const v of [r[1]!, r[2]!, r[3]!]) if (v.trim()) secrets.add(v.trim());
    const uri = writeCsv('web.csv', header, [good[0]!, bad[0]!, good[1]!, bad[1]!, bad[2]!, good[2]!, bad[3]!]);
    const config: EventsDestinationConfigInput = {
      destinationId: destId('web'),
      source: 'web',
      eventSourceId: source,
      accessToken: 'env:TTSYNC_TEST_WEB_TOKEN',
      input: { kind: 'files' },
      event: { standard: 'Purchase' },
      eventTimeField: 'ts',
      identifiers: { email: 'email', phone: 'phone', external_id: 'uid' },
      properties: { value: 'value', currency: 'currency' },
      web: { pageUrlField: 'url', ipField: 'ip', userAgentField: 'ua' },
      defaultCountry: 'US',
    };
    const { status, ok } = await h.exportAndWait(config, { uri });
    expect(ok).toBe(true);
    expect(status.lastRun).toMatchObject({ rows: 7, events: 3, sent: 3, batches: 1, requests: 1, rejected: { invalid_email: 1, event_too_old: 1, invalid_currency: 1, event_in_future: 1 } });
    const sec = (t: string) => Math.floor(Date.parse(t) / 1000);
    const expected = [
      {
        event: 'Purchase',
        event_time: sec(good[0]![0]!),
        event_id: fileEventId(source, good[0]!),
        user: { email: [sha('jane.doe+promo@example.com')], phone: [sha('+12133734253')], external_id: [sha('user_1')], ip: '13.57.97.131', user_agent: 'Mozilla/5.0' },
        properties: { value: 46.5, currency: 'USD' },
        page: { url: 'https://shop.example/a' },
      },
      {
        event: 'Purchase',
        event_time: sec(good[1]![0]!),
        event_id: fileEventId(source, good[1]!),
        user: { email: [sha('bob@example.org')], phone: [sha('+442079460958')], external_id: [sha('user_2')] },
        properties: { value: 10, currency: 'EUR' },
        page: { url: 'https://shop.example/b' },
      },
      { event: 'Purchase', event_time: sec(good[2]![0]!), event_id: fileEventId(source, good[2]!), user: { email: [sha('carol@example.net')], external_id: [sha('user_3')] } },
    ];
    const inspected = await h.source(source);
    expect(inspected).toMatchObject({ received: 3, deduplicated: 0, rejected: 0, advertiser_id: ADV });
    expect(byId(inspected.events).map((e) => e.payload)).toEqual([...expected].sort((a, b) => a.event_id.localeCompare(b.event_id)));
    expect(inspected.events.every((e) => e.eventSource === 'web' && e.testEventCode === null)).toBe(true);

    const rejects = readFileSync(fileURLToPath(status.lastRun!.rejectsUris[0]!), 'utf8').trim().split('\n');
    expect(rejects[0]).toBe('row,line,change,field,column,reason,detail,value');
    expect(rejects.slice(1).map((l) => l.split(',').slice(0, 6).join(','))).toEqual([
      '2,3,,user.email,email,invalid_email',
      '4,5,,event_time,ts,event_too_old',
      '5,6,,properties.currency,currency,invalid_currency',
      '7,8,,event_time,ts,event_in_future',
    ]);

    // The same file again: same event_ids, so TikTok counts each event once.
    const again = await h.exportAndWait(config, { uri });
    expect(again.status.lastRun).toMatchObject({ sent: 3 });
    const after = await h.source(source);
    expect(after).toMatchObject({ received: 6, deduplicated: 3 });
  });

  it('sends an app NDJSON file with the app fields and the test event code', async () => {
    const appId = `71${numericId()}`;
    secrets.add(await h.sourceToken(appId, ADV, 'TTSYNC_TEST_APP_TOKEN'));
    const rows = [
      { at: Date.now() - 60_000, idfa: '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25', uid: 'player-9', ver: '3.2.1', name: 'Purchase' },
      { at: Date.now() - 120_000, idfa: '00000000-0000-0000-0000-000000000000', uid: 'player-10', ver: '3.2.1', name: 'Purchase' },
      { at: Date.now() - 180_000, gaid: 'ab12cd34-ef56-7890-ab12-cd34ef567890', uid: 'player-11', ver: '3.2.0', name: 'Login' },
    ];
    for (const r of rows) secrets.add(r.uid);
    const path = join(h.dir, 'app.ndjson');
    const lines = rows.map((r) => JSON.stringify(r));
    writeFileSync(path, lines.join('\n') + '\n');
    const config: EventsDestinationConfigInput = {
      destinationId: destId('app'),
      source: 'app',
      eventSourceId: appId,
      accessToken: 'env:TTSYNC_TEST_APP_TOKEN',
      input: { kind: 'files' },
      event: { field: 'name' },
      eventTimeField: 'at',
      eventTimeFormat: 'unix_ms',
      identifiers: { idfa: 'idfa', gaid: 'gaid', external_id: 'uid' },
      app: { appName: 'Shop', appVersionField: 'ver' },
      testEventCode: 'TEST4242',
    };
    const { status } = await h.exportAndWait(config, { uri: pathToFileURL(path).href });
    expect(status.lastRun).toMatchObject({ sent: 2, rejected: { zeroed_maid: 1 } });
    const id = (line: string) => sha(`ttsync-event-id/v1\u0000file\u0000${appId}\u0000${sha(line)}`).slice(0, 32);
    const inspected = await h.source(appId);
    expect(byId(inspected.events).map((e) => e.payload)).toEqual(
      [
        {
          event: 'Purchase',
          event_time: Math.floor(rows[0]!.at / 1000),
          event_id: id(lines[0]!),
          user: { external_id: [sha('player-9')], idfa: sha('5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25') },
          app: { app_id: appId, app_name: 'Shop', app_version: '3.2.1' },
        },
        {
          event: 'Login',
          event_time: Math.floor(rows[2]!.at / 1000),
          event_id: id(lines[2]!),
          user: { external_id: [sha('player-11')], gaid: sha('ab12cd34-ef56-7890-ab12-cd34ef567890') },
          app: { app_id: appId, app_name: 'Shop', app_version: '3.2.0' },
        },
      ].sort((a, b) => a.event_id.localeCompare(b.event_id)),
    );
    expect(inspected.events.every((e) => e.eventSource === 'app' && e.testEventCode === 'TEST4242')).toBe(true);
  });

  it("sends an offline file with its event set's own token, which works for no other source", { timeout: 120_000 }, async () => {
    const set = numericId();
    const token = await h.sourceToken(set, ADV, 'TTSYNC_TEST_OFFLINE_TOKEN');
    secrets.add(token);
    const rows = [[iso(20 * DAY), 'store-buyer@example.com', '2133734253', 'o-1', '99.90', 'usd']];
    secrets.add('store-buyer@example.com');
    const uri = writeCsv('offline.csv', ['when', 'email', 'phone', 'order', 'total', 'cur'], rows);
    const config: EventsDestinationConfigInput = {
      destinationId: destId('offline'),
      source: 'offline',
      eventSourceId: set,
      accessToken: 'env:TTSYNC_TEST_OFFLINE_TOKEN',
      input: { kind: 'files' },
      event: { standard: 'Purchase' },
      eventTimeField: 'when',
      identifiers: { email: 'email', phone: 'phone' },
      properties: { order_id: 'order', value: 'total', currency: 'cur' },
      defaultCountry: 'US',
    };
    const { status } = await h.exportAndWait(config, { uri });
    expect(status.lastRun).toMatchObject({ sent: 1, rejected: {} });
    const inspected = await h.source(set);
    expect(inspected.events.map((e) => [e.eventSource, e.payload])).toEqual([
      [
        'offline',
        {
          event: 'Purchase',
          event_time: Math.floor(Date.parse(rows[0]![0]!) / 1000),
          event_id: fileEventId(set, rows[0]!),
          user: { email: [sha('store-buyer@example.com')], phone: [sha('+12133734253')] },
          properties: { value: 99.9, currency: 'USD', order_id: 'o-1' },
        },
      ],
    ]);
    // The offline token cannot send to a pixel: the run stops with PermissionDenied and sends nothing.
    const other = pixel();
    const recent = writeCsv('offline-recent.csv', ['when', 'email', 'phone', 'order', 'total', 'cur'], [[iso(HOUR), 'store-buyer@example.com', '', 'o-2', '5', 'USD']]);
    const refused = await h.exportAndWait({ ...config, destinationId: destId('offline-wrong'), source: 'web', eventSourceId: other, event: { standard: 'Purchase' } }, { uri: recent });
    expect(refused.ok).toBe(false);
    expect(refused.status.lastError).toMatchObject({ phase: 'sending', type: 'PermissionDenied' });
    expect((await h.source(other)).received).toBe(0);
  });

  it('turns audience enters and exits into events, the exit built from the previous snapshot', { timeout: 120_000 }, async () => {
    const source = pixel();
    secrets.add(await h.sourceToken(source, ADV, 'TTSYNC_TEST_TRIGGER_TOKEN'));
    const path = join(h.dir, 'vip.csv');
    const s1 = 'id,email\nk1,one@x.io\nk2,two@x.io\nk3,three@x.io\n';
    // k2 leaves (its exit uses two@x.io from s1), k4 enters; k3 changed email but stayed.
    const s2 = 'id,email\nk1,one@x.io\nk3,three-new@x.io\nk4,four@x.io\n';
    for (const e of ['one@x.io', 'two@x.io', 'three@x.io', 'three-new@x.io', 'four@x.io']) secrets.add(e);
    const config: EventsDestinationConfigInput = {
      destinationId: destId('vip'),
      source: 'web',
      eventSourceId: source,
      accessToken: 'env:TTSYNC_TEST_TRIGGER_TOKEN',
      input: { kind: 'audienceTrigger', keyColumn: 'id', on: ['enter', 'exit'] },
      event: { custom: 'VipChanged' },
      identifiers: { email: 'email' },
    };
    writeFileSync(path, s1);
    const first = await h.exportAndWait(config, { uri: pathToFileURL(path).href });
    expect(first.status.lastRun).toMatchObject({ events: 0, sent: 0, changes: { enters: 3, exits: 0, baseline: true } });
    // The exporter rewrites the same object in place.
    writeFileSync(path, s2);
    const before = Date.now();
    const second = await h.exportAndWait(config, { uri: pathToFileURL(path).href });
    expect(second.status.lastRun).toMatchObject({ events: 2, sent: 2, changes: { enters: 1, exits: 1, baseline: false } });
    const changeId = (key: string, change: string) =>
      sha(`ttsync-event-id/v1\u0000change\u0000${source}\u0000${md5(Buffer.from(s1))}\u0000${md5(Buffer.from(s2))}\u0000${change}\u0000${key}`).slice(0, 32);
    const inspected = await h.source(source);
    const payloads = inspected.events.map((e) => e.payload as { event_id: string; user: unknown; event: string; event_time: number });
    expect(payloads.map((p) => [p.event, p.event_id, p.user]).sort()).toEqual(
      [
        ['VipChanged', changeId('k4', 'enter'), { email: [sha('four@x.io')] }],
        ['VipChanged', changeId('k2', 'exit'), { email: [sha('two@x.io')] }],
      ].sort(),
    );
    // No time column: the time the change was found.
    for (const p of payloads) expect(p.event_time).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
  });

  it('splits a batch TikTok refuses for one event: only that event is rejected', async () => {
    const source = pixel();
    secrets.add(await h.sourceToken(source, ADV, 'TTSYNC_TEST_SPLIT_TOKEN'));
    // Our window is 10d (configurable, UNCONFIRMED for web); the emulator's TikTok accepts 7d.
    const rows = Array.from({ length: 50 }, (_, i) => [iso(i === 37 ? 9 * DAY : HOUR), `split${i}@example.com`]);
    const uri = writeCsv('split.csv', ['ts', 'email'], rows);
    const config: EventsDestinationConfigInput = {
      destinationId: destId('split'),
      source: 'web',
      eventSourceId: source,
      accessToken: 'env:TTSYNC_TEST_SPLIT_TOKEN',
      input: { kind: 'files' },
      event: { standard: 'ViewContent' },
      eventTimeField: 'ts',
      identifiers: { email: 'email' },
      maxEventAge: '10d',
    };
    const { status } = await h.exportAndWait(config, { uri });
    expect(status.lastRun).toMatchObject({ events: 50, sent: 49, rejected: { rejected_by_tiktok: 1 }, partialFailures: 1, batches: 1 });
    expect(status.lastRun!.requests).toBeGreaterThan(2);
    const inspected = await h.source(source);
    expect(inspected.received).toBe(49);
    expect(new Set(inspected.events.map((e) => e.eventId)).size).toBe(49);
    expect(inspected.events.map((e) => e.eventId)).not.toContain(fileEventId(source, rows[37]!));
    const tiktokRejects = readFileSync(fileURLToPath(status.lastRun!.rejectsUris[0]!), 'utf8');
    expect(tiktokRejects).toContain(`,37,${fileEventId(source, rows[37]!)},ViewContent,rejected_by_tiktok,`);
  });

  it('converges under injected throttling, 5xx and dropped connections with nothing lost', { timeout: 240_000 }, async () => {
    const source = pixel();
    secrets.add(await h.sourceToken(source, ADV, 'TTSYNC_TEST_FAULT_TOKEN'));
    const n = 4500;
    const rows = Array.from({ length: n }, (_, i) => [iso(HOUR), `f${i}@example.com`]);
    const uri = writeCsv('faults.csv', ['ts', 'email'], rows);
    await h.control('POST', 'faults', { throttle: 0.15, error: 0.1, http503: 0.05, drop: 0.05, seed: 7, paths: ['event/track/'] });
    try {
      const { status } = await h.exportAndWait(
        { destinationId: destId('faults'), source: 'web', eventSourceId: source, accessToken: 'env:TTSYNC_TEST_FAULT_TOKEN', input: { kind: 'files' }, event: { standard: 'Search' }, eventTimeField: 'ts', identifiers: { email: 'email' } },
        { uri },
        180_000,
      );
      expect(status.lastRun).toMatchObject({ sent: n, batches: 5, rejected: {} });
      expect(status.lastRun!.retries).toBeGreaterThan(0);
    } finally {
      await h.control('POST', 'faults', { throttle: 0, error: 0, http503: 0, drop: 0 });
    }
    const inspected = await h.source(source);
    const ids = new Set(inspected.events.filter((e) => !e.deduplicated).map((e) => e.eventId));
    expect(ids.size).toBe(n);
    expect(ids).toEqual(new Set(rows.map((r) => fileEventId(source, r))));
  });

  it('parks without a token until reauthorized, holds runs while paused, and checks its id and config', { timeout: 120_000 }, async () => {
    const source = pixel();
    const envVar = 'TTSYNC_TEST_REAUTH_TOKEN';
    delete process.env[envVar];
    const uri = writeCsv('reauth.csv', ['ts', 'email'], [[iso(HOUR), 'reauth@example.com']]);
    secrets.add('reauth@example.com');
    const config: EventsDestinationConfigInput = {
      destinationId: destId('reauth'),
      source: 'web',
      eventSourceId: source,
      accessToken: `env:${envVar}`,
      input: { kind: 'files' },
      event: { standard: 'Contact' },
      eventTimeField: 'ts',
      identifiers: { email: 'email' },
    };
    const req = await requestEventsExport(h.client, { config, input: { uri }, taskQueue: h.taskQueue, queues: h.queues, timing: { cadence: '1h', heartbeatTimeout: '30s' } });
    const id = WorkflowIds.eventsExport(config.destinationId);
    h.started.push(id);
    const handle = h.client.workflow.getHandle(id);
    const statusOf = () => handle.query(eventsExportStatusQuery);
    const until = async (ok: (s: EventsExportStatus) => boolean) => {
      for (let i = 0; ; i++) {
        const s = await statusOf();
        if (ok(s)) return s;
        if (i > 400) throw new Error(`status never matched: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 150));
      }
    };
    const parked = await until((s) => s.phase === 'reauthorization_required');
    expect(parked.lastError?.type).toBe('SecretUnavailable');
    expect(parked.advice).toContain('ttsync events reauthorized');
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ Lifecycle: ['events_export'], SyncState: ['reauthorization_required'], DestinationId: [config.destinationId] });
    secrets.add(await h.sourceToken(source, ADV, envVar));
    await handle.signal(eventsReauthorizedSignal);
    const done = await waitForEventsRun(h.client, config.destinationId, req.requestId, { timeoutMs: 60_000, pollMs: 150 });
    expect(done.status.lastRun).toMatchObject({ sent: 1 });
    // The park and its end went to the notices outbox, keyed by destination, state and run.
    const entered = await h.outbox().get(`events-export:${config.destinationId}:reauthorization_required:entered:1`);
    expect(entered).toMatchObject({ subject: `ttsync events export ${config.destinationId}: reauthorization_required`, metadata: { lifecycle: 'events_export', subjectId: config.destinationId, event: 'entered', workflowId: id } });
    expect(entered!.text).toContain('ttsync events reauthorized');
    expect(await h.outbox().get(`events-export:${config.destinationId}:reauthorization_required:cleared:1`)).toMatchObject({ metadata: { event: 'cleared' } });
    expect(done.status.alerting ?? null).toBeNull();

    // Paused: a landing file waits; resume runs it.
    await handle.signal(eventsPauseSignal);
    await handle.signal(inputLandedSignal, { input: { uri }, requestId: 'after-pause' });
    const held = await until((s) => s.paused && s.queued.length === 1);
    expect(held.runs).toBe(1);
    expect((await handle.describe()).searchAttributes.SyncState).toEqual(['paused']);
    await handle.signal(eventsResumeSignal);
    const resumed = await waitForEventsRun(h.client, config.destinationId, 'after-pause', { timeoutMs: 60_000, pollMs: 150 });
    expect(resumed.status).toMatchObject({ runs: 2, paused: false, phase: 'exported' });

    // Another id, or a config the schema refuses: failed before any activity.
    const wrong = await h.client.workflow.start('eventsExport', { taskQueue: h.taskQueue, workflowId: `not-${id}`, args: [{ config }] });
    await expect(wrong.result()).rejects.toMatchObject({ cause: { type: 'WrongWorkflowId' } });
    const badId = destId('bad-cfg');
    const invalid = await h.client.workflow.start('eventsExport', { taskQueue: h.taskQueue, workflowId: WorkflowIds.eventsExport(badId), args: [{ config: { ...config, destinationId: badId, eventSourceId: '123' } }] });
    await expect(invalid.result()).rejects.toMatchObject({ cause: { type: 'InvalidConfig', message: expect.stringContaining('$.eventSourceId') } });
  });

  it('keeps raw identifiers, event payloads and tokens out of every history (and the check finds a planted one)', { timeout: 120_000 }, async () => {
    const check = async (workflowId: string, needles: Iterable<string>) => {
      const list = [...needles];
      // Every run of the workflow (each run continues as new), closed ones included.
      for await (const w of h.client.workflow.list({ query: `WorkflowId="${workflowId}"` })) {
        const text = decodedText(await h.client.workflow.getHandle(workflowId, w.runId).fetchHistory());
        for (const s of list) if (text.includes(s)) throw new Error(`history of ${workflowId} contains a raw value or token`);
        for (const s of list) if (text.includes(sha(s.toLowerCase())) || text.includes(sha(s))) throw new Error(`history of ${workflowId} contains an event digest`);
      }
    };
    expect(h.started.length).toBeGreaterThanOrEqual(6);
    for (const id of h.started) await check(id, secrets);

    // Planted: a URI that carries an email is in the history, and the check must say so.
    const planted = 'planted.person@example.com';
    const cfg: EventsDestinationConfigInput = {
      destinationId: destId('planted'),
      source: 'web',
      eventSourceId: pixel(),
      accessToken: 'env:TTSYNC_TEST_WEB_TOKEN',
      input: { kind: 'files' },
      event: { standard: 'Purchase' },
      eventTimeField: 'ts',
      identifiers: { email: 'email' },
    };
    const r = await h.exportAndWait(cfg, { uri: pathToFileURL(join(h.dir, `${planted}.csv`)).href });
    expect(r.ok).toBe(false);
    await expect(check(WorkflowIds.eventsExport(cfg.destinationId), [planted])).rejects.toThrow('contains a raw value');
  });
});
