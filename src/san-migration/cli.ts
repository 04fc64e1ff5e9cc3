import { Command, InvalidArgumentError } from 'commander';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { UsageError } from '../config/errors';
import { withClient } from '../temporal/connection';
import { TaskQueues } from '../temporal/taskQueues';
import { accountIdOfWorkflowId } from '../temporal/workflowIds';
import { announceCutover, applyProgram, importAccounts, readStatus, recordDecision, report, type SanQueues } from './client';
import { SanFileError, loadAccountsFile, loadProgramFile } from './files';
import type { SanMigrationStatus } from './messages';
import { markSelfConfigured } from './provision';
import { defaultSanStoreUri, openSanStores } from './stores';

/*
 * `ttsync san …`: the operator's handle on the SAN migration. The same updates and signals
 * are open to anyone in the Temporal UI (optIn, optOut, announceCutover, programChanged,
 * refreshAccount; query sanMigrationStatus). Decisions record who made them; contacts'
 * addresses and tokens are never printed.
 */

const ACCOUNT_ARG = 'the account id, or its workflow id san-migration:<accountId>';

export function accountArg(value: string): string {
  const v = value.trim();
  const fromId = accountIdOfWorkflowId(v);
  if (fromId !== undefined) {
    if (!fromId) throw new InvalidArgumentError(`"${v}" names no account`);
    return fromId;
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v)) throw new InvalidArgumentError(`"${v}" is not an account id (letters, digits, ".", "_", "-") or a workflow id san-migration:<accountId>`);
  return v;
}

function isoTime(value: string): string {
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value) || Number.isNaN(t)) throw new InvalidArgumentError('must be an ISO 8601 time with its zone, e.g. 2024-03-18T09:00:00Z');
  return new Date(t).toISOString();
}

interface StoreOpts {
  store?: string;
}
interface QueueOpts {
  taskQueue: string;
  activityQueue: string;
}

const withStore = (cmd: Command) => cmd.option('--store <uri>', 'the SAN store folder every worker shares (default: TTSYNC_SAN_STORE, else <data dir>/san)');
const withQueues = (cmd: Command) =>
  cmd.option('--task-queue <name>', 'task queue the workflows run on', TaskQueues.control).option('--activity-queue <name>', 'task queue of their activities', TaskQueues.tiktok);

const queuesOf = (o: QueueOpts): SanQueues => ({ taskQueue: o.taskQueue, activityQueue: o.activityQueue });
const storesOf = (o: StoreOpts) => openSanStores(o.store ?? defaultSanStoreUri());

async function fileErrorsAsUsage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof SanFileError) throw new UsageError(err.message);
    throw err;
  }
}

/** The workflow's refusal (deadline, mode, unknown app) as the command's error: its message says why. */
async function refusalAsError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new Error(`refused: ${err.cause?.message ?? err.message}`);
    throw err;
  }
}

export function formatStatus(s: SanMigrationStatus, running: boolean): string {
  const lines = [
    `account ${s.accountId} (advertiser ${s.advertiserId}): ${s.phase}${running ? '' : ' (workflow ended)'}${s.enrolled ? ', enrolled' : ''}`,
    `program ${s.program.programId} revision ${s.program.revision}: ${s.program.mode}, deadline ${s.program.decisionDeadline}, provisioning ${s.program.provisioningDate}, target ${s.program.targetCompletionDate}, notice ${s.program.noticeDays} days`,
    s.decision ? `decision: ${s.decision.kind} by ${s.decision.by} at ${s.decision.at} (revision ${s.decision.programRevision}): "${s.decision.sentence}"` : 'decision: none',
    ...s.apps.map(
      (a) =>
        `app ${a.appId} (${a.platform}, TikTok App ID ${a.tiktokAppId}): ${a.state}, network "${a.networkName}"` +
        (a.cutover ? `, cutover ${a.cutover.at}${a.cutover.shortNotice ? ' (short notice)' : ''}` : '') +
        (a.targetMissed ? ', TARGET MISSED' : '') +
        (a.mappingUri ? `, mapping ${a.mappingUri}` : '') +
        (a.advice ? `\n  advice: ${a.advice}` : ''),
    ),
    s.next ? `next: ${s.next.step} at ${s.next.at}` : 'next: nothing dated',
    `notices: ${s.notices.length ? s.notices.map((n) => `${n.kind}→${n.route} ${n.at}`).join(', ') : 'none'}`,
    ...s.alerts.map((a) => `alert ${a.kind} ${a.at}: ${a.message}`),
    ...(s.finalNote ? [`final: ${s.finalNote}`] : []),
  ];
  return lines.join('\n') + '\n';
}

export function registerSanCommand(program: Command, summary: string): void {
  const san = program.command('san').description(summary);

  withStore(san.command('import').description('Load MMP accounts (advertiser, contacts, apps with their legacy integration) into the partner-config store'))
    .requiredOption('--accounts <file>', 'JSON: a list of accounts, or {"accounts": [...]}')
    .action(async (opts: StoreOpts & { accounts: string }) => {
      const accounts = await fileErrorsAsUsage(() => loadAccountsFile(opts.accounts));
      const stores = storesOf(opts);
      for (const r of await importAccounts(stores.config, accounts)) process.stdout.write(`${r.accountId}: ${r.outcome}\n`);
    });

  withStore(san.command('mark-self-configured').description("Record that an app's SAN integration was set up outside ttsync (provisioning leaves it alone)"))
    .argument('<accountId>', ACCOUNT_ARG, accountArg)
    .requiredOption('--app <appId>', "the MMP's app id")
    .action(async (accountId: string, opts: StoreOpts & { app: string }) => {
      const r = await markSelfConfigured(storesOf(opts).config, accountId, opts.app, new Date());
      process.stdout.write(`${accountId} ${opts.app}: ${r === 'marked' ? 'marked self-configured' : 'already has a SAN integration, unchanged'}\n`);
    });

  const programCmd = san.command('program').description('The migration program TikTok runs');
  withQueues(withStore(programCmd.command('apply').description("Store a program (or a revision) and re-plan every account's workflow (signal-with-start)")))
    .requiredOption('--program <file>', 'JSON: programId, revision, mode, dates, noticeDays, reminderOffsets, sentences')
    .action(async (opts: StoreOpts & QueueOpts & { program: string }) => {
      const p = await fileErrorsAsUsage(() => loadProgramFile(opts.program));
      const stores = storesOf(opts);
      await withClient(async (client) => {
        const reached = await applyProgram(client, stores.config, p, queuesOf(opts));
        process.stdout.write(`program ${p.programId} revision ${p.revision} (${p.mode}) stored in ${stores.config.location}\n`);
        for (const r of reached) process.stdout.write(`${r.accountId}: signalled ${r.workflowId} (run ${r.runId})\n`);
        if (!reached.length) process.stdout.write('no accounts in the store yet: ttsync san import --accounts <file>\n');
      });
    });

  for (const kind of ['opt_in', 'opt_out'] as const) {
    const name = kind === 'opt_in' ? 'opt-in' : 'opt-out';
    withQueues(san.command(name).description(`Record the account's ${name} (refused after the program's deadline, or against its mode unless it changes nothing)`))
      .argument('<accountId>', ACCOUNT_ARG, accountArg)
      .requiredOption('--by <email>', 'who decided (the advertiser contact, or the operator recording it)')
      .option('--message <text>', "the advertiser's message, e.g. the email that carried the sentence")
      .action(async (accountId: string, opts: QueueOpts & { by: string; message?: string }) => {
        await withClient(async (client) => {
          const r = await refusalAsError(() => recordDecision(client, accountId, kind, { by: opts.by, ...(opts.message ? { message: opts.message } : {}) }, queuesOf(opts)));
          process.stdout.write(`${accountId}: ${r.decision.kind} recorded by ${r.decision.by} at ${r.decision.at}${r.noop ? ' (changes nothing under this program)' : ''}\nsentence: "${r.decision.sentence}"\n`);
        });
      });
  }

  withQueues(san.command('announce-cutover').description("Record TikTok's announced cutover of an app: the contacts are told at once, short notice alerts operators, the switch happens at TikTok's time"))
    .argument('<accountId>', ACCOUNT_ARG, accountArg)
    .requiredOption('--app <appId>', "the MMP's app id")
    .requiredOption('--at <time>', "TikTok's cutover time (ISO 8601 with zone)", isoTime)
    .action(async (accountId: string, opts: QueueOpts & { app: string; at: string }) => {
      await withClient(async (client) => {
        const r = await refusalAsError(() => announceCutover(client, accountId, { appId: opts.app, at: opts.at }, queuesOf(opts)));
        process.stdout.write(`${accountId} ${r.appId}: cutover at ${r.at}, ${r.noticeHours} h of notice${r.shortNotice ? ' — SHORT NOTICE (operators alerted)' : ''}\n`);
      });
    });

  san
    .command('status')
    .description("An account's phase, per-app state, next date, notices and alerts")
    .argument('<accountId>', ACCOUNT_ARG, accountArg)
    .option('--json', 'print the status as one JSON object')
    .action(async (accountId: string, opts: { json?: boolean }) => {
      await withClient(async (client) => {
        const r = await readStatus(client, accountId);
        if (!r) throw new Error(`account ${accountId} has no SAN migration workflow yet: ttsync san program apply --program <file>`);
        process.stdout.write(opts.json ? JSON.stringify({ running: r.running, ...r.status }) + '\n' : formatStatus(r.status, r.running));
      });
    });

  withStore(san.command('report').description("Every imported account's phase, and counts per phase"))
    .option('--json', 'print {accounts, counts} as one JSON object')
    .action(async (opts: StoreOpts & { json?: boolean }) => {
      await withClient(async (client) => {
        const r = await report(client, storesOf(opts).config);
        if (opts.json) process.stdout.write(JSON.stringify(r) + '\n');
        else {
          for (const a of r.accounts) process.stdout.write(`${a.accountId}: ${a.phase}${a.running ? '' : ' (not running)'}\n`);
          process.stdout.write(`counts: ${Object.entries(r.counts).map(([k, v]) => `${k} ${v}`).join(', ') || 'no accounts'}\n`);
        }
      });
    });
}
