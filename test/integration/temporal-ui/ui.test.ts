import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DestinationConfigInput } from '../../../src/audience-sync/config';
import { AudienceSyncWorkflowType } from '../../../src/audience-sync/messages';
import { localTemporalSettings } from '../../../src/temporal/connection';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { DEFAULT_TIMING, useAudienceHarness } from '../../helpers/audienceHarness';
import { person, range } from '../../helpers/syntheticPeople';
import { importAccounts } from '../../../src/san-migration/client';
import { SanMigrationWorkflowType } from '../../../src/san-migration/messages';
import type { Program } from '../../../src/san-migration/model';
import { account, app, program as sanProgram, startSanWorld, type SanWorld } from '../san-migration/harness';
import type { EventsDestinationConfigInput } from '../../../src/events-export/config';
import { EventsExportWorkflowType, type EventsExportInput, type EventsExportStatus } from '../../../src/events-export/messages';
import { useEventsHarness } from '../../helpers/eventsHarness';
import { UI_WAIT_MS, until, workflowStatus } from '../../helpers/temporalUi';
import { ready, useUiSession } from '../../helpers/uiSession';

/*
 * The Temporal Web UI, used as an operator uses it: headless Chromium (Debian's package,
 * which scripts/bootstrap installs; playwright-core drives it, it never downloads a browser)
 * against a dev server of this file's own that serves the UI, with real ttsync workers on
 * unique queues and the TikTok emulator. Through the UI alone the test starts an audience
 * sync from the start-workflow form, reads its status in the Queries tab, pauses and resumes
 * it with "Send a Signal", finds it by its SyncState search attribute in the workflow list's
 * query box, and starts bad inputs whose failure it reads on the workflow page. Then a SAN
 * migration: started from the form for an account the partner-config store holds, its phase
 * and apps read in the Queries tab, an opt-in sent with "Send an Update" (UI 2.42 lists the
 * workflow's updates), a refused opt-out's message read in the update dialog, and a start
 * under a wrong workflow id failing with the id it must have. Then an events export: started
 * from the form with an events file as its input, its last run's counts read in the Queries
 * tab (equal to those counted here from the file), paused and resumed with "Send a Signal",
 * and a start under a wrong workflow id failing with the id it must have.
 *
 * Selectors are roles, labels and the UI's data-testid attributes of Temporal UI 2.42.1 (the
 * one Temporal CLI 1.5.1 serves); the test checks that version first. Every wait is on a
 * condition of the page, so a loaded 2-core machine only makes it slower. A failed step
 * leaves a screenshot, the page's accessibility tree and the server log under
 * .data/test-artifacts/ui/.
 */

const UI_VERSION = '2.42.1';
const SAN_STATUS_QUERY = 'sanMigrationStatus';
const NAMESPACE = 'default';
const WAIT_MS = UI_WAIT_MS;
const STEP_MS = 300_000;
const PEOPLE = 600; // an email and a phone each: 1,200 ids, above the 1,000 a targetable audience needs

const session = useUiSession({ name: 'ui', namespace: NAMESPACE });

// Registered after the session's hooks: its workers connect to that server and stop before it.
const harness = useAudienceHarness({
  name: 'ui',
  emulator: { processingDelay: 200, matchRate: 1 },
  tokenVar: 'TTSYNC_TEST_UI_TOKEN',
  temporal: () => localTemporalSettings(session.server().address, NAMESPACE),
});

const { stepPage, ui } = session;
const { uiUrl, runQuery, sendSignal, searchWorkflows, failureShown, sendUpdate } = ui;

/** The start form; an audience sync on the audience harness's queue unless told otherwise. */
const startFromForm = (page: Page, workflowId: string, input: unknown, as = { taskQueue: harness.taskQueue, workflowType: AudienceSyncWorkflowType.sync as string }): Promise<void> =>
  ui.startFromForm(page, workflowId, input, as);

interface ShownStatus {
  phase: string;
  paused: boolean;
  cycles: number;
  currentRunId: string | null;
  audienceId: string | null;
  coverNum: number | null;
  lastError: unknown;
}

/** Runs the audienceSyncStatus query in the Queries tab of the workflow's latest run and reads the answer off the page. */
async function queryStatus(page: Page, workflowId: string): Promise<ShownStatus> {
  const text = await runQuery(page, workflowId, 'audienceSyncStatus', '"phase"');
  // The answer is pretty-printed JSON; top-level fields are the lines indented by two spaces.
  const field = (name: string): unknown => {
    const m = text.match(new RegExp(`^ {2}"${name}": (.*?),?$`, 'm'));
    if (!m?.[1]) throw new Error(`the query answer has no top-level "${name}":\n${text}`);
    return JSON.parse(m[1]) as unknown;
  };
  return {
    phase: field('phase') as string,
    paused: field('paused') as boolean,
    cycles: field('cycles') as number,
    currentRunId: field('currentRunId') as string | null,
    audienceId: field('audienceId') as string | null,
    coverNum: field('coverNum') as number | null,
    lastError: field('lastError'),
  };
}

describe('the Temporal Web UI, driven as an operator drives it', () => {
  let destination: DestinationConfigInput | undefined;
  let workflowId = '';

  it('serves the UI version whose pages this test knows', async () => {
    const page = await stepPage('ui-version');
    await page.goto(uiUrl('workflows'));
    const nav = page.getByRole('navigation', { name: 'Primary' });
    await expect.poll(() => nav.textContent(), { timeout: WAIT_MS }).toMatch(/Version \d/);
    expect(await nav.textContent(), `the selectors here are those of Temporal UI ${UI_VERSION} (Temporal CLI 1.5.1)`).toContain(`Version ${UI_VERSION}`);
  }, STEP_MS);

  it('starts an audience sync from the start-workflow form', async () => {
    const page = await stepPage('start-from-form');
    const advertiserId = harness.newAdvertiser();
    await harness.issueToken(advertiserId);
    destination = harness.destination(advertiserId);
    const snapshot = join(harness.dir, 'people.csv');
    writeFileSync(snapshot, ['email,phone', ...range(0, PEOPLE).map((i) => `${person(i).raw.email},${person(i).raw.phone}`)].join('\n') + '\n');
    workflowId = WorkflowIds.audienceSync(destination.destinationId);
    await startFromForm(page, workflowId, {
      config: destination,
      snapshot: { uri: `file://${snapshot}` },
      queues: harness.queues,
      timing: DEFAULT_TIMING,
    });
    // The form opens the run it started. Its first cycle (1,200 ids, a 200 ms processing
    // delay) can end, and the run continue as new, before a loaded machine draws the page:
    // either badge shows a sync that is alive; Failed, Completed or Terminated would not.
    expect(['Running', 'Continued as New']).toContain(await workflowStatus(page));
    // The page names the type and queue the form was given.
    // The queue is linked twice once a pending activity shows (summary and activity row).
    await page.getByRole('link', { name: AudienceSyncWorkflowType.sync, exact: true }).first().waitFor();
    await page.getByRole('link', { name: harness.taskQueue, exact: true }).first().waitFor();
  }, STEP_MS);

  it('shows phase synced in the Queries tab', async () => {
    const page = await stepPage('status-query');
    expect(workflowId, 'the sync was started from the form').not.toBe('');
    const status = await until('audienceSyncStatus shows the first cycle synced', async () => {
      const s = await queryStatus(page, workflowId);
      return s.cycles >= 1 && s.currentRunId === null ? s : undefined;
    });
    expect(status).toMatchObject({ phase: 'synced', paused: false, lastError: null });
    expect(status.coverNum).toBeGreaterThanOrEqual(1000);
    // What the page showed is what TikTok (the emulator) holds.
    expect(await harness.audienceIds(ready(status.audienceId ?? undefined))).toHaveLength(2 * PEOPLE);
  }, STEP_MS);

  it('pauses and resumes it with Send a Signal', async () => {
    const page = await stepPage('pause-resume');
    expect(workflowId, 'the sync was started from the form').not.toBe('');
    for (const [signal, paused] of [
      ['pause', true],
      ['resume', false],
    ] as const) {
      await until(`signal ${signal} sent`, () => sendSignal(page, workflowId, signal));
      const s = await until(`status shows paused ${paused}`, async () => {
        const st = await queryStatus(page, workflowId);
        return st.paused === paused ? st : undefined;
      });
      expect(s.phase).toBe('synced');
    }
  }, STEP_MS);

  it('shows why a start with a bad config failed on the workflow page', async () => {
    const page = await stepPage('bad-config');
    const advertiserId = harness.newAdvertiser();
    // A config the schema refuses: the workflow fails at once, naming each problem's JSON path.
    const bad = { ...harness.destination(advertiserId), advertiserId: 'not-digits', syncMode: 'sometimes' };
    const badId = WorkflowIds.audienceSync(bad.destinationId);
    await startFromForm(page, badId, { config: bad, queues: harness.queues, timing: DEFAULT_TIMING });
    const shown = await failureShown(page, badId);
    expect(shown).toContain('InvalidConfig');
    expect(shown).toContain('invalid destination config');
    expect(shown).toContain('advertiserId');
    expect(shown).toContain('syncMode');

    // The config pasted without its {"config": ...} wrapper.
    const bare = harness.destination(advertiserId);
    const bareId = WorkflowIds.audienceSync(bare.destinationId);
    await startFromForm(page, bareId, bare);
    const shownBare = await failureShown(page, bareId);
    expect(shownBare).toContain('InvalidConfig');
    // Named as a config without its wrapper, with the shape the input must have.
    expect(shownBare).toContain('it looks like a destination config on its own');
    expect(shownBare).toContain('wrap it as {');
  }, STEP_MS);

  it('finds it by SyncState and DestinationId in the workflow list', async () => {
    const page = await stepPage('search');
    const destinationId = ready(destination).destinationId;
    const query = `SyncState="synced" AND DestinationId="${destinationId}"`;
    // The list holds other workflows too: the failed starts of the step before.
    const all = `WorkflowType="${AudienceSyncWorkflowType.sync}"`;
    await until('the list shows the two failed starts', async () => ((await searchWorkflows(page, all)).filter((r) => r.status === 'Failed').length === 2 ? true : undefined));
    // The list is indexed a moment after the workflow upserts its attributes: search until it shows.
    const rows = await until(`the list shows ${workflowId} for ${query}`, async () => {
      const r = await searchWorkflows(page, query);
      return r.some((x) => x.status === 'Running') ? r : undefined;
    });
    // Only this destination's runs: the one running now, and those it continued as new from.
    expect(rows.map((r) => r.workflowId)).toEqual(rows.map(() => workflowId));
    expect(rows.filter((r) => r.status === 'Running')).toHaveLength(1);
    // Another state finds nothing of it.
    expect(await searchWorkflows(page, `SyncState="error" AND DestinationId="${destinationId}"`)).toEqual([]);
  }, STEP_MS);
});

describe('the Temporal Web UI steering a SAN migration', () => {
  const ACCOUNT = 'acct-ui';
  const ADVERTISER = '7000000000000000301';
  const workflowId = WorkflowIds.sanMigration(ACCOUNT);
  const OPERATOR = 'ops@mmp.example';
  let w: SanWorld | undefined;
  let program: Program | undefined;

  // Inside this block: its workers stop before the file's server does.
  beforeAll(async () => {
    w = await startSanWorld('ui', [ADVERTISER], { temporal: () => localTemporalSettings(session.server().address, NAMESPACE) });
  }, STEP_MS);
  afterAll(async () => {
    await w?.close();
  });

  /** The sanMigrationStatus query's answer as the Queries tab shows it (pretty-printed JSON). */
  async function shownSanStatus(page: Page): Promise<{ phase: string; enrolled: boolean; decisionKind: string | null; apps: [string, string][] }> {
    const text = await runQuery(page, workflowId, SAN_STATUS_QUERY, '"phase"');
    const top = (name: string): string => {
      const m = text.match(new RegExp(`^ {2}"${name}": (.*?),?$`, 'm'));
      if (!m?.[1]) throw new Error(`the query answer has no top-level "${name}":\n${text}`);
      return m[1];
    };
    // Each app is an object of the "apps" array: its id, then its state, four spaces deeper than the status.
    const apps = [...text.matchAll(/^ {6}"appId": "([^"]+)",$[\s\S]*?^ {6}"state": "([^"]+)",?$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]);
    const decision = top('decision');
    return {
      phase: JSON.parse(top('phase')) as string,
      enrolled: JSON.parse(top('enrolled')) as boolean,
      decisionKind: decision === 'null' ? null : ((text.match(/^ {4}"kind": "([^"]+)",?$/m)?.[1] ?? '?') as string),
      apps,
    };
  }

  it('starts an account\'s migration from the start-workflow form', async () => {
    const page = await stepPage('san-start-from-form');
    const world = ready(w);
    // What `ttsync san import` and `ttsync san program apply` put in the partner-config store.
    await importAccounts(world.stores.config, [account(ACCOUNT, ADVERTISER, [app('ui-android', 'android', '7200000000000000301'), app('ui-ios', 'ios', '7200000000000000302')])]);
    // A deadline well after the steps below, however slow the machine: nothing is due while the test runs.
    program = sanProgram({ programId: 'tiktok-san', revision: 'ui-1', mode: 'opt_in', deadlineIn: 3_600, provisioningIn: 3_700, targetIn: 7_200, reminderOffsets: ['10s'] });
    await world.stores.config.putProgram(program, null);
    // The operator pastes the account and the queue its activities run on; the program comes from the store.
    await startFromForm(page, workflowId, { accountId: ACCOUNT, activityQueue: world.queues.activityQueue }, { taskQueue: world.queues.taskQueue, workflowType: SanMigrationWorkflowType.migration });
    expect(await workflowStatus(page)).toBe('Running');
    await page.getByRole('link', { name: SanMigrationWorkflowType.migration, exact: true }).first().waitFor();
  }, STEP_MS);

  it('shows the phase and each app\'s state in the Queries tab', async () => {
    const page = await stepPage('san-status-query');
    const shown = await until('sanMigrationStatus answers', () => shownSanStatus(page));
    expect(shown).toEqual({
      phase: 'awaiting_decision',
      enrolled: false,
      decisionKind: null,
      apps: [
        ['ui-android', 'legacy'],
        ['ui-ios', 'legacy'],
      ],
    });
  }, STEP_MS);

  it('records an opt-in with Send an Update and shows it', async () => {
    const page = await stepPage('san-opt-in');
    const answer = await until('the optIn update answered', () => sendUpdate(page, workflowId, 'optIn', { by: OPERATOR, message: 'count us in' }));
    expect(answer.ok, answer.text).toBe(true);
    const shown = await until('the status shows the opt-in', async () => {
      const s = await shownSanStatus(page);
      return s.decisionKind === 'opt_in' ? s : undefined;
    });
    expect(shown).toMatchObject({ phase: 'awaiting_decision', enrolled: true });
    // What the page showed is what the partner-config store holds.
    expect((await ready(w).stores.config.getAccount(ACCOUNT))?.value.decision).toMatchObject({ kind: 'opt_in', by: OPERATOR, sentence: ready(program).sentences.optIn, programRevision: 'ui-1' });
  }, STEP_MS);

  it('shows why an opt-out after the opt-in is refused', async () => {
    const page = await stepPage('san-refused');
    const answer = await until('the optOut update answered', () => sendUpdate(page, workflowId, 'optOut', { by: OPERATOR }));
    expect(answer.ok, answer.text).toBe(false);
    // The validator's message: the program's mode and the decision it would undo.
    expect(answer.text).toContain('program tiktok-san is in opt-in mode');
    expect(answer.text).toContain(`already recorded an opt-in (by ${OPERATOR}`);
    // Refused before it reached history: the account is still enrolled.
    expect((await shownSanStatus(page)).decisionKind).toBe('opt_in');
    expect((await ready(w).stores.config.getAccount(ACCOUNT))?.value.decision?.kind).toBe('opt_in');
  }, STEP_MS);

  it('shows the right workflow id when a migration is started under a wrong one', async () => {
    const page = await stepPage('san-wrong-id');
    const world = ready(w);
    const wrongId = `san-migration-${ACCOUNT}`;
    await startFromForm(page, wrongId, { accountId: ACCOUNT, activityQueue: world.queues.activityQueue }, { taskQueue: world.queues.taskQueue, workflowType: SanMigrationWorkflowType.migration });
    const shown = await failureShown(page, wrongId);
    expect(shown).toMatch(/^ {6}"type": "WrongWorkflowId",?$/m);
    // The Result panel shows the failure event as JSON, its stack trace unescaped: the message line is read on its own.
    const message = shown.match(/^ {4}"message": (".*"),?$/m)?.[1];
    expect(message, shown).toBeDefined();
    expect(JSON.parse(message!)).toContain(`must run as workflow id "${workflowId}", not "${wrongId}"`);
  }, STEP_MS);
});

describe('the Temporal Web UI steering an events export', () => {
  const ADVERTISER = '7100000000000000401';
  const TOKEN_VAR = 'TTSYNC_TEST_UI_EVENTS_TOKEN';
  const ROWS = 40;
  // Inside this block: its workers stop before the file's server does.
  const ev = useEventsHarness({ name: 'ui-events', temporal: () => localTemporalSettings(session.server().address, NAMESPACE) });
  let config: EventsDestinationConfigInput | undefined;
  let workflowId = '';
  let expected: { rows: number; good: number; rejected: Record<string, number> } | undefined;

  /** What an operator pastes into the start form: the config, the file that landed, and the queues its activities run on. */
  const formInput = (c: EventsDestinationConfigInput, uri?: string): EventsExportInput => ({
    config: c,
    ...(uri ? { input: { uri } } : {}),
    queues: ev.queues,
    timing: { cadence: '1h', heartbeatTimeout: '30s' },
  });

  /** The eventsExportStatus query's answer as the Queries tab shows it (pretty-printed JSON). */
  async function shownEventsStatus(page: Page): Promise<EventsExportStatus> {
    const text = await runQuery(page, workflowId, 'eventsExportStatus', '"phase"');
    try {
      return JSON.parse(text) as EventsExportStatus;
    } catch {
      throw new Error(`the Queries tab shows no whole JSON status:\n${text}`);
    }
  }

  it('starts an events export from the start-workflow form with the file that landed', async () => {
    const page = await stepPage('events-start-from-form');
    // A pixel code: 20 upper-case letters and digits, unique per run of the test.
    const pixel = `UI${Date.now().toString(36).toUpperCase()}`.padEnd(20, '0').slice(0, 20);
    await ev.sourceToken(pixel, ADVERTISER, TOKEN_VAR);
    config = {
      destinationId: `ui-events-${Date.now().toString(36)}`,
      source: 'web',
      eventSourceId: pixel,
      accessToken: `env:${TOKEN_VAR}`,
      input: { kind: 'files' },
      event: { standard: 'Purchase' },
      eventTimeField: 'ts',
      identifiers: { email: 'email', external_id: 'uid' },
      properties: { value: 'value', currency: 'currency' },
      defaultCountry: 'US',
    };
    // Every fifth row has an address that is no email, every seventh (of the others) a currency that is no ISO code.
    const rejected: Record<string, number> = {};
    const lines = ['ts,email,uid,value,currency'];
    for (let i = 0; i < ROWS; i++) {
      const badEmail = i % 5 === 3;
      const badCurrency = !badEmail && i % 7 === 6;
      if (badEmail) rejected.invalid_email = (rejected.invalid_email ?? 0) + 1;
      if (badCurrency) rejected.invalid_currency = (rejected.invalid_currency ?? 0) + 1;
      const at = new Date(Date.now() - (i + 1) * 60_000).toISOString();
      lines.push([at, badEmail ? `buyer-${i}-at-example.com` : `buyer-${i}@example.com`, `ui-user-${i}`, `${i + 1}.50`, badCurrency ? 'DOLLARS' : 'USD'].join(','));
    }
    const bad = Object.values(rejected).reduce((a, b) => a + b, 0);
    expected = { rows: ROWS, good: ROWS - bad, rejected };
    const file = join(ev.dir, 'purchases.csv');
    writeFileSync(file, lines.join('\n') + '\n');
    workflowId = WorkflowIds.eventsExport(config.destinationId);
    ev.started.push(workflowId);
    await startFromForm(page, workflowId, formInput(config, `file://${file}`), { taskQueue: ev.taskQueue, workflowType: EventsExportWorkflowType.export });
    await page.getByRole('link', { name: EventsExportWorkflowType.export, exact: true }).first().waitFor();
    await page.getByRole('link', { name: ev.taskQueue, exact: true }).first().waitFor();
  }, STEP_MS);

  it('shows the last run\'s counts in the Queries tab, equal to the file\'s', async () => {
    const page = await stepPage('events-status-query');
    expect(workflowId, 'the export was started from the form').not.toBe('');
    const status = await until('eventsExportStatus shows the run exported', async () => {
      const s = await shownEventsStatus(page);
      return s.lastRun && s.currentRunId === null ? s : undefined;
    });
    const want = ready(expected);
    expect(status).toMatchObject({ phase: 'exported', paused: false, runs: 1, lastError: null });
    expect(status.lastRun).toMatchObject({ rows: want.rows, events: want.good, sent: want.good, rejected: want.rejected, ok: true });
    // What the page showed is what TikTok (the emulator) received.
    expect(await ev.source(ready(config).eventSourceId)).toMatchObject({ received: want.good, rejected: 0 });
  }, STEP_MS);

  it('pauses and resumes it with Send a Signal', async () => {
    const page = await stepPage('events-pause-resume');
    expect(workflowId, 'the export was started from the form').not.toBe('');
    for (const [signal, paused] of [
      ['pause', true],
      ['resume', false],
    ] as const) {
      await until(`signal ${signal} sent`, () => sendSignal(page, workflowId, signal));
      const s = await until(`status shows paused ${paused}`, async () => {
        const st = await shownEventsStatus(page);
        return st.paused === paused ? st : undefined;
      });
      // Pausing holds the next run; it leaves the last one as it was.
      expect(s).toMatchObject({ phase: 'exported', runs: 1 });
    }
  }, STEP_MS);

  it('shows the right workflow id when an export is started under a wrong one', async () => {
    const page = await stepPage('events-wrong-id');
    const c = ready(config);
    const wrongId = `events-${c.destinationId}`;
    await startFromForm(page, wrongId, formInput(c), { taskQueue: ev.taskQueue, workflowType: EventsExportWorkflowType.export });
    const shown = await failureShown(page, wrongId);
    expect(shown).toMatch(/^ {6}"type": "WrongWorkflowId",?$/m);
    // The message line is read on its own (the Result panel shows the stack trace unescaped).
    const message = shown.match(/^ {4}"message": (".*"),?$/m)?.[1];
    expect(message, shown).toBeDefined();
    expect(JSON.parse(message!)).toContain(`must run as workflow id "${WorkflowIds.eventsExport(c.destinationId)}", not "${wrongId}"`);
  }, STEP_MS);
});
