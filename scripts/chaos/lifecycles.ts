import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { RunningEmulator } from '../../src/emulator';
import { startRetention } from '../../src/retention/client';
import type { DatasetConfigInput } from '../../src/retention/config';
import type { RetentionRunSummary } from '../../src/retention/messages';
import { announceCutover, importAccounts } from '../../src/san-migration/client';
import { sanMigrationStatusQuery, type SanMigrationInput, type SanMigrationStatus } from '../../src/san-migration/messages';
import { AccountSchema, ProgramSchema, type AccountInput, type Program } from '../../src/san-migration/model';
import { openSanStores } from '../../src/san-migration/stores';
import { TaskQueues } from '../../src/temporal/taskQueues';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { startUsageReport } from '../../src/usage-report/client';
import type { UsageAdvertiser, UsageReportResult } from '../../src/usage-report/messages';
import {
  dayTotals,
  expectedRetentionAggregate,
  expectedRetentionPartition,
  expectedUsageCsv,
  noticeMailId,
  parseRetentionAggregate,
  retentionDataset,
  sameSums,
  type RetentionDataset,
  type UsageAdgroupPlan,
  type UsageSegmentPlan,
} from './expected';
import { getObject, listObjects, putObject, type MailpitProcess, type MailSummary } from './processes';

/*
 * The lifecycles beside audience sync and events export in a chaos run: a SAN migration of
 * two accounts (one opts in and is provisioned and cut over, one lets the deadline pass), a
 * retention dataset run "daily" (each run one as-of day later), and a month's usage report of
 * one 3PD destination, run again once it is done. Each prepares its inputs, drives its
 * workflows while the chaos goes on, says when it has settled, and checks the end state
 * against expectations computed in expected.ts, never by the code under test. Their
 * documents live in the bucket behind the fault proxy; their notices go through SMTP to Mailpit.
 */

export interface ChaosWorld {
  client: Client;
  emu: RunningEmulator;
  /** fake-gcs-server itself (the check reads it directly, not through the proxy). */
  gcsEndpoint: string;
  bucket: string;
  mailpit: MailpitProcess;
  /** Secret reference of the TikTok token the workers resolve (env:…). */
  tokenRef: string;
  /** Operators' address (the workers' TTSYNC_NOTICE_EMAIL). */
  operators: string;
  /** Planned length of the chaos. */
  chaosMs: number;
  /** Retries a client call while the server is down or restarting. */
  persist<T>(what: string, fn: () => Promise<T>, untilMs?: number): Promise<T>;
  /** False once the run gave up (settling timed out): drivers stop. */
  going(): boolean;
  log(line: string): void;
}

export interface LifecycleCheck {
  lifecycle: string;
  finished: boolean;
  lost: number;
  duplicated: number;
  unexpected: number;
  lines: string[];
  /** Message-IDs of the notices this check counted (their copies are in its duplicated). */
  noticeIds: string[];
}

export interface ChaosLifecycle {
  readonly name: string;
  /** Inputs in place and the first workflows started, before the chaos begins. */
  prepare(): Promise<void>;
  /** Runs beside the chaos and the settling until its work is given (or the run gives up). */
  drive(): Promise<void>;
  /** Whether it is done (may poll the server; false while it cannot tell). */
  settled(): Promise<boolean>;
  check(notices: NoticeLedger): Promise<LifecycleCheck>;
}

export const LIFECYCLES = ['san-migration', 'retention', 'usage-report'] as const;
export type LifecycleName = (typeof LIFECYCLES)[number];

const SAN_ADVERTISERS = ['7300000000000008001', '7300000000000008002'] as const;
const USAGE_ADVERTISER = '7300000000000009001';
/** The advertisers the run's TikTok token must cover for these lifecycles. */
export const LIFECYCLE_ADVERTISERS = [...SAN_ADVERTISERS, USAGE_ADVERTISER];

export function lifecyclesFor(names: readonly LifecycleName[], w: ChaosWorld): ChaosLifecycle[] {
  const make = { 'san-migration': sanMigrationLifecycle, retention: retentionLifecycle, 'usage-report': usageReportLifecycle } as const;
  return names.map((n) => make[n](w));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const errorText = (err: unknown): string => {
  const parts: string[] = [];
  for (let e = err as { message?: string; cause?: unknown } | undefined, d = 0; e && d < 5; e = e.cause as typeof e, d++) if (e.message) parts.push(e.message);
  return parts.join(': ');
};

/** Closed status of the latest run of a workflow id, or null while it runs (or the server does not answer). */
async function closedStatus(w: ChaosWorld, workflowId: string): Promise<string | null> {
  try {
    const d = await w.client.withDeadline(Date.now() + 10_000, () => w.client.workflow.getHandle(workflowId).describe());
    return d.status.name === 'RUNNING' ? null : d.status.name;
  } catch {
    return null;
  }
}

/**
 * Every message Mailpit received, by Message-ID: what the checks count notices against. A
 * notice is one email whatever its retries; two copies of one Message-ID are a duplicate.
 */
export class NoticeLedger {
  readonly byId = new Map<string, MailSummary[]>();
  constructor(readonly all: MailSummary[]) {
    for (const m of all) this.byId.set(m.MessageID, [...(this.byId.get(m.MessageID) ?? []), m]);
  }
  copies(key: string): MailSummary[] {
    return this.byId.get(noticeMailId(key)) ?? [];
  }
  /** Message-IDs that arrived more than once. */
  duplicates(): { messageId: string; copies: number; subject: string }[] {
    return [...this.byId].filter(([, ms]) => ms.length > 1).map(([id, ms]) => ({ messageId: id, copies: ms.length, subject: ms[0]!.Subject }));
  }
}

/** Compares one expected notice with what arrived: lost (none), duplicated (copies beyond one), wrong recipients (unexpected). */
function noticeOutcome(ledger: NoticeLedger, key: string, to: string[]): { lost: number; duplicated: number; unexpected: number; problem?: string } {
  const copies = ledger.copies(key);
  if (!copies.length) return { lost: 1, duplicated: 0, unexpected: 0, problem: `notice ${key} never arrived` };
  const wrong = copies.filter((m) => JSON.stringify(m.To.map((t) => t.Address).sort()) !== JSON.stringify([...to].sort())).length;
  return { lost: 0, duplicated: copies.length - 1, unexpected: wrong, ...(copies.length > 1 || wrong ? { problem: `notice ${key}: ${copies.length} copies, ${wrong} to other recipients than ${to.join(', ')}` } : {}) };
}

// --- SAN migration -----------------------------------------------------------------------

const SAN_NETWORK = 'TikTok for Business – SAN';
const LEGACY_NAMES = { android: 'TikTok for Business – Android', ios: 'TikTok for Business – iOS' } as const;

interface SanApp {
  appId: string;
  platform: 'android' | 'ios';
  storeAppId: string;
  tiktokAppId: string;
  legacy: { trackerLinks: { clickUrl: string; impressionUrl?: string }; eventMapping: { partnerEvent: string; tiktokEvent: string }[]; fraudPostbacks: boolean; networkName: string };
}

export function sanMigrationLifecycle(w: ChaosWorld): ChaosLifecycle {
  const prefix = 'san';
  const stores = openSanStores(`gs://${w.bucket}/${prefix}`, { gcs: { apiEndpoint: w.gcsEndpoint, projectId: 'ttsync-chaos' } });
  const app = (id: string, platform: 'android' | 'ios', n: number): SanApp => ({
    appId: id,
    platform,
    storeAppId: platform === 'ios' ? `id99900${n}` : `com.example.chaos${n}`,
    tiktokAppId: `72000000000000080${String(n).padStart(2, '0')}`,
    legacy: {
      trackerLinks: { clickUrl: `https://track.mmp.example/click?app=${id}&c=__CAMPAIGN_ID__&cb=__CALLBACK_PARAM__`, impressionUrl: `https://track.mmp.example/view?app=${id}&c=__CAMPAIGN_ID__` },
      eventMapping: [{ partnerEvent: 'purchase', tiktokEvent: 'Purchase' }, ...(platform === 'android' ? [{ partnerEvent: 'signup', tiktokEvent: 'Registration' }] : [])],
      fraudPostbacks: platform === 'android',
      networkName: LEGACY_NAMES[platform],
    },
  });
  // chaos-san-1 opts in: provisioned on the date, both apps cut over at TikTok's (short-notice) time.
  // chaos-san-2 never answers: one reminder, then it keeps its legacy integration.
  const accounts = [
    { accountId: 'chaos-san-1', advertiserId: SAN_ADVERTISERS[0], apps: [app('san1-android', 'android', 1), app('san1-ios', 'ios', 2)] },
    { accountId: 'chaos-san-2', advertiserId: SAN_ADVERTISERS[1], apps: [app('san2-android', 'android', 3)] },
  ];
  const contact = (accountId: string): string => `ua@${accountId}.example`;
  const [optIn, silent] = accounts as [(typeof accounts)[0], (typeof accounts)[0]];
  // Dates seconds apart: the deadline a third into the chaos (40 s .. 2 min), provisioning 5 s
  // later; the target far away (the opted-in account completes when its apps are cut over).
  // The one reminder is due from the start, and the chaos begins only once both workflows have
  // loaded their accounts: the silent account's first plan sends it. (A workflow that first
  // plans after the deadline sends none, and under kills a first plan can come 30-50 s late.)
  // The opted-in account answered before the program started (its decision is in the store it
  // imports), so it gets none: an opt-in still being recorded by an Update when a reminder
  // falls due does not stop that reminder.
  const decisionMs = Math.min(120_000, Math.max(30_000, Math.round(w.chaosMs / 3)));
  const reminderS = Math.round(decisionMs / 1000);
  let program: Program | undefined;
  const cutoverAt = new Map<string, string>();
  let announced = false;
  const notes: string[] = [];

  const status = async (accountId: string): Promise<SanMigrationStatus | null> => {
    try {
      return await w.client.withDeadline(Date.now() + 10_000, () => w.client.workflow.getHandle(WorkflowIds.sanMigration(accountId)).query(sanMigrationStatusQuery));
    } catch {
      return null;
    }
  };

  return {
    name: 'san-migration',
    async prepare() {
      const sentences = { optIn: 'Please include our account in the automatic SAN migration.', optOut: 'Please leave our account out of the automatic SAN migration.' };
      const decision = { kind: 'opt_in' as const, by: `cto@${optIn.accountId}.example`, at: new Date().toISOString(), sentence: sentences.optIn, programId: 'tiktok-san', programRevision: 'chaos-1' };
      await importAccounts(
        stores.config,
        accounts.map((a) =>
          AccountSchema.parse({ ...a, contacts: [{ email: contact(a.accountId) }], accessToken: w.tokenRef, apps: a.apps, ...(a === optIn ? { decision } : {}) } satisfies AccountInput),
        ),
      );
      const at = (ms: number): string => new Date(Date.now() + ms).toISOString();
      program = ProgramSchema.parse({
        programId: 'tiktok-san',
        revision: 'chaos-1',
        mode: 'opt_in',
        decisionDeadline: at(decisionMs),
        provisioningDate: at(decisionMs + 5_000),
        targetCompletionDate: at(30 * 86_400_000),
        reminderOffsets: [`${reminderS}s`],
        sentences,
      });
      // In the store too: a run started again by an update-with-start reads it there.
      const current = await stores.config.getProgram();
      await stores.config.putProgram(program, current?.version ?? null);
      for (const a of accounts) {
        const input: SanMigrationInput = { accountId: a.accountId, program, activityTimeout: '15s' };
        await w.persist(`start the SAN migration of ${a.accountId}`, async () => {
          try {
            await w.client.workflow.start('sanMigration', { workflowId: WorkflowIds.sanMigration(a.accountId), taskQueue: TaskQueues.control, args: [input] });
          } catch (err) {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          }
        });
      }
      for (const a of accounts) {
        const until = Date.now() + 120_000;
        while ((await status(a.accountId)) === null) {
          if (Date.now() > until) throw new Error(`the SAN migration of ${a.accountId} did not load its account within 2 minutes`);
          await sleep(500);
        }
      }
    },

    async drive() {
      // TikTok announces both cutovers once the apps are provisioned: 10 s ahead, short of the
      // program's 7 days (so each gets a short_notice to operators as well).
      while (!announced && w.going()) {
        const s = await status(optIn.accountId);
        if (s && s.apps.every((a) => a.state === 'provisioned' || a.state === 'notice_sent' || a.state === 'cut_over')) {
          const at = new Date(Date.now() + 10_000).toISOString();
          for (const a of optIn.apps) if (!cutoverAt.has(a.appId)) cutoverAt.set(a.appId, at);
          for (const a of optIn.apps) {
            for (;;) {
              if (!w.going()) return;
              try {
                await w.client.withDeadline(Date.now() + 20_000, () => announceCutover(w.client, optIn.accountId, { appId: a.appId, at: cutoverAt.get(a.appId)! }));
                break;
              } catch (err) {
                // An earlier attempt landed and TikTok's time came: nothing left to announce.
                if (/was cut over/.test(errorText(err))) break;
                await sleep(1_000);
              }
            }
          }
          announced = true;
          return;
        }
        await sleep(1_000);
      }
    },

    async settled() {
      if (!announced) return false;
      for (const a of accounts) if ((await closedStatus(w, WorkflowIds.sanMigration(a.accountId))) === null) return false;
      return true;
    },

    async check(ledger) {
      const out: LifecycleCheck = { lifecycle: 'san-migration', finished: true, lost: 0, duplicated: 0, unexpected: 0, lines: [], noticeIds: [] };
      const problems: string[] = [...notes];
      const p = program!;
      for (const a of accounts) {
        const closed = await closedStatus(w, WorkflowIds.sanMigration(a.accountId));
        if (closed !== 'COMPLETED') {
          out.finished = false;
          problems.push(`${a.accountId}: workflow ${closed ?? 'still running'}`);
        }
      }
      // The partner-config store: the opted-in account's apps each carry a SAN integration that
      // mirrors the legacy one, attribute through SAN under the SAN network name from TikTok's
      // time, and keep their legacy setup (tracker links, event mapping) as imported.
      const stored = async (accountId: string) => {
        const raw = await getObject(w.gcsEndpoint, w.bucket, `${prefix}/accounts/${accountId}.json`);
        return raw ? (JSON.parse(raw.toString('utf8')) as { apps: (SanApp & { san?: Record<string, unknown>; active?: string; reportingNetworkName?: string; cutover?: { at: string } })[]; decision?: { kind: string } }) : null;
      };
      const one = await stored(optIn.accountId);
      let storeWrong = 0;
      for (const want of optIn.apps) {
        const got = one?.apps.find((x) => x.appId === want.appId);
        const expected = {
          legacy: JSON.stringify(want.legacy),
          san: JSON.stringify({ tiktokAppId: want.tiktokAppId, eventMapping: want.legacy.eventMapping, fraudPostbacks: want.legacy.fraudPostbacks, source: 'provisioned' }),
          active: 'san',
          network: SAN_NETWORK,
          at: cutoverAt.get(want.appId),
        };
        const san = got?.san ? { tiktokAppId: got.san.tiktokAppId, eventMapping: got.san.eventMapping, fraudPostbacks: got.san.fraudPostbacks, source: got.san.source } : null;
        const actual = { legacy: JSON.stringify(got?.legacy), san: JSON.stringify(san), active: got?.active, network: got?.reportingNetworkName, at: got?.cutover?.at };
        if (JSON.stringify(actual) !== JSON.stringify(expected)) {
          storeWrong++;
          problems.push(`${optIn.accountId}/${want.appId} in the store: ${JSON.stringify(actual)}, expected ${JSON.stringify(expected)}`);
        }
      }
      if (one?.decision?.kind !== 'opt_in') problems.push(`${optIn.accountId}: decision ${JSON.stringify(one?.decision)} in the store`);
      const two = await stored(silent.accountId);
      for (const want of silent.apps) {
        const got = two?.apps.find((x) => x.appId === want.appId);
        if (!got || got.san || (got.active ?? 'legacy') !== 'legacy' || JSON.stringify(got.legacy) !== JSON.stringify(want.legacy)) {
          storeWrong++;
          problems.push(`${silent.accountId}/${want.appId} must keep its legacy integration untouched: ${JSON.stringify(got)}`);
        }
      }
      // The BI mapping file of each cut-over app: one object, the rename at TikTok's time.
      const mappings = await listObjects(w.gcsEndpoint, w.bucket, `${prefix}/bi-mappings/`);
      let mappingWrong = 0;
      for (const want of optIn.apps) {
        const at = cutoverAt.get(want.appId) ?? '';
        const mine = mappings.filter((m) => m.startsWith(`${prefix}/bi-mappings/${optIn.accountId}/${want.appId}.`));
        const text = mine.length === 1 ? (await getObject(w.gcsEndpoint, w.bucket, mine[0]!))?.toString('utf8') : undefined;
        const expected = `old_network_name,new_network_name,app_id,platform,effective_time\n${want.legacy.networkName},${SAN_NETWORK},${want.appId},${want.platform},${at}\n`;
        if (text !== expected) {
          mappingWrong++;
          problems.push(`BI mapping of ${want.appId}: ${mine.length} objects${text !== undefined ? `, text ${JSON.stringify(text)}` : ''}; expected one with ${JSON.stringify(expected)}`);
        }
      }
      if (mappings.some((m) => m.includes(`/${silent.accountId}/`))) problems.push(`${silent.accountId} has a BI mapping file but never cut over`);
      // TikTok: the migration reads campaign status and never changes it.
      const changes = w.emu.state.statusChanges.length;
      if (changes) problems.push(`TikTok holds ${changes} campaign status changes`);
      const paused = [...(await campaignsOf(w, optIn.advertiserId)), ...(await campaignsOf(w, silent.advertiserId))].filter((c) => c.operation_status !== 'ENABLE');
      if (paused.length) problems.push(`campaigns not running: ${paused.map((c) => c.campaign_id).join(', ')}`);
      // Notices: exactly these, each once, to these people.
      const contacts = (id: string): string[] => [contact(id)];
      const want: { key: string; to: string[] }[] = [
        { key: `san-migration/${silent.accountId}/reminder/${p.decisionDeadline}/${reminderS}s`, to: contacts(silent.accountId) },
        { key: `san-migration/${optIn.accountId}/provisioned/${p.provisioningDate}/${optIn.apps.map((a) => a.appId).join('+')}`, to: contacts(optIn.accountId) },
        ...optIn.apps.flatMap((a) => {
          const at = cutoverAt.get(a.appId) ?? '';
          return [
            { key: `san-migration/${optIn.accountId}/cutover_notice/cutover/${a.appId}/${at}`, to: contacts(optIn.accountId) },
            { key: `san-migration/${optIn.accountId}/short_notice/short-notice/${a.appId}/${at}`, to: [w.operators] },
            { key: `san-migration/${optIn.accountId}/cut_over/${a.appId}/${at}`, to: contacts(optIn.accountId) },
          ];
        }),
      ];
      let noticesLost = 0;
      let noticesDup = 0;
      for (const n of want) {
        const o = noticeOutcome(ledger, n.key, n.to);
        noticesLost += o.lost;
        noticesDup += o.duplicated;
        out.unexpected += o.unexpected;
        if (o.problem) problems.push(o.problem);
      }
      const wantIds = new Set(want.map((n) => noticeMailId(n.key)));
      out.noticeIds.push(...wantIds);
      const stray = ledger.all.filter((m) => !wantIds.has(m.MessageID) && (m.To.some((t) => t.Address.endsWith('.example') && t.Address.startsWith('ua@chaos-san-')) || /chaos-san-/.test(m.Subject)));
      if (stray.length) problems.push(`notices nobody expected: ${stray.map((m) => m.Subject).join('; ')}`);
      out.lost += noticesLost + storeWrong + mappingWrong;
      out.duplicated += noticesDup;
      out.unexpected += stray.length + changes + paused.length;
      out.lines.push(
        `  san-migration: ${accounts.length} accounts; ${optIn.accountId} opted in, provisioned, ${optIn.apps.length} apps cut over (store ${storeWrong ? `${storeWrong} WRONG` : 'exact'}, BI mappings ${mappingWrong ? `${mappingWrong} WRONG` : 'exact'}); ${silent.accountId} kept legacy; ` +
          `campaign status changes ${changes}, campaigns not running ${paused.length}; notices ${want.length} expected, lost ${noticesLost}, duplicated ${noticesDup}, stray ${stray.length}`,
        ...problems.map((x) => `    ${x}`),
      );
      return out;
    },
  };
}

async function campaignsOf(w: ChaosWorld, advertiserId: string): Promise<{ campaign_id: string; operation_status: string }[]> {
  const res = await fetch(`${w.emu.apiBaseUrl}/campaign/get/?advertiser_id=${advertiserId}`, { headers: { 'Access-Token': w.emu.control.issueToken([advertiserId]) } });
  const body = (await res.json()) as { code: number; data?: { list?: { campaign_id: string; operation_status: string }[] } };
  if (body.code !== 0 || !body.data?.list) throw new Error(`campaign/get of ${advertiserId}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.data.list;
}

// --- retention ---------------------------------------------------------------------------

export function retentionLifecycle(w: ChaosWorld): ChaosLifecycle {
  const datasetId = 'chaos-retention';
  const prefix = `retention/${datasetId}`;
  const config: DatasetConfigInput = {
    datasetId,
    records: { uri: `gs://${w.bucket}/${prefix}/records`, format: 'csv', extraUserLevelColumns: ['country'] },
    aggregates: [{ name: 'installs_by_day', uri: `gs://${w.bucket}/${prefix}/aggregates`, metricColumns: ['installs', 'events', 'revenue'] }],
    audit: `gs://${w.bucket}/${prefix}/audit`,
    parallelism: 2,
  };
  // 3 weeks of partitions around 1 April 2026: each "daily" run (as of 1 October, then one day
  // later each time) finds a day more past the 6-month window.
  const data: RetentionDataset = retentionDataset('2026-03-27', 21, 30, 18);
  const firstAsOf = '2026-10-01';
  const runs: { asOf: string; runId: string; summary?: RetentionRunSummary; failed?: string }[] = [];
  let current: { asOf: string; runId: string } | null = null;
  let stopStarting = false;
  const nextAsOf = (): string => new Date(Date.parse(`${firstAsOf}T00:00:00Z`) + runs.length * 86_400_000).toISOString().slice(0, 10);

  let starting = false;
  const startRun = async (): Promise<void> => {
    const asOf = nextAsOf();
    const h = await w.persist(`start retention as of ${asOf}`, () =>
      startRetention(w.client, { config, asOf, timing: { heartbeatTimeout: '5s', dataStepTimeout: '15s' } }),
    );
    current = { asOf, runId: h.firstExecutionRunId };
    runs.push({ asOf, runId: h.firstExecutionRunId });
  };

  return {
    name: 'retention',
    async prepare() {
      for (const [name, text] of data.partitions) await putObject(w.gcsEndpoint, w.bucket, `${prefix}/${name}`, text);
      await putObject(w.gcsEndpoint, w.bucket, `${prefix}/aggregates/installs_by_day.csv`, data.aggregate);
      await startRun();
    },

    async drive() {
      // One run at a time (the dataset's one id), the next as of the following day.
      while (w.going()) {
        const c = current as { asOf: string; runId: string } | null;
        if (!c) return;
        const r = runs.find((x) => x.runId === c.runId)!;
        try {
          r.summary = await w.client.withDeadline(Date.now() + 30_000, () => w.client.workflow.getHandle(WorkflowIds.retention(datasetId), c.runId).result());
        } catch (err) {
          const closed = await closedStatus(w, WorkflowIds.retention(datasetId));
          if (closed === null || closed === 'COMPLETED') {
            await sleep(500);
            continue;
          }
          r.failed = `${closed}: ${errorText(err)}`;
        }
        if (stopStarting || !w.going()) {
          current = null;
          return;
        }
        starting = true;
        current = null;
        try {
          await startRun();
        } finally {
          starting = false;
        }
      }
    },

    async settled() {
      stopStarting = true;
      return current === null && !starting;
    },

    async check() {
      const out: LifecycleCheck = { lifecycle: 'retention', finished: current === null && runs.every((r) => r.summary), lost: 0, duplicated: 0, unexpected: 0, lines: [], noticeIds: [] };
      const problems: string[] = [];
      for (const r of runs) if (r.failed) problems.push(`run as of ${r.asOf} (${r.runId}) ended ${r.failed}`);
      const done = runs.filter((r) => r.summary);
      const asOf = done.at(-1)?.asOf;
      if (!asOf) {
        out.lines.push('  retention: NO RUN FINISHED', ...problems.map((x) => `    ${x}`));
        out.finished = false;
        return out;
      }
      // Partitions: byte for byte what the policy leaves on the last as-of day.
      let anonymized = 0;
      let rows = 0;
      let rowsNow = 0;
      let wrongObjects = 0;
      for (const [name, original] of data.partitions) {
        const want = expectedRetentionPartition(original, asOf);
        anonymized += want.anonymized;
        rows += want.rows;
        const got = (await getObject(w.gcsEndpoint, w.bucket, `${prefix}/${name}`))?.toString('utf8');
        rowsNow += got === undefined ? 0 : got.split('\n').filter((l, i) => i > 0 && l !== '').length;
        if (got !== want.text) {
          wrongObjects++;
          // Which rows differ: a TikTok row past the window still readable is lost privacy; any other change is unexpected.
          const g = (got ?? '').split('\n');
          const e = want.text.split('\n');
          const o = original.split('\n');
          const bad: number[] = [];
          for (let i = 0; i < Math.max(g.length, e.length); i++) {
            if (g[i] === e[i]) continue;
            bad.push(i + 1);
            if (g[i] === o[i]) out.lost++;
            else out.unexpected++;
          }
          problems.push(`${name}: ${bad.length} lines differ from the expected bytes (first: line ${bad[0]})`);
        }
      }
      const extra = (await listObjects(w.gcsEndpoint, w.bucket, `${prefix}/records/`)).filter((n) => !data.partitions.has(n.slice(prefix.length + 1)));
      if (extra.length) {
        out.unexpected += extra.length;
        problems.push(`objects nobody wrote: ${extra.join(', ')}`);
      }
      // The aggregate: per-day totals kept, TikTok rows of days past the window merged into Organic, every other line as it was.
      const aggNow = (await getObject(w.gcsEndpoint, w.bucket, `${prefix}/aggregates/installs_by_day.csv`))?.toString('utf8') ?? '';
      const parsedNow = parseRetentionAggregate(aggNow);
      const original = parseRetentionAggregate(data.aggregate);
      const wantAgg = expectedRetentionAggregate(data.aggregate, asOf);
      const totalsKept = sameSums(dayTotals(parsedNow.rows), dayTotals(original.rows));
      const rowsRight = sameSums(parsedNow.rows, wantAgg.rows) && parsedNow.duplicates === 0;
      const keptMissing = wantAgg.keptLines.filter((l) => !parsedNow.lines.includes(l)).length;
      if (!totalsKept) problems.push('aggregate: per-day totals changed');
      if (!rowsRight) problems.push(`aggregate: rows differ from the expected merge (${parsedNow.rows.size} rows, expected ${wantAgg.rows.size}; ${parsedNow.duplicates} repeated)`);
      if (keptMissing) problems.push(`aggregate: ${keptMissing} lines that must stay byte for byte changed`);
      if (!totalsKept || !rowsRight || keptMissing) out.unexpected++;
      // The audit: one record per finished run, and together they count every anonymized row and moved aggregate row once.
      const records = await listObjects(w.gcsEndpoint, w.bucket, `${prefix}/audit/${datasetId}/runs/`);
      const byRun = new Map<string, number>();
      let auditedRows = 0;
      let auditedMoved = 0;
      for (const name of records) {
        const r = JSON.parse((await getObject(w.gcsEndpoint, w.bucket, name))!.toString('utf8')) as { runId: string; rowsAnonymized: number; aggregates: { rowsMoved: number }[] };
        byRun.set(r.runId, (byRun.get(r.runId) ?? 0) + 1);
        auditedRows += r.rowsAnonymized;
        auditedMoved += r.aggregates.reduce((a, x) => a + x.rowsMoved, 0);
      }
      const missingRecords = done.filter((r) => !byRun.has(r.runId)).length;
      const extraRecords = [...byRun].reduce((a, [id, k]) => a + (done.some((r) => r.runId === id) ? k - 1 : k), 0);
      if (missingRecords || extraRecords) problems.push(`audit: ${records.length} run records for ${done.length} finished runs (${missingRecords} missing, ${extraRecords} extra)`);
      if (auditedRows !== anonymized) problems.push(`audit: ${auditedRows} rows anonymized in the records, expected ${anonymized}`);
      if (auditedMoved !== wantAgg.moved) problems.push(`audit: ${auditedMoved} aggregate rows moved in the records, expected ${wantAgg.moved}`);
      out.lost += missingRecords;
      out.duplicated += extraRecords + Math.max(0, auditedRows - anonymized) + Math.max(0, auditedMoved - wantAgg.moved);
      out.unexpected += Math.max(0, anonymized - auditedRows) + Math.max(0, wantAgg.moved - auditedMoved);
      out.lines.push(
        `  retention: ${done.length} daily runs (as of ${firstAsOf} .. ${asOf}) over ${data.partitions.size} partitions, ${rows} rows (${rowsNow} now); ${anonymized} TikTok rows past the window expected anonymized, ` +
          `${wrongObjects} partitions differ; aggregate ${totalsKept && rowsRight && !keptMissing ? 'exact' : 'WRONG'} (${wantAgg.moved} TikTok rows moved to Organic, per-day totals ${totalsKept ? 'kept' : 'CHANGED'}); audit ${records.length} records, ${auditedRows} rows`,
        ...problems.map((x) => `    ${x}`),
      );
      if (rowsNow !== rows) out.lost += Math.abs(rows - rowsNow);
      return out;
    },
  };
}

// --- usage report ------------------------------------------------------------------------

export function usageReportLifecycle(w: ChaosWorld): ChaosLifecycle {
  const advertiserId = USAGE_ADVERTISER;
  const month = '2026-10';
  const segment: UsageSegmentPlan = { audienceId: '7100000000000009101', providerId: 'chaos-data', segmentId: 'in-market-autos', destinationId: 'chaos-3pd-1', pricePercent: '12.5' };
  const adgroups: UsageAdgroupPlan[] = [
    { adgroupId: '8800000000000009011', campaignId: '8800000000000009001', campaignName: 'Chaos autumn', adgroupName: 'Segment only', audienceIds: [segment.audienceId] },
    { adgroupId: '8800000000000009012', campaignId: '8800000000000009001', campaignName: 'Chaos autumn', adgroupName: 'Segment and first party', audienceIds: [segment.audienceId, '7100000000000009999'] },
    { adgroupId: '8800000000000009013', campaignId: '8800000000000009002', campaignName: 'Chaos retargeting', adgroupName: 'No segment', audienceIds: ['7100000000000009999'] },
  ];
  const contact = 'usage@chaos-buyer.example';
  const advertiser: UsageAdvertiser = {
    advertiserId,
    accessToken: w.tokenRef,
    timeZone: 'UTC',
    dayOfMonth: 2,
    hour: 6,
    settle: '3d',
    storage: `gs://${w.bucket}/usage`,
    segments: [{ destinationId: segment.destinationId, sourceSegmentId: 'chaos-in-market', audienceId: segment.audienceId, providerId: segment.providerId, segmentId: segment.segmentId, pricePercent: segment.pricePercent, currency: 'USD', reportingContacts: [contact] }],
  };
  const workflowId = WorkflowIds.usageReport(advertiserId, month);
  // The month's report, then the same again (an operator's rerun): one email in all.
  const runs: { runId: string; result?: UsageReportResult; failed?: string }[] = [];
  let current: string | null = null;

  const start = async (): Promise<void> => {
    const h = await w.persist(`start the usage report ${workflowId}`, () => startUsageReport(w.client, { advertiser, month, timing: { noticeTimeout: '15s', heartbeatTimeout: '15s' } }));
    current = h.firstExecutionRunId;
    runs.push({ runId: current });
  };

  return {
    name: 'usage-report',
    async prepare() {
      const res = await fetch(`${w.emu.url}/_emulator/adgroups`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          advertiser_id: advertiserId,
          adgroups: adgroups.map((g) => ({ campaign_id: g.campaignId, campaign_name: g.campaignName, adgroup_id: g.adgroupId, adgroup_name: g.adgroupName, audience_ids: g.audienceIds })),
        }),
      });
      if (!res.ok) throw new Error(`seeding ad groups: HTTP ${res.status} ${await res.text()}`);
      await start();
    },

    async drive() {
      while (w.going()) {
        const runId = current as string | null;
        if (!runId) return;
        const r = runs.find((x) => x.runId === runId)!;
        try {
          r.result = await w.client.withDeadline(Date.now() + 30_000, () => w.client.workflow.getHandle(workflowId, runId).result());
        } catch (err) {
          const closed = await closedStatus(w, workflowId);
          if (closed === null || closed === 'COMPLETED') {
            await sleep(500);
            continue;
          }
          r.failed = `${closed}: ${errorText(err)}`;
        }
        current = null;
        if (runs.length >= 2 || !w.going()) return;
        await start();
      }
    },

    async settled() {
      return current === null;
    },

    async check(ledger) {
      const out: LifecycleCheck = { lifecycle: 'usage-report', finished: current === null && runs.some((r) => r.result), lost: 0, duplicated: 0, unexpected: 0, lines: [], noticeIds: [noticeMailId(`usage-report:${advertiserId}:${month}`)] };
      const problems: string[] = [];
      for (const r of runs) if (r.failed) problems.push(`run ${r.runId} ended ${r.failed}`);
      const expected = expectedUsageCsv(advertiserId, month, [segment], adgroups);
      const csv = (await getObject(w.gcsEndpoint, w.bucket, `usage/reports/usage/${advertiserId}/${month}.csv`))?.toString('utf8');
      const got = csv === undefined ? [] : csv.split('\n').filter((l) => l !== '');
      const missing = expected.filter((l) => !got.includes(l));
      const stray = got.filter((l) => !expected.includes(l));
      const repeated = got.length - new Set(got).size;
      if (csv === undefined) problems.push('no report CSV');
      else if (missing.length || stray.length || repeated || got.join('\n') !== expected.join('\n')) problems.push(`CSV: ${missing.length} expected lines missing, ${stray.length} lines nobody expected, ${repeated} repeated${!missing.length && !stray.length && !repeated ? ', order differs' : ''}`);
      out.lost += missing.length;
      out.unexpected += stray.length;
      out.duplicated += repeated;
      const n = noticeOutcome(ledger, `usage-report:${advertiserId}:${month}`, [contact]);
      out.lost += n.lost;
      out.duplicated += n.duplicated;
      out.unexpected += n.unexpected;
      if (n.problem) problems.push(n.problem);
      // The email carries the CSV as it is in the bucket.
      const mail = ledger.copies(`usage-report:${advertiserId}:${month}`)[0];
      if (mail && csv !== undefined) {
        const m = await w.mailpit.message(mail.ID);
        const att = m.Attachments[0];
        const bytes = att ? (await w.mailpit.part(mail.ID, att.PartID)).toString('utf8') : '';
        if (bytes !== csv) {
          out.unexpected++;
          problems.push('the emailed CSV differs from the report in the bucket');
        }
      }
      const deliveries = runs.map((r) => r.result?.delivery ?? 'none');
      const wantDeliveries = runs.map((_, i) => (i === 0 ? 'sent' : 'already_sent'));
      // Not a loss: a run whose delivery was recorded before its worker died reports the retry's view (already_sent).
      if (JSON.stringify(deliveries) !== JSON.stringify(wantDeliveries)) problems.push(`note: deliveries as the runs reported them ${deliveries.join(', ')} (${wantDeliveries.join(', ')} without kills)`);
      out.lines.push(
        `  usage-report: ${month} of advertiser ${advertiserId} (${advertiser.segments.length} 3PD segment, ${adgroups.length} ad groups), ${runs.length} runs (${deliveries.join(', ')}); ${expected.length - 1} lines expected, ` +
          `lost ${missing.length}, unexpected ${stray.length}, repeated ${repeated}; emails ${ledger.copies(`usage-report:${advertiserId}:${month}`).length} (expected 1)`,
        ...problems.map((x) => `    ${x}`),
      );
      return out;
    },
  };
}
