import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUsageReportActivities } from '../../../activities/usage-report/report';
import { startUsageReport } from '../../../src/usage-report/client';
import { usageReportStatusQuery } from '../../../src/usage-report/messages';
import { compileFixture, spawnFixture, type ChildProcessLines } from '../../helpers/childWorker';
import { startEmulator, type RunningEmulator } from '../../../src/emulator';
import { createNoticeService } from '../../../src/notices';
import { loadUsageAdvertisers } from '../../../src/usage-report/advertisers';
import type { UsageAdvertiser } from '../../../src/usage-report/messages';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { cliAgainstTestServer } from '../../helpers/cli';
import { headerOf, startMailpit, type Mailpit } from '../../helpers/mailpit';
import { testClient, testEnv, testTemporal, uniqueId } from '../../helpers/temporal';
import { costCents, daysOf, money, seededDay } from '../../helpers/usageExpected';

/*
 * The monthly Data Marketplace usage report end to end: real dev server and workers, the
 * emulator over HTTP, Mailpit. October 2026 of one advertiser with two 3PD segments and three
 * ad groups (one targeting both segments, one switching segment on the 15th, one targeting
 * one segment and excluding the other); daily targeting records for every day. Each CSV line
 * is checked against what this file computes from the emulator's documented seed.
 */

const ADV = '7000000000000000042';
const AUD_A = '7100000000000000101';
const AUD_B = '7100000000000000102';
const MONTH = '2026-10';
const UI = 'http://ui.example:8233';

let dir: string;
let emu: RunningEmulator;
let mailpit: Mailpit;
let workers: RunningWorkers;
let connection: NativeConnection;
let client: Client;
let token: string;
let advertiser: UsageAdvertiser;
const queues = { control: uniqueId('usage-control'), tiktok: uniqueId('usage-tiktok') };
const tiktokEnv = () => ({ TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_MAX_ATTEMPTS: 12, TIKTOK_TIMEOUT_MS: 10_000 });

const control = async <T = unknown>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
  const res = await fetch(`${emu.url}/_emulator/${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
};

const destination = (id: string, audienceId: string, dm: Record<string, unknown>) => ({
  destinationId: id,
  advertiserId: ADV,
  audienceName: `3PD ${id} audience`,
  action: 'append',
  audienceId,
  identifiers: { email: 'email', phone: 'phone' },
  accessToken: 'env:TTSYNC_TEST_USAGE_TOKEN',
  sourceSegmentId: `${id}-segment`,
  dataMarketplace: { dataUsageReporting: 'I Agree', paymentModel: 'I Agree', paymentRequirement: 'I Agree', currency: 'USD', ...dm },
});

/** Who targets what on a day of October (the test's own plan of the seeded ad groups). */
const G1 = '8800000000000000011';
const G2 = '8800000000000000012';
const G3 = '8800000000000000013';
function targetingOn(day: string): Record<string, string[]> {
  const switched = day >= '2026-10-15';
  return { [G1]: [AUD_A, AUD_B], [G2]: switched ? [AUD_B] : [AUD_A], [G3]: [AUD_A] };
}
const seedAdgroups = (g2: string[]) =>
  control('POST', 'adgroups', {
    advertiser_id: ADV,
    adgroups: [
      { campaign_id: '8800000000000000001', campaign_name: 'Autumn launch', adgroup_id: G1, adgroup_name: 'Both segments', audience_ids: [AUD_A, AUD_B] },
      { campaign_id: '8800000000000000001', adgroup_id: G2, adgroup_name: 'Switches on the 15th', audience_ids: g2 },
      { campaign_id: '8800000000000000002', campaign_name: 'Retargeting', adgroup_id: G3, adgroup_name: 'A not B', audience_ids: [AUD_A], excluded_audience_ids: [AUD_B] },
    ],
  });

const SEGMENTS = {
  [AUD_A]: { provider: 'acme-data', segment: 'auto-intenders', destination: 'acme-auto', price: '12.5' },
  [AUD_B]: { provider: 'globex', segment: 'new-movers', destination: 'globex-movers', price: '7.25' },
};
const NAMES: Record<string, [string, string, string]> = {
  [G1]: ['8800000000000000001', 'Autumn launch', 'Both segments'],
  [G2]: ['8800000000000000001', 'Autumn launch', 'Switches on the 15th'],
  [G3]: ['8800000000000000002', 'Retargeting', 'A not B'],
};

/** The report's lines as this test computes them from the seed and its own targeting plan. */
function expectedLines(month: string, plan: (day: string) => Record<string, string[]>, source: string): Record<string, string>[] {
  const acc = new Map<string, { impressions: bigint; cents: bigint; days: string[]; shared: boolean }>();
  for (const day of daysOf(month)) {
    for (const [g, audiences] of Object.entries(plan(day))) {
      for (const a of audiences) {
        const s = seededDay(ADV, g, day);
        if (s.impressions === 0 && s.spendCents === 0) continue;
        const key = `${a}|${g}`;
        const e = acc.get(key) ?? { impressions: 0n, cents: 0n, days: [], shared: false };
        e.impressions += BigInt(s.impressions);
        e.cents += BigInt(s.spendCents);
        e.days.push(day);
        e.shared ||= audiences.length > 1;
        acc.set(key, e);
      }
    }
  }
  return [...acc]
    .map(([key, e]) => {
      const [a, g] = key.split('|') as [string, string];
      const seg = SEGMENTS[a as keyof typeof SEGMENTS];
      const [campaignId, campaignName, adgroupName] = NAMES[g]!;
      return {
        report_month: month,
        advertiser_id: ADV,
        provider_id: seg.provider,
        segment_id: seg.segment,
        destination_id: seg.destination,
        audience_id: a,
        campaign_id: campaignId,
        campaign_name: campaignName,
        adgroup_id: g,
        adgroup_name: adgroupName,
        impressions: String(e.impressions),
        amount_spent: money(e.cents),
        currency: 'USD',
        price_percent: seg.price,
        data_cost: money(costCents(e.cents, seg.price)),
        days_in_use: String(e.days.length),
        first_day: e.days[0]!,
        last_day: e.days[e.days.length - 1]!,
        shared_adgroup: e.shared ? 'yes' : 'no',
        targeting_source: source,
      };
    })
    .sort((x, y) => x.provider_id.localeCompare(y.provider_id) || x.campaign_id.localeCompare(y.campaign_id) || x.adgroup_id.localeCompare(y.adgroup_id));
}

/** The CSV as objects (the test's names hold no commas or quotes, so a split is a parse). */
function csvRows(text: string): Record<string, string>[] {
  const [head, ...rows] = text.trim().split('\n');
  const cols = head!.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i]!, v])));
}

const cents = (s: string): bigint => {
  const [i, f = ''] = s.split('.');
  return BigInt(i!) * 100n + BigInt(f.padEnd(2, '0'));
};

async function mailsFor(month: string) {
  const out = [];
  for (const m of await mailpit.list()) {
    if (!m.Subject.endsWith(`advertiser ${ADV}, ${month}`)) continue;
    out.push({ ...(await mailpit.message(m.ID)), headers: await mailpit.headers(m.ID) });
  }
  return out;
}

const report = (month: string, ...extra: string[]) =>
  cliAgainstTestServer(
    ['usage', 'report', '--advertiser', ADV, '--month', month, '--config', join(dir, 'dests'), '--wait', '--json', '--task-queue', queues.control, '--tiktok-queue', queues.tiktok, ...extra],
    { timeoutMs: 150_000 },
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ttsync-usage-'));
  emu = await startEmulator({ processingDelay: 10, rateLimits: { default: { qps: 10_000, qpm: 1_000_000 }, events: { qps: 10_000, qpm: 1_000_000 }, segment: { qps: 10_000, qpm: 1_000_000 } } });
  token = (await control<{ access_token: string }>('POST', 'tokens', { advertiser_ids: [ADV] })).access_token;
  mailpit = await startMailpit();
  mkdirSync(join(dir, 'dests'));
  writeFileSync(
    join(dir, 'dests', 'acme.json'),
    JSON.stringify(destination('acme-auto', AUD_A, { reportingContacts: 'usage@buyer.example, finance@buyer.example', providerId: 'acme-data', segmentId: 'auto-intenders', pricePercent: '12.50' })),
  );
  writeFileSync(join(dir, 'dests', 'globex.json'), JSON.stringify(destination('globex-movers', AUD_B, { reportingContacts: ['usage@buyer.example'], providerId: 'globex', segmentId: 'new-movers', pricePercent: 7.25 })));
  // A first-party destination of the same folder: no usage report.
  const { dataMarketplace: _dm, ...firstParty } = destination('first-party', '7100000000000000999', {});
  writeFileSync(join(dir, 'dests', 'first-party.json'), JSON.stringify({ ...firstParty, identifiers: { email: 'email', device: 'maid' } }));
  advertiser = (await loadUsageAdvertisers(join(dir, 'dests')))[0]!;

  connection = await NativeConnection.connect({ address: testTemporal().address });
  workers = await createWorkers({
    temporal: testTemporal(),
    connection,
    roles: ['control', 'tiktok'],
    taskQueues: queues,
    events: { taskQueue: uniqueId('usage-events') },
    shutdownGraceTime: '1s',
    activityDeps: {
      usageReport: { defaultStorage: join(dir, 'store'), tiktokEnv: tiktokEnv(), resolveSecret: async () => token },
      notices: {
        service: () =>
          createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: { url: mailpit.smtpUrl, from: 'ttsync reports <reports@ttsync.example>' }, uiBaseUrl: UI, namespace: testEnv().TEMPORAL_NAMESPACE }),
      },
    },
  });
  client = await testClient();

  // Daily records for October, taken as the daily tick takes them (the activity, on the day given).
  const acts = createUsageReportActivities({ defaultStorage: join(dir, 'store'), tiktokEnv: tiktokEnv(), resolveSecret: async () => token });
  await seedAdgroups([AUD_A]);
  for (const day of daysOf(MONTH)) {
    if (day === '2026-10-15') await seedAdgroups([AUD_B]);
    const r = await acts.usageRecordTargeting({ advertiser: advertiser!, day });
    expect(r).toMatchObject({ day, adgroups: 3, usingSegments: 3 });
  }
}, 180_000);

afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
  await client?.connection.close();
  await mailpit?.stop();
  await emu?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('usage report', { timeout: 300_000 }, () => {
  let firstCsv: string;
  let firstMessageId: string;

  it('reports October line by line as computed from the seed, money adding up exactly, and emails it once with the CSV', async () => {
    const r = await report(MONTH);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ workflowId: `usage-report:${ADV}:${MONTH}`, advertiserId: ADV, month: MONTH, delivery: 'sent' });

    const csvPath = join(dir, 'store', 'reports', 'usage', ADV, `${MONTH}.csv`);
    firstCsv = readFileSync(csvPath, 'utf8');
    expect(out.csvUri).toMatch(new RegExp(`reports/usage/${ADV}/${MONTH}\\.csv$`));
    const rows = csvRows(firstCsv);
    const expected = expectedLines(MONTH, targetingOn, 'daily_record');
    expect(rows).toEqual(expected);
    // Four lines: G1 on both segments (shared), G2 on A then on B, G3 on A; G3's exclusion of B is no line.
    expect(rows.map((x) => `${x.segment_id}/${x.adgroup_name}/${x.shared_adgroup}`)).toEqual([
      'auto-intenders/Both segments/yes',
      'auto-intenders/Switches on the 15th/no',
      'auto-intenders/A not B/no',
      'new-movers/Both segments/yes',
      'new-movers/Switches on the 15th/no',
    ]);
    expect(rows.find((x) => x.segment_id === 'auto-intenders' && x.adgroup_id === G2)).toMatchObject({ last_day: expect.stringMatching(/^2026-10-1[0-4]$/) });
    expect(rows.find((x) => x.segment_id === 'new-movers' && x.adgroup_id === G2)).toMatchObject({ first_day: expect.stringMatching(/^2026-10-(1[5-9])$/) });

    // The money columns add up exactly to the totals, overall and per segment and provider.
    const sum = (xs: Record<string, string>[], col: string) => xs.reduce((t, x) => t + cents(x[col]!), 0n);
    expect(out.totals).toMatchObject({ amountSpent: money(sum(rows, 'amount_spent')), dataCost: money(sum(rows, 'data_cost')), currency: 'USD', lines: 5 });
    expect(out.totals.impressions).toBe(String(rows.reduce((t, x) => t + BigInt(x.impressions!), 0n)));
    for (const s of out.totals.bySegment) {
      const mine = rows.filter((x) => x.segment_id === s.segmentId);
      expect(s).toMatchObject({ amountSpent: money(sum(mine, 'amount_spent')), dataCost: money(sum(mine, 'data_cost')), lines: mine.length });
    }
    expect(out.totals.byProvider.map((p: { providerId: string }) => p.providerId)).toEqual(['acme-data', 'globex']);
    const sidecar = JSON.parse(readFileSync(csvPath.replace(/\.csv$/, '.json'), 'utf8'));
    expect(sidecar).toMatchObject({ version: 1, advertiserId: ADV, month: MONTH, recordedDays: 31, days: 31, csv: { sha256: createHash('sha256').update(firstCsv).digest('hex'), lines: 5 } });
    expect(sidecar.notes.join('\n')).toMatch(/excluded the audience of segment globex\/new-movers .* exclusion is not usage/);
    expect(sidecar.notes.join('\n')).not.toMatch(/No daily targeting record/);

    const mails = await mailsFor(MONTH);
    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.To.map((t) => t.Address).sort()).toEqual(['finance@buyer.example', 'usage@buyer.example']);
    expect(mail.Attachments.map((a) => a.FileName)).toEqual([`tiktok-usage-${ADV}-${MONTH}.csv`]);
    expect((await mailpit.attachment(mail.ID, mail.Attachments[0]!.PartID)).toString('utf8')).toBe(firstCsv);
    firstMessageId = headerOf(mail.headers, 'Message-ID')!;
    expect(firstMessageId).toBe(`<${createHash('sha256').update(`usage-report:${ADV}:${MONTH}`).digest('hex').slice(0, 40)}@notices.ttsync>`);
  });

  it('re-run under report throttling: the same file, no second email; --force sends it again', async () => {
    const since = Math.max(0, ...(await control<{ calls: { seq: number }[] }>('GET', 'calls')).calls.map((c) => c.seq));
    // The first four report requests are refused with TikTok's QPS code; the random share throttles some of the rest.
    await control('POST', 'faults', {
      throttle: 0.3,
      seed: 11,
      paths: ['report/integrated/get/'],
      rules: [{ endpoint: 'report/integrated/get/', code: 40100, message: 'Too many requests. QPS limit reached.', times: 4 }],
    });
    try {
      const again = await report(MONTH);
      expect(again.code, again.stderr).toBe(0);
      expect(JSON.parse(again.stdout)).toMatchObject({ delivery: 'already_sent', csvSha256: createHash('sha256').update(firstCsv).digest('hex') });
      const calls = (await control<{ calls: { path: string; outcome: string }[] }>('GET', `calls?since=${since}`)).calls.filter((c) => c.path.includes('report/integrated/get'));
      expect(calls.filter((c) => c.outcome === 'injected_rule')).toHaveLength(4);
      expect(calls.filter((c) => c.outcome === 'ok').length).toBeGreaterThanOrEqual(2);
    } finally {
      await control('POST', 'faults', { throttle: 0, rules: [] });
    }
    expect(readFileSync(join(dir, 'store', 'reports', 'usage', ADV, `${MONTH}.csv`), 'utf8')).toBe(firstCsv);
    expect(await mailsFor(MONTH)).toHaveLength(1);

    const forced = await report(MONTH, '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(JSON.parse(forced.stdout).delivery).toBe('resent');
    const mails = await mailsFor(MONTH);
    expect(mails).toHaveLength(2);
    expect(new Set(mails.map((m) => headerOf(m.headers, 'Message-ID'))).size).toBe(2);
  });

  it('schedules apply creates the monthly and daily Schedules; a backfill of two past months produces both reports once each', async () => {
    const apply = () =>
      cliAgainstTestServer(['schedules', 'apply', '--lifecycle', 'usage-report', '--config', join(dir, 'dests'), '--task-queue', queues.control, '--tiktok-queue', queues.tiktok, '--json']);
    const first = await apply();
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).changes).toEqual([
      { destinationId: ADV, scheduleId: `usage-report-schedule:${ADV}`, outcome: 'created' },
      { destinationId: `${ADV}:targeting`, scheduleId: `usage-report-schedule:${ADV}:targeting`, outcome: 'created' },
    ]);
    expect(JSON.parse((await apply()).stdout).changes.map((c: { outcome: string }) => c.outcome)).toEqual(['unchanged', 'unchanged']);
    const monthly = client.schedule.getHandle(`usage-report-schedule:${ADV}`);
    const daily = client.schedule.getHandle(`usage-report-schedule:${ADV}:targeting`);
    try {
      const desc = await monthly.describe();
      expect(desc.action).toMatchObject({ type: 'startWorkflow', workflowType: 'usageReportTick', taskQueue: queues.control });
      expect(desc.spec.timezone).toBe('UTC');
      expect(desc.spec.calendars?.[0]).toMatchObject({ dayOfMonth: [{ start: 2, end: 2, step: 1 }], hour: [{ start: 6, end: 6, step: 1 }] });
      expect((await daily.describe()).action).toMatchObject({ workflowType: 'usageTargetingTick' });

      // The actions of 2 August and 2 September report July and August; neither has daily records.
      await monthly.backfill([{ start: new Date('2026-08-02T05:00:00Z'), end: new Date('2026-09-02T07:00:00Z'), overlap: ScheduleOverlapPolicy.ALLOW_ALL }]);
      for (const month of ['2026-07', '2026-08']) {
        const id = `usage-report:${ADV}:${month}`;
        const result = await waitResult(id);
        expect(result).toMatchObject({ month, delivery: 'sent' });
        const csv = readFileSync(join(dir, 'store', 'reports', 'usage', ADV, `${month}.csv`), 'utf8');
        // No records: every day takes the targeting read at report time (G2 targets B now).
        expect(csvRows(csv)).toEqual(expectedLines(month, () => ({ [G1]: [AUD_A, AUD_B], [G2]: [AUD_B], [G3]: [AUD_A] }), 'report_time'));
        expect(result.notes.join('\n')).toMatch(new RegExp(`No daily targeting record exists for ${month}: every day uses the ad groups' targeting read at report time`));
        const runs = [];
        for await (const w of client.workflow.list({ query: `WorkflowId = "${id}"` })) runs.push(w);
        expect(runs).toHaveLength(1);
        expect(await mailsFor(month)).toHaveLength(1);
      }
      // The daily Schedule's tick records today's targeting.
      await daily.trigger();
      const today = new Date().toISOString().slice(0, 10);
      await waitFor(() => {
        try {
          return JSON.parse(readFileSync(join(dir, 'store', 'reports', 'usage', ADV, 'targeting', `${today}.json`), 'utf8')).adgroups.length === 3;
        } catch {
          return false;
        }
      });
    } finally {
      await monthly.delete();
      await daily.delete();
    }
  });

  it('a failed report posts an alert to the deployment route; ttsync rerun completes it', async () => {
    const month = '2026-04';
    await control('POST', 'faults', { rules: [{ endpoint: 'adgroup/get/', code: 40001, message: 'No permission to operate advertiser.' }] });
    const h = await startUsageReport(client, { advertiser, month, taskQueue: queues.control, queues: { tiktok: queues.tiktok } });
    try {
      await expect(h.result()).rejects.toThrow();
    } finally {
      await control('POST', 'faults', { rules: [] });
    }
    const alertKey = `usage-report:${ADV}:${month}:${h.firstExecutionRunId}:failed`;
    const alert = JSON.parse(readFileSync(join(dir, 'notices', 'notices', `${createHash('sha256').update(alertKey).digest('hex')}.json`), 'utf8'));
    expect(alert).toMatchObject({ key: alertKey, route: null, metadata: { lifecycle: 'usage_report', state: 'failed', workflowId: `usage-report:${ADV}:${month}` } });
    expect(alert.text).toMatch(/failed: PermissionDenied: .*No permission to operate advertiser[\s\S]*ttsync rerun usage-report:/);
    expect(await mailsFor(month)).toHaveLength(0);

    const rerun = await cliAgainstTestServer(['rerun', `usage-report:${ADV}:${month}`, '--json']);
    expect(rerun.code, rerun.stderr).toBe(0);
    const r = JSON.parse(rerun.stdout) as { action: string; newRunId: string };
    const result = (await client.workflow.getHandle(`usage-report:${ADV}:${month}`, r.newRunId).result()) as { delivery: string; lines: number };
    // No daily records for April: the targeting read now (G2 on B), as in the backfill.
    expect(result).toMatchObject({ delivery: 'sent', lines: 4 });
    expect(csvRows(readFileSync(join(dir, 'store', 'reports', 'usage', ADV, `${month}.csv`), 'utf8'))).toEqual(
      expectedLines(month, () => ({ [G1]: [AUD_A, AUD_B], [G2]: [AUD_B], [G3]: [AUD_A] }), 'report_time'),
    );
    expect(await mailsFor(month)).toHaveLength(1);
  });

  it('waits for the month to settle: status settling with the settle time, search attributes set', async () => {
    // A month whose end plus 3 days is still ahead (the machine's clock decides which).
    const now = new Date();
    const month = now.toISOString().slice(0, 7);
    const h = await startUsageReport(client, { advertiser, month, taskQueue: queues.control, queues: { tiktok: queues.tiktok } });
    try {
      let status = await h.query(usageReportStatusQuery);
      for (let i = 0; i < 100 && !status.settleUntil; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await h.query(usageReportStatusQuery);
      }
      const [y, m] = month.split('-').map(Number) as [number, number];
      expect(status).toMatchObject({ advertiserId: ADV, month, phase: 'settling', settleUntil: new Date(Date.UTC(y, m, 4)).toISOString(), result: null });
      const described = await h.describe();
      expect(described.searchAttributes).toMatchObject({ Lifecycle: ['usage_report'], AdvertiserId: [ADV], ReportMonth: [month] });
    } finally {
      await h.terminate('settle test done');
    }
  });

  it('ttsync doctor --lifecycle usage-report checks the token, audiences, report folder, daily records, email and Schedules', async () => {
    const r = await cliAgainstTestServer(['doctor', '--lifecycle', 'usage-report', '--config', join(dir, 'dests'), '--task-queue', queues.control, '--tiktok-queue', queues.tiktok, '--json'], {
      env: { TTSYNC_DATA_DIR: join(dir, 'store'), TTSYNC_TEST_USAGE_TOKEN: token, TIKTOK_API_BASE_URL: emu.apiBaseUrl, TTSYNC_SMTP_URL: mailpit.smtpUrl },
    });
    const out = JSON.parse(r.stdout) as { results: { subject: string; check: string; status: string; message: string }[] };
    const mine = Object.fromEntries(out.results.filter((x) => x.subject === ADV).map((x) => [x.check, `${x.status}: ${x.message}`]));
    expect(mine).toEqual({
      token: expect.stringMatching(new RegExp(`^ok: env:TTSYNC_TEST_USAGE_TOKEN reads the ad groups of advertiser ${ADV} \\(9 ad groups\\)$`)),
      audiences: `ok: 2 segment(s), each with its audience: acme-data/auto-intenders → ${AUD_A}, globex/new-movers → ${AUD_B}`,
      storage: expect.stringMatching(/^ok: the report folder .* can be written and read$/),
      // The daily Schedule's tick of the test before recorded today.
      'targeting-records': expect.stringMatching(/^ok: targeting recorded on \d{4}-\d{2}-\d{2}$/),
      delivery: 'ok: email to finance@buyer.example, usage@buyer.example',
      schedule: expect.stringMatching(new RegExp(`^info: no schedule usage-report-schedule:${ADV} `)),
      'targeting-schedule': expect.stringMatching(new RegExp(`^info: no schedule usage-report-schedule:${ADV}:targeting `)),
    });
  });

  it.each([
    [['usage', 'report', '--advertiser', ADV, '--month', '2026-13'], /--month: "2026-13" is not a month YYYY-MM/],
    [['usage', 'report', '--advertiser', '7000000000000000999', '--month', '2026-10'], /--advertiser 7000000000000000999: no destination of .* has dataMarketplace for this advertiser \(3PD advertisers there: 7000000000000000042\)/],
  ])('%j exits 2 and starts nothing', async (args, message) => {
    const r = await cliAgainstTestServer([...args, '--config', join(dir, 'dests')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

/*
 * A worker SIGKILLed in the middle of delivering the report loses nothing. The notice activity
 * runs in a child process (test/fixtures/usage-worker.ts) whose delivery hangs at a chosen
 * point, seen on its stdout, where the test kills it and starts another; the activity's
 * start-to-close timeout is short, so Temporal retries within seconds of the kill.
 */
describe('usage report delivery survives a SIGKILL', { timeout: 180_000 }, () => {
  const noticesQueue = uniqueId('usage-notices');
  const children = new Set<ChildProcessLines>();
  let script: string;
  beforeAll(() => {
    script = compileFixture('usage-worker');
  });
  // Each case starts with no worker on the notices queue but its own.
  afterEach(async () => {
    for (const c of children) await c.stop('SIGKILL');
    children.clear();
  });
  const child = async (hold?: 'before' | 'after'): Promise<ChildProcessLines> => {
    const env = testEnv();
    const c = await spawnFixture(script, {
      TEMPORAL_ADDRESS: env.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: env.TEMPORAL_NAMESPACE,
      TEMPORAL_CONFIG_FILE: env.TEMPORAL_CONFIG_FILE,
      TTSYNC_FIXTURE_NOTICES_QUEUE: noticesQueue,
      TTSYNC_NOTICES: join(dir, 'notices'),
      TTSYNC_SMTP_URL: mailpit.smtpUrl,
      TTSYNC_SMTP_FROM: 'ttsync reports <reports@ttsync.example>',
      ...(hold ? { TTSYNC_FIXTURE_HOLD_NOTICE: hold } : {}),
    });
    children.add(c);
    return c;
  };
  const kill = async (c: ChildProcessLines) => {
    await c.stop('SIGKILL');
    children.delete(c);
  };
  const messageIdOf = (key: string) => `<${createHash('sha256').update(key).digest('hex').slice(0, 40)}@notices.ttsync>`;
  const start = (month: string) =>
    startUsageReport(client, { advertiser, month, taskQueue: queues.control, queues: { tiktok: queues.tiktok, notices: noticesQueue }, timing: { noticeTimeout: '4s' } });

  it.each([
    ['before', '2026-06', 1],
    ['after', '2026-05', 2],
  ] as const)('killed %s the SMTP server took it: delivered, every copy with the same Message-ID', async (hold, month, copies) => {
    const key = `usage-report:${ADV}:${month}`;
    const first = await child(hold);
    const h = await start(month);
    const [, seen] = (await first.waitForLine(new RegExp(`^notice-${hold === 'before' ? 'held' : 'sent'} (\\S+)$`), 60_000)) as unknown as [string, string];
    expect(seen).toBe(key);
    expect(await mailsFor(month)).toHaveLength(copies - 1);
    await kill(first);
    await child();
    const result = await h.result();
    // Sent by the retry: nothing lost. Killed after sending, it is sent again (the outbox could not know): the same Message-ID.
    expect(result.delivery).toBe('sent');
    const mails = await mailsFor(month);
    expect(mails).toHaveLength(copies);
    expect(new Set(mails.map((m) => headerOf(m.headers, 'Message-ID')))).toEqual(new Set([messageIdOf(key)]));
    expect(readFileSync(join(dir, 'notices', 'deliveries', createHash('sha256').update(key).digest('hex'), 'email.json'), 'utf8')).toContain(messageIdOf(key).slice(1, -1));
  });
});

async function waitFor(ok: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function waitResult(workflowId: string): Promise<{ month: string; delivery: string; notes: string[] }> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      return (await client.workflow.getHandle(workflowId).result()) as { month: string; delivery: string; notes: string[] };
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 300));
    }
  }
}
