import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseEventsConfig, type EventsDestinationConfigInput } from '../../../src/events-export/config';
import { runLayout } from '../../../src/events-export/layout';
import { deleteOldRuns, prepareRun, readBatch } from '../../../src/events-export/prepare';
import { sendRange, type SendDeps } from '../../../src/events-export/send';
import { LocalBlobStore, openBlob } from '../../../src/storage';
import { InvalidRequest, Throttled } from '../../../src/tiktok';
import type { TrackEventsRequest } from '../../../src/tiktok/types';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const dir = mkdtempSync(join(tmpdir(), 'ttsync-events-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NOW = Date.UTC(2026, 11, 3, 12);
const iso = (minAgo: number) => new Date(NOW - minAgo * 60_000).toISOString();

const config = (extra: Partial<EventsDestinationConfigInput> = {}) =>
  parseEventsConfig({
    destinationId: 'web-a',
    source: 'web',
    eventSourceId: 'A1T8T4UYGVIQA8ORZMX9',
    accessToken: 'env:T',
    input: { kind: 'files' },
    event: { standard: 'Purchase' },
    eventTimeField: 'ts',
    identifiers: { email: 'email' },
    properties: { value: 'value', currency: 'currency' },
    ...extra,
  });

function deps(work: LocalBlobStore) {
  return { work, openInput: (uri: string) => openBlob(uri), nowMs: () => NOW };
}

function csv(name: string, rows: string[]): string {
  const path = join(dir, name);
  writeFileSync(path, `ts,email,value,currency\n${rows.join('\n')}\n`);
  return path;
}

describe('prepare', () => {
  it('packs events into batches of 1,000 and rejects bad rows with row, field and reason', async () => {
    const rows = Array.from({ length: 2500 }, (_, i) => `${iso(10)},p${i}@example.com,${i}.5,EUR`);
    rows[7] = `${iso(10)},not-an-email,1,EUR`;
    rows[8] = `${iso(60 * 24 * 9)},old@example.com,1,EUR`;
    rows[9] = `${iso(10)},cur@example.com,1,EURO`;
    const work = new LocalBlobStore(join(dir, 'work1'));
    const m = await prepareRun({ config: config(), runId: 'web-a.000001', input: { uri: csv('a.csv', rows) }, detectedAtMs: NOW }, deps(work));
    expect(m).toMatchObject({ rows: 2500, events: 2497, batches: 3, rejected: { invalid_email: 1, event_too_old: 1, invalid_currency: 1 } });
    const layout = runLayout('web-a.000001');
    const b0 = await readBatch(work, layout, 0);
    const b2 = await readBatch(work, layout, 2);
    expect(b0).toHaveLength(1000);
    expect(b2).toHaveLength(497);
    expect(b0[0]).toMatchObject({ user: { email: [sha('p0@example.com')] }, properties: { value: 0.5, currency: 'EUR' } });
    const rejects = (await work.readBuffer(layout.rejectsKey)).toString();
    expect(rejects.split('\n')[0]).toBe('row,line,change,field,column,reason,detail,value');
    expect(rejects).toContain('8,9,,user.email,email,invalid_email,');
    expect(rejects).toContain('10,11,,properties.currency,currency,invalid_currency,');
    // Prepared once: a second call returns the same manifest without rebuilding.
    const again = await prepareRun({ config: config(), runId: 'web-a.000001', input: { uri: join(dir, 'gone.csv') }, detectedAtMs: NOW }, deps(work));
    expect(again).toEqual(m);
  });

  it('diffs snapshots: enters from the new rows, exits from the previous ones', async () => {
    const cfg = config({ event: { custom: 'VipChange' }, eventTimeField: undefined, properties: {}, input: { kind: 'audienceTrigger', keyColumn: 'id', on: ['enter', 'exit'] } });
    const snap = (name: string, rows: string[]) => {
      const path = join(dir, name);
      writeFileSync(path, `id,email\n${rows.join('\n')}\n`);
      return path;
    };
    const work = new LocalBlobStore(join(dir, 'work2'));
    const s1 = snap('s1.csv', ['1,one@x.io', '2,two@x.io', '3,three@x.io']);
    const first = await prepareRun({ config: cfg, runId: 'web-a.000001', input: { uri: s1 }, detectedAtMs: NOW - 1000 }, deps(work));
    expect(first).toMatchObject({ events: 0, changes: { enters: 3, exits: 0, baseline: true } });
    // The exporter rewrites the same object: the diff must use the copy.
    writeFileSync(s1, 'id,email\n2,two-new@x.io\n3,three@x.io\n4,four@x.io\n');
    const second = await prepareRun({ config: cfg, runId: 'web-a.000002', input: { uri: s1 }, previous: first.snapshotCopy!, detectedAtMs: NOW - 500 }, deps(work));
    expect(second).toMatchObject({ events: 2, changes: { enters: 1, exits: 1, baseline: false } });
    const events = await readBatch(work, runLayout('web-a.000002'), 0);
    expect(events.map((e) => e.user?.email)).toEqual([[sha('four@x.io')], [sha('one@x.io')]]);
    expect(events.every((e) => e.event === 'VipChange' && e.event_time === Math.floor((NOW - 500) / 1000))).toBe(true);
  });
});

describe('send', () => {
  async function prepared(name: string, n: number, bad: number[]) {
    const rows = Array.from({ length: n }, (_, i) => `${iso(5)},${bad.includes(i) ? 'bad' : 'ok'}${i}@example.com,1,USD`);
    const work = new LocalBlobStore(join(dir, name));
    const m = await prepareRun({ config: config(), runId: 'web-a.000001', input: { uri: csv(`${name}.csv`, rows) }, detectedAtMs: NOW }, deps(work));
    const badDigests = new Set(bad.map((i) => sha(`bad${i}@example.com`)));
    return { work, m, badDigests };
  }

  function fakeTikTok(badDigests: Set<string>, opts: { throttleFirst?: number } = {}) {
    const requests: TrackEventsRequest[] = [];
    let throttles = opts.throttleFirst ?? 0;
    const track: SendDeps['track'] = async (req) => {
      if (throttles-- > 0) throw new Throttled({ code: 40100, tiktokMessage: 'slow down', requestId: null, httpStatus: 200, endpoint: 'event/track/' });
      requests.push(req);
      const i = req.data.findIndex((e) => ((e.user?.email as string[] | undefined) ?? []).some((d) => badDigests.has(d)));
      if (i >= 0) throw new InvalidRequest({ code: 40002, tiktokMessage: `data.${i}.user.email: invalid`, requestId: 'r', httpStatus: 200, endpoint: 'event/track/' });
      return { partial: false, requestId: `rid-${requests.length}` };
    };
    return { track, requests };
  }

  it('splits a refused batch until the bad event stands alone, and sends the rest', async () => {
    const { work, badDigests } = await prepared('send1', 1000, [617]);
    const tt = fakeTikTok(badDigests);
    const totals = await sendRange({ runId: 'web-a.000001', from: 0, to: 1, eventSource: 'web', eventSourceId: 'A1T8T4UYGVIQA8ORZMX9' }, { work, track: tt.track, retries: () => 0, now: () => new Date(NOW) });
    expect(totals).toMatchObject({ batches: 1, sent: 999, rejected: 1, partialFailures: 1 });
    // Every good event reached TikTok exactly once in an accepted request.
    const accepted = tt.requests.filter((r) => !r.data.some((e) => (e.user?.email as string[]).some((d) => badDigests.has(d))));
    expect(accepted.reduce((n, r) => n + r.data.length, 0)).toBe(999);
    expect(totals.requests).toBe(tt.requests.length);
    const rejects = (await work.readBuffer(runLayout('web-a.000001').tiktokRejectsKey(0))).toString();
    expect(rejects.trim().split('\n')).toHaveLength(2);
    expect(rejects).toContain('0,617,');
  });

  it('skips batches the ledger has, so a resumed run resends nothing acknowledged', async () => {
    const { work, badDigests } = await prepared('send2', 2500, []);
    const range = { runId: 'web-a.000001', from: 0, to: 3, eventSource: 'web' as const, eventSourceId: 'A1T8T4UYGVIQA8ORZMX9' };
    const first = fakeTikTok(badDigests);
    let calls = 0;
    // The worker "dies" during the second batch's request.
    const dying: SendDeps['track'] = async (req) => {
      if (++calls === 2) throw new Error('worker killed');
      return first.track(req);
    };
    await expect(sendRange(range, { work, track: dying, retries: () => 0, now: () => new Date(NOW) })).rejects.toThrow('worker killed');
    const second = fakeTikTok(badDigests);
    const totals = await sendRange(range, { work, track: second.track, retries: () => 0, now: () => new Date(NOW) });
    expect(second.requests.map((r) => r.data.length)).toEqual([1000, 500]);
    expect(totals).toMatchObject({ batches: 3, skippedBatches: 1, sent: 2500, rejected: 0 });
  });

  it('lets throttling go up to the retry policy instead of splitting', async () => {
    const { work, badDigests } = await prepared('send3', 10, []);
    const tt = fakeTikTok(badDigests, { throttleFirst: 1 });
    await expect(sendRange({ runId: 'web-a.000001', from: 0, to: 1, eventSource: 'web', eventSourceId: 'A1T8T4UYGVIQA8ORZMX9' }, { work, track: tt.track, retries: () => 0, now: () => new Date(NOW) })).rejects.toBeInstanceOf(Throttled);
    expect(tt.requests).toHaveLength(0);
  });

  it('fails the run when TikTok refuses every event alone', async () => {
    const { work } = await prepared('send4', 20, []);
    const refuseAll: SendDeps['track'] = async () => {
      throw new InvalidRequest({ code: 40002, tiktokMessage: 'event_source_id: unknown', requestId: null, httpStatus: 200, endpoint: 'event/track/' });
    };
    await expect(sendRange({ runId: 'web-a.000001', from: 0, to: 1, eventSource: 'web', eventSourceId: 'A1T8T4UYGVIQA8ORZMX9' }, { work, track: refuseAll, retries: () => 0, now: () => new Date(NOW) })).rejects.toMatchObject({
      type: 'EventsRequestRejected',
    });
  });
});

describe('old runs', () => {
  it('deletes all run folders but the newest and the baseline, and never another destination', async () => {
    const work = new LocalBlobStore(join(dir, 'gc'));
    for (const run of ['web-a.000001', 'web-a.000002', 'web-a.000003', 'web-a.000004', 'web-a.000005', 'web-a-2.000001']) {
      await work.write(`events-runs/${run}/manifest.json`, '{}');
      await work.write(`events-runs/${run}/batches/000000.ndjson`, '{}\n');
    }
    expect(await deleteOldRuns(work, 'web-a', 2, ['web-a.000001'])).toEqual(['web-a.000002', 'web-a.000003']);
    const left: string[] = [];
    for await (const o of work.list('events-runs/')) left.push(o.key.split('/')[1]!);
    expect([...new Set(left)].sort()).toEqual(['web-a-2.000001', 'web-a.000001', 'web-a.000004', 'web-a.000005']);
  });
});
