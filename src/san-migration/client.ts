import { WithStartWorkflowOperation, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIds } from '../temporal/workflowIds';
import { TaskQueues } from '../temporal/taskQueues';
import {
  announceCutoverUpdate,
  optInUpdate,
  optOutUpdate,
  programChangedSignal,
  sanMigrationStatusQuery,
  SanMigrationWorkflowType,
  type CutoverAccepted,
  type DecisionResult,
  type MigrationPhase,
  type SanMigrationInput,
  type SanMigrationStatus,
  type SanMigrationWorkflow,
} from './messages';
import type { Account, DecisionKind, Program, ProgramInput } from './model';
import type { PartnerConfigStore } from './partnerConfig';

/*
 * What the CLI (and an MMP's own tooling) does with the SAN migration workflows: import
 * accounts, apply a program to every account, record decisions and TikTok's cutover
 * announcements, and read status. Decisions and announcements go as update-with-start, so
 * an account whose workflow ended (or never started) gets one that reads the store.
 */

export interface SanQueues {
  /** Where the workflows run (default ttsync-control). */
  taskQueue?: string;
  /** Where their activities run (default ttsync-tiktok). */
  activityQueue?: string;
}

const startOptions = (accountId: string, q: SanQueues, program?: Program) => ({
  workflowId: WorkflowIds.sanMigration(accountId),
  taskQueue: q.taskQueue ?? TaskQueues.control,
  args: [{ accountId, ...(program ? { program } : {}), ...(q.activityQueue ? { activityQueue: q.activityQueue } : {}) } satisfies SanMigrationInput] as [SanMigrationInput],
  staticSummary: `TikTok SAN migration: account ${accountId}`,
});

export type ImportOutcome = 'created' | 'updated' | 'unchanged';

/**
 * An imported account replaces what the MMP describes (advertiser, contacts, apps and their
 * legacy setup, App IDs) and keeps what the migration recorded: the decision, and per app its
 * SAN integration, active side and cutover, unless the file gives them.
 */
export function mergeImported(stored: Account, incoming: Account): Account {
  const before = new Map(stored.apps.map((a) => [a.appId, a]));
  return {
    ...incoming,
    ...(incoming.decision ?? stored.decision ? { decision: incoming.decision ?? stored.decision } : {}),
    apps: incoming.apps.map((a) => {
      const old = before.get(a.appId);
      if (!old) return a;
      return {
        ...a,
        ...(a.san ?? old.san ? { san: a.san ?? old.san } : {}),
        active: a.active === 'san' ? 'san' : old.active,
        ...(a.reportingNetworkName ?? old.reportingNetworkName ? { reportingNetworkName: a.reportingNetworkName ?? old.reportingNetworkName } : {}),
        ...(a.cutover ?? old.cutover ? { cutover: a.cutover ?? old.cutover } : {}),
      };
    }),
  };
}

export async function importAccounts(store: PartnerConfigStore, accounts: Account[]): Promise<{ accountId: string; outcome: ImportOutcome }[]> {
  const out: { accountId: string; outcome: ImportOutcome }[] = [];
  for (const incoming of accounts) {
    for (let attempt = 1; ; attempt++) {
      const current = await store.getAccount(incoming.accountId);
      const next = current ? mergeImported(current.value, incoming) : incoming;
      if (current && JSON.stringify(current.value) === JSON.stringify(next)) {
        out.push({ accountId: incoming.accountId, outcome: 'unchanged' });
        break;
      }
      try {
        await store.putAccount(next, current?.version ?? null);
        out.push({ accountId: incoming.accountId, outcome: current ? 'updated' : 'created' });
        break;
      } catch (err) {
        if (attempt >= 5) throw err;
      }
    }
  }
  return out;
}

/**
 * Stores the program, then reaches every account's workflow with signal-with-start: a
 * running one re-plans (its timers move), an ended one starts again and reads the store.
 */
export async function applyProgram(client: Client, store: PartnerConfigStore, program: Program, q: SanQueues = {}): Promise<{ accountId: string; workflowId: string; runId: string }[]> {
  const current = await store.getProgram();
  await store.putProgram(program, current?.version ?? null);
  const out = [];
  for (const accountId of await store.listAccountIds()) {
    const handle = await client.workflow.signalWithStart<SanMigrationWorkflow, [ProgramInput]>(SanMigrationWorkflowType.migration, {
      ...startOptions(accountId, q, program),
      signal: programChangedSignal,
      signalArgs: [program],
    });
    out.push({ accountId, workflowId: handle.workflowId, runId: handle.signaledRunId });
  }
  return out;
}

export async function recordDecision(client: Client, accountId: string, kind: DecisionKind, req: { by: string; message?: string }, q: SanQueues = {}): Promise<DecisionResult> {
  return client.workflow.executeUpdateWithStart(kind === 'opt_in' ? optInUpdate : optOutUpdate, {
    args: [req],
    startWorkflowOperation: new WithStartWorkflowOperation<SanMigrationWorkflow>(SanMigrationWorkflowType.migration, {
      ...startOptions(accountId, q),
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
}

export async function announceCutover(client: Client, accountId: string, ann: { appId: string; at: string }, q: SanQueues = {}): Promise<CutoverAccepted> {
  return client.workflow.executeUpdateWithStart(announceCutoverUpdate, {
    args: [ann],
    startWorkflowOperation: new WithStartWorkflowOperation<SanMigrationWorkflow>(SanMigrationWorkflowType.migration, {
      ...startOptions(accountId, q),
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
}

/** The running workflow's status, or the last run's final status; null when there never was one. */
export async function readStatus(client: Client, accountId: string): Promise<{ running: boolean; status: SanMigrationStatus } | null> {
  const handle = client.workflow.getHandle<SanMigrationWorkflow>(WorkflowIds.sanMigration(accountId));
  let desc;
  try {
    desc = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
  if (desc.status.name === 'RUNNING') return { running: true, status: await handle.query(sanMigrationStatusQuery) };
  if (desc.status.name === 'COMPLETED') return { running: false, status: await handle.result() };
  // Failed or terminated: the query of the closed run answers when a worker is up.
  return { running: false, status: await handle.query(sanMigrationStatusQuery) };
}

export interface SanReport {
  accounts: { accountId: string; phase: MigrationPhase | 'not_started' | 'unknown'; running: boolean; error?: string }[];
  counts: Record<string, number>;
}

/**
 * Every imported account's phase, read from its workflow (the query of a running one, the
 * result of an ended one: exact, where the MigrationState search attribute may lag), and
 * counts per phase. Accounts without a workflow are `not_started`.
 */
export async function report(client: Client, store: PartnerConfigStore): Promise<SanReport> {
  const accounts: SanReport['accounts'] = [];
  for (const accountId of await store.listAccountIds()) {
    const r = await readStatus(client, accountId).catch((err: unknown) => ({ error: err as Error }));
    if (r === null) accounts.push({ accountId, phase: 'not_started', running: false });
    else if ('error' in r) accounts.push({ accountId, phase: 'unknown', running: false, error: r.error.message });
    else accounts.push({ accountId, phase: r.status.phase, running: r.running });
  }
  const counts: Record<string, number> = {};
  for (const a of accounts) counts[a.phase] = (counts[a.phase] ?? 0) + 1;
  return { accounts, counts };
}
