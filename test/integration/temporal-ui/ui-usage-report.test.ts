import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type RunningEmulator } from '../../../src/emulator';
import { createNoticeService } from '../../../src/notices';
import { PROJECT_ROOT } from '../../../src/paths';
import { localTemporalSettings } from '../../../src/temporal/connection';
import { freePort, startDevServer, type DevServer } from '../../../src/temporal/devServer';
import { resolveTemporalCli } from '../../../src/temporal/toolchain';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { loadUsageAdvertisers } from '../../../src/usage-report/advertisers';
import { UsageReportWorkflowType, type UsageAdvertiser } from '../../../src/usage-report/messages';
import { createWorkers, type RunningWorkers } from '../../../src/worker';
import { startMailpit, type Mailpit } from '../../helpers/mailpit';
import { CHROMIUM, CHROMIUM_ARGS, UI_WAIT_MS, stepPage as newStepPage, temporalUi, until, workflowStatus } from '../../helpers/temporalUi';
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

const ARTIFACTS = join(PROJECT_ROOT, '.data', 'test-artifacts', 'ui-usage-report');
const NAMESPACE = 'default';
const STEP_MS = 300_000;
const ADV = '7000000000000000077';
const AUD = '7100000000000000177';
const ADGROUP = '8800000000000000077';
const MONTH = '2026-10';
const PRICE = '9.5';

let server: DevServer | undefined;
let logDir: string | undefined;
let dir: string | undefined;
let emu: RunningEmulator | undefined;
let mailpit: Mailpit | undefined;
let workers: RunningWorkers | undefined;
let connection: NativeConnection | undefined;
let context: BrowserContext | undefined;
let profileDir: string | undefined;
let advertiser: UsageAdvertiser | undefined;
const stamp = Date.now().toString(36);
const queues = { control: `ui-usage-control-${stamp}`, tiktok: `ui-usage-tiktok-${stamp}` };

async function emulatorControl<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(`${emu!.url}/_emulator/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`emulator ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

beforeAll(async () => {
  rmSync(ARTIFACTS, { recursive: true, force: true });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap, which installs Debian's chromium (apt-get install -y chromium)`);
  logDir = mkdtempSync(join(tmpdir(), 'ttsync-ui-usage-temporal-'));
  dir = mkdtempSync(join(tmpdir(), 'ttsync-ui-usage-'));
  [server, emu, mailpit] = await Promise.all([
    freePort().then((uiPort) => startDevServer({ cliPath: resolveTemporalCli(), namespace: NAMESPACE, uiPort, logFile: join(logDir!, 'temporal.log'), readyTimeoutMs: UI_WAIT_MS })),
    startEmulator({ processingDelay: 10 }),
    startMailpit(),
  ]);
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
    temporal: localTemporalSettings(server.address, NAMESPACE),
    connection,
    roles: ['control', 'tiktok'],
    taskQueues: queues,
    events: { taskQueue: `ui-usage-events-${stamp}` },
    shutdownGraceTime: '1s',
    activityDeps: {
      usageReport: { defaultStorage: join(dir, 'store'), tiktokEnv: { TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: 1000, TIKTOK_TIMEOUT_MS: 10_000 }, resolveSecret: async () => token },
      notices: {
        service: () =>
          createNoticeService({ storeUri: join(dir!, 'notices'), defaultRoute: null, smtp: { url: mailpit!.smtpUrl, from: 'ttsync <reports@ttsync.example>' }, uiBaseUrl: server!.uiUrl ?? '', namespace: NAMESPACE }),
      },
    },
  });
  profileDir = mkdtempSync(join(tmpdir(), 'ttsync-ui-usage-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1400, height: 1000 } });
  context.setDefaultTimeout(UI_WAIT_MS);
  context.setDefaultNavigationTimeout(UI_WAIT_MS);
}, STEP_MS);
afterAll(async () => {
  await context?.close();
  workers?.shutdown();
  await workers?.done;
  await connection?.close();
  await Promise.all([server?.stop(), emu?.close(), mailpit?.stop()]);
  for (const d of [profileDir, logDir, dir]) if (d) rmSync(d, { recursive: true, force: true });
});

function ready<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('used before beforeAll set it up');
  return v;
}

const stepPage = (step: string): Promise<Page> => newStepPage(ready(context), step, { dir: ARTIFACTS, serverLog: () => logDir && join(logDir, 'temporal.log') });
const ui = temporalUi({ baseUrl: () => ready(ready(server).uiUrl), namespace: NAMESPACE });

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
    const result = await until(`${workflowId} shown as Completed`, async () => {
      await ui.openWorkflow(page, workflowId);
      if ((await workflowStatus(page)) !== 'Completed') return undefined;
      const panel = page
        .getByTestId('input-and-result')
        .locator('div')
        .filter({ has: page.getByRole('heading', { name: 'Result', exact: true }) })
        .getByRole('textbox');
      await panel.getByText('"delivery"').waitFor();
      return panel.innerText();
    });
    expect(fieldAt(result, 2, 'delivery')).toBe('sent');
    expect(fieldAt(result, 4, 'impressions')).toBe(String(impressions));
    expect(fieldAt(result, 4, 'amountSpent')).toBe(money(cents));
    expect(fieldAt(result, 4, 'dataCost')).toBe(money(costCents(cents, PRICE)));
    const csv = readFileSync(join(ready(dir), 'store', 'reports', 'usage', ADV, `${MONTH}.csv`), 'utf8');
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
