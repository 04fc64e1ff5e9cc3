import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../src/emulator';
import { createNoticeService } from '../../../src/notices';
import { localTemporalSettings } from '../../../src/temporal/connection';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { loadUsageAdvertisers } from '../../../src/usage-report/advertisers';
import { UsageReportWorkflowType, type UsageAdvertiser } from '../../../src/usage-report/messages';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { startMailpit, type Mailpit } from '../../helpers/mailpit';
import { ready, useUiSession } from '../../helpers/uiSession';
import { costCents, daysOf, money, seededDay } from '../../helpers/usageExpected';

/*
 * A month's usage report started from the Temporal Web UI's start-workflow form, as an
 * operator does for a month whose Schedule did not run: headless Chromium (Debian's package,
 * through playwright-core) against a dev server of this file's own that serves the UI, real
 * control and TikTok workers, the emulator over HTTP and Mailpit. One 3PD segment, one ad
 * group targeting it and no daily records (so the targeting at report time counts). The
 * totals the run's page shows must equal what this file computes from the emulator's
 * documented seed (test/helpers/usageExpected.ts); a start under a wrong id shows the id it
 * must run as.
 */

const STEP_MS = 300_000;
const ADV = '7000000000000000077';
const AUD = '7100000000000000177';
const ADGROUP = '8800000000000000077';
const MONTH = '2026-10';
const PRICE = '9.5';

const session = useUiSession({ name: 'ui-usage-report' });
const { stepPage, ui } = session;
let emu: RunningEmulator | undefined;
let mailpit: Mailpit | undefined;
let workers: RunningWorkers | undefined;
let connection: NativeConnection | undefined;
let advertiser: UsageAdvertiser | undefined;
const stamp = Date.now().toString(36);
const queues = { control: `ui-usage-control-${stamp}`, tiktok: `ui-usage-tiktok-${stamp}` };

async function emulatorControl<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${emu!.url}/_emulator/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

// Registered after the session's hooks: these workers stop before its server does.
beforeAll(async () => {
  const server = session.server();
  const dir = session.dir();
  [emu, mailpit] = await Promise.all([startEmulator({ processingDelay: 10 }), startMailpit()]);
  const token = (await emulatorControl<{ access_token: string }>('tokens', { advertiser_ids: [ADV] })).access_token;
  await emulatorControl('adgroups', {
    advertiser_id: ADV,
    adgroups: [{ campaign_id: '8800000000000000070', campaign_name: 'Winter', adgroup_id: ADGROUP, adgroup_name: 'Movers', audience_ids: [AUD] }],
  });
  mkdirSync(join(dir, 'dests'));
  writeFileSync(
    join(dir, 'dests', 'movers.json'),
    JSON.stringify({
      destinationId: 'ui-movers',
      advertiserId: ADV,
      audienceName: 'Movers (3PD)',
      action: 'append',
      audienceId: AUD,
      identifiers: { email: 'email' },
      accessToken: 'env:TTSYNC_UI_USAGE_TOKEN',
      sourceSegmentId: 'movers-segment',
      dataMarketplace: {
        dataUsageReporting: 'I Agree',
        paymentModel: 'I Agree',
        paymentRequirement: 'I Agree',
        reportingContacts: 'usage@buyer.example',
        providerId: 'globex',
        segmentId: 'new-movers',
        pricePercent: PRICE,
        currency: 'USD',
      },
    }),
  );
  [advertiser] = await loadUsageAdvertisers(join(dir, 'dests'));
  connection = await NativeConnection.connect({ address: server.address });
  workers = await createWorkers({
    temporal: localTemporalSettings(server.address, session.namespace),
    connection,
    roles: ['control', 'tiktok'],
    taskQueues: queues,
    events: { taskQueue: `ui-usage-events-${stamp}` },
    shutdownGraceTime: '1s',
    activityDeps: {
      usageReport: { defaultStorage: join(dir, 'store'), tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_TIMEOUT_MS: 10_000 }, resolveSecret: async () => token },
      notices: {
        service: () =>
          createNoticeService({ storeUri: join(dir, 'notices'), defaultRoute: null, smtp: { url: mailpit!.smtpUrl, from: 'ttsync <reports@ttsync.example>' }, uiBaseUrl: server.uiUrl ?? '', namespace: session.namespace }),
      },
    },
  });
}, 120_000);
afterAll(async () => {
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
  await Promise.all([emu?.close(), mailpit?.stop()]);
});

/** A string field at the given indent of pretty-printed JSON (two spaces a level). */
function fieldAt(text: string, indent: number, name: string): string {
  const m = text.match(new RegExp(`^ {${indent}}"${name}": "(.*?)",?$`, 'm'));
  if (!m?.[1]) throw new Error(`no "${name}" at indent ${indent} in:\n${text}`);
  return m[1];
}

describe('the Temporal Web UI starting a usage report', () => {
  it('starts a month\'s report from the form; its page shows the totals computed from the seed, and the email went out once', async () => {
    const page = await stepPage('usage-report-start-from-form');
    // The month as this file reads the seed: the ad group targets the segment every day (no daily records).
    let impressions = 0n;
    let cents = 0n;
    for (const day of daysOf(MONTH)) {
      const s = seededDay(ADV, ADGROUP, day);
      impressions += BigInt(s.impressions);
      cents += BigInt(s.spendCents);
    }
    const workflowId = WorkflowIds.usageReport(ADV, MONTH);
    await ui.startFromForm(page, workflowId, { advertiser: ready(advertiser), month: MONTH, queues: { tiktok: queues.tiktok } }, { taskQueue: queues.control, workflowType: UsageReportWorkflowType.report });
    const result = await ui.resultShown(page, workflowId, '"delivery"');
    expect(fieldAt(result, 2, 'delivery')).toBe('sent');
    expect(fieldAt(result, 4, 'impressions')).toBe(String(impressions));
    expect(fieldAt(result, 4, 'amountSpent')).toBe(money(cents));
    expect(fieldAt(result, 4, 'dataCost')).toBe(money(costCents(cents, PRICE)));
    const csv = readFileSync(join(session.dir(), 'store', 'reports', 'usage', ADV, `${MONTH}.csv`), 'utf8');
    expect(csv.trim().split('\n')).toHaveLength(2);
    expect((await ready(mailpit).list()).filter((m) => m.Subject.includes(`advertiser ${ADV}, ${MONTH}`))).toHaveLength(1);
  }, STEP_MS);

  it('shows the right workflow id when a report is started under a wrong one', async () => {
    const page = await stepPage('usage-report-wrong-id');
    const wrongId = `usage-report-${ADV}-${MONTH}`;
    await ui.startFromForm(page, wrongId, { advertiser: ready(advertiser), month: MONTH, queues: { tiktok: queues.tiktok } }, { taskQueue: queues.control, workflowType: UsageReportWorkflowType.report });
    const shown = await ui.failureShown(page, wrongId);
    expect(shown).toMatch(/^ {6}"type": "WrongWorkflowId",?$/m);
    expect(shown).toContain(WorkflowIds.usageReport(ADV, MONTH));
  }, STEP_MS);
});
