import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { NoticeRequest, SanMigrationActivities } from '../../activities/san-migration';
import { SAN_MIGRATION_NON_RETRYABLE, SanMigrationFailureType } from '../../src/san-migration/failures';
import { NOTICE_NON_RETRYABLE } from '../../src/notices/failures';
import {
  FINAL_PHASES,
  announceCutoverUpdate,
  optInUpdate,
  optOutUpdate,
  programChangedSignal,
  refreshAccountSignal,
  sanMigrationStatusQuery,
  type AlertRecord,
  type AppStatus,
  type DecisionRequest,
  type DecisionResult,
  type NoticeKind,
  type SanMigrationInput,
  type SanMigrationStatus,
} from '../../src/san-migration/messages';
import { ProgramSchema, SAN_NETWORK_NAME, type DecisionKind, type Program, type ProgramInput } from '../../src/san-migration/model';
import { acceptCutover, cutOver, decide, finalNoteOf, flagTargetMissed, planNext, settledApps, type Step } from '../../src/san-migration/plan';
import { NEEDS_APP_ID_ADVICE, initialStatus, mergeAccount } from '../../src/san-migration/status';
import { formatZodIssues } from '../../src/config/errors';
import { durationMs, durationProblem } from '../../src/config/duration';
import { SearchAttributeKeys } from '../../src/temporal/searchAttributes';
import { TaskQueues } from '../../src/temporal/taskQueues';
import { WorkflowIds } from '../../src/temporal/workflowIds';

/*
 * One MMP account's move from TikTok's legacy tracker/postback integration to SAN: ONE
 * workflow per account (san-migration:<accountId>), asleep on durable timers at the
 * program's dates for months. It reminds before the deadline, takes decisions as Updates
 * (refused after the deadline or against the mode), provisions enrolled accounts' apps on
 * the provisioning date, follows TikTok's cutover of each app (notice at once, short_notice
 * when TikTok gives less than the program's notice, the switch at TikTok's time), flags
 * apps not cut over by the target date, and ends when the account is settled. It never
 * pauses a campaign: it only reads their status. What happens next is plan.ts's decision;
 * this file waits, runs steps and records. History holds ids, dates and sentences; the
 * contacts' addresses and the token stay in the partner-config store and the secret.
 */

/** Steps per run before continuing as new (input.stepsPerRun): the history of months stays short. */
const STEPS_PER_RUN = 20;

export async function sanMigration(input: SanMigrationInput): Promise<SanMigrationStatus> {
  const accountId = checkedAccountId(input);
  checkWorkflowId(accountId);
  const queue = input.activityQueue ?? TaskQueues.tiktok;
  const activityTimeout = checkedActivityTimeout(input.activityTimeout);
  const acts = proxyActivities<SanMigrationActivities>({
    taskQueue: queue,
    startToCloseTimeout: activityTimeout,
    retry: { initialInterval: '2s', maximumInterval: '5m', nonRetryableErrorTypes: [...SAN_MIGRATION_NON_RETRYABLE] },
  });
  // Reading campaigns is a check, not a step the migration waits on: a few tries, then an alert.
  const campaignReads = proxyActivities<SanMigrationActivities>({
    taskQueue: queue,
    startToCloseTimeout: activityTimeout,
    retry: { initialInterval: '2s', maximumInterval: '30s', maximumAttempts: 3, nonRetryableErrorTypes: [...SAN_MIGRATION_NON_RETRYABLE] },
  });

  // A notice is written to the outbox on the first attempt; one that cannot be delivered
  // waits there for the sweeper, so after a few tries the migration goes on with an alert.
  const noticeActs = proxyActivities<SanMigrationActivities>({
    taskQueue: queue,
    startToCloseTimeout: activityTimeout,
    retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: [...SAN_MIGRATION_NON_RETRYABLE, ...NOTICE_NON_RETRYABLE] },
  });

  let status: SanMigrationStatus | undefined = input.carried;
  let wake = false;
  let refresh = false;
  let pendingProgram: Program | undefined;

  // Handlers first: a decision sent with the start (update-with-start) must find them.
  setHandler(sanMigrationStatusQuery, () => {
    if (!status) throw new Error(`account ${accountId} is still loading`);
    return status;
  });
  const decisionHandler = (kind: DecisionKind) => ({
    handler: async (req: DecisionRequest): Promise<DecisionResult> => {
      await condition(() => status !== undefined);
      const s = status!;
      const r = decide(s, kind, req, Date.now());
      if ('problem' in r) throw ApplicationFailure.create({ type: 'DecisionRefused', message: r.problem, nonRetryable: true });
      if (s.decision !== r.result.decision) {
        await acts.recordSanDecision({ accountId, decision: r.result.decision });
        s.decision = r.result.decision;
      }
      wake = true;
      return r.result;
    },
    validator: (req: DecisionRequest): void => {
      if (!status) return;
      const r = decide(status, kind, req, Date.now());
      if ('problem' in r) throw new Error(r.problem);
    },
  });
  const optIn = decisionHandler('opt_in');
  const optOut = decisionHandler('opt_out');
  setHandler(optInUpdate, optIn.handler, { validator: optIn.validator });
  setHandler(optOutUpdate, optOut.handler, { validator: optOut.validator });
  setHandler(
    announceCutoverUpdate,
    async (ann) => {
      await condition(() => status !== undefined);
      const s = status!;
      const r = acceptCutover(s, ann, Date.now());
      if ('problem' in r) throw ApplicationFailure.create({ type: 'CutoverRefused', message: r.problem, nonRetryable: true });
      const { accepted } = r;
      const announcedAt = new Date(Date.now()).toISOString();
      s.apps = s.apps.map((a) => (a.appId === accepted.appId ? { ...a, state: 'notice_sent', cutover: { at: accepted.at, announcedAt, shortNotice: accepted.shortNotice } } : a));
      const app = s.apps.find((a) => a.appId === accepted.appId)!;
      const facts = { ...factsOf(s), appId: app.appId, platform: app.platform, at: accepted.at, noticeHours: accepted.noticeHours, noticeDays: s.program.noticeDays, oldNetworkName: app.networkName, newNetworkName: SAN_NETWORK_NAME };
      await notify(s, 'cutover_notice', 'contacts', `cutover/${app.appId}/${accepted.at}`, facts, app.appId);
      if (accepted.shortNotice) {
        alert(s, { kind: 'short_notice', appId: app.appId, message: `TikTok announced the cutover of app ${app.appId} for ${accepted.at}: ${accepted.noticeHours} h of notice, less than ${s.program.noticeDays} days` });
        await notify(s, 'short_notice', 'operators', `short-notice/${app.appId}/${accepted.at}`, facts, app.appId);
      }
      wake = true;
      return accepted;
    },
    {
      validator: (ann) => {
        if (!status) return;
        const r = acceptCutover(status, ann, Date.now());
        if ('problem' in r) throw new Error(r.problem);
      },
    },
  );
  setHandler(programChangedSignal, (next: ProgramInput) => {
    const parsed = ProgramSchema.safeParse(next);
    if (!parsed.success) {
      if (status) alert(status, { kind: 'program_refused', message: `program update ignored: ${formatZodIssues(parsed.error)}` });
      log.warn('program update ignored: not a valid program', { accountId, problems: formatZodIssues(parsed.error) });
      return;
    }
    pendingProgram = parsed.data;
    // The store holds what happened meanwhile (decisions, SAN set up elsewhere): read it again.
    refresh = true;
  });
  setHandler(refreshAccountSignal, () => {
    refresh = true;
  });

  async function notify(s: SanMigrationStatus, kind: NoticeKind, route: NoticeRequest['route'], what: string, facts: NoticeRequest['facts'], appId?: string): Promise<void> {
    const key = `san-migration/${accountId}/${kind}/${what}`;
    if (s.notices.some((n) => n.key === key)) return;
    try {
      await noticeActs.sendSanNotice({ accountId, kind, key, route, facts, workflowId: workflowInfo().workflowId, ...(appId ? { appId } : {}) });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      alert(s, { kind: 'notice_failed', ...(appId ? { appId } : {}), message: `notice ${key} (${kind} to ${route}) not delivered: ${err.cause?.message ?? err.message}; it waits in the outbox for the sweeper unless it was invalid` });
    }
    s.notices.push({ kind, route, key, at: new Date(Date.now()).toISOString(), ...(appId ? { appId } : {}) });
  }

  if (!status) {
    const program = input.program ? parsedProgram(input.program) : await acts.loadSanProgram();
    status = initialStatus(await acts.loadSanAccount({ accountId }), program);
  }
  const s: SanMigrationStatus = status;
  const publish = publisher();
  publish(s);

  let steps = 0;
  for (;;) {
    wake = false;
    if (pendingProgram || refresh) {
      if (pendingProgram) s.program = pendingProgram;
      pendingProgram = undefined;
      refresh = false;
      Object.assign(s, mergeAccount(s, await acts.loadSanAccount({ accountId })));
      // A program that re-opens the decision re-opens a settled account too.
      delete s.finalNote;
    }
    const plan = planNext(s, Date.now());
    s.phase = plan.phase;
    s.enrolled = plan.enrolled;
    s.next = plan.wakeAt !== null && plan.wakeFor ? { step: plan.wakeFor, at: new Date(plan.wakeAt).toISOString() } : null;
    publish(s);
    if (plan.step) {
      await runStep(plan.step);
      steps++;
      continue;
    }
    if (FINAL_PHASES.includes(plan.phase)) {
      await condition(allHandlersFinished);
      // A message that arrived while finishing is served by the plan first.
      if (!wake && !refresh && !pendingProgram) return s;
      continue;
    }
    if (steps >= (input.stepsPerRun ?? STEPS_PER_RUN) || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof sanMigration>({
        accountId,
        ...(input.activityQueue ? { activityQueue: input.activityQueue } : {}),
        ...(input.stepsPerRun ? { stepsPerRun: input.stepsPerRun } : {}),
        ...(input.activityTimeout ? { activityTimeout: input.activityTimeout } : {}),
        carried: s,
      });
    }
    const timeout = plan.wakeAt === null ? undefined : Math.max(1, plan.wakeAt - Date.now());
    await condition(() => wake || refresh || pendingProgram !== undefined, timeout);
  }

  async function runStep(step: Step): Promise<void> {
    switch (step.kind) {
      case 'remind': {
        const sentence = s.program.mode === 'opt_in' ? s.program.sentences.optIn : s.program.sentences.optOut;
        await notify(s, 'reminder', 'contacts', `${s.program.decisionDeadline}/${step.offset}`, { ...factsOf(s), sentence });
        s.remindersHandled.push(...step.handled.filter((k) => !s.remindersHandled.includes(k)));
        return;
      }
      case 'settle':
        s.apps = settledApps(s);
        s.finalNote = finalNoteOf(s);
        return;
      case 'provision': {
        await checkCampaigns();
        const outcomes = await acts.provisionSanApps({ accountId });
        const provisioned: string[] = [];
        s.apps = s.apps.map((a): AppStatus => {
          const o = outcomes.find((x) => x.appId === a.appId)?.outcome;
          if (!o) return a;
          if (o === 'provisioned' || o === 'already_provisioned') {
            provisioned.push(a.appId);
            return a.state === 'legacy' || a.state === 'needs_app_id' ? { ...a, state: 'provisioned', sanSource: 'provisioned', advice: undefined } : a;
          }
          if (o === 'self_configured') return a.state === 'legacy' ? { ...a, state: 'self_configured', sanSource: 'self_configured' } : a;
          if (o === 'needs_app_id') return { ...a, state: 'needs_app_id', advice: NEEDS_APP_ID_ADVICE(a.appId) };
          return a.state === 'cut_over' ? a : { ...a, state: 'cut_over', networkName: SAN_NETWORK_NAME };
        });
        for (const a of s.apps.filter((x) => x.state === 'needs_app_id')) {
          alert(s, { kind: 'needs_app_id', appId: a.appId, message: a.advice ?? NEEDS_APP_ID_ADVICE(a.appId) });
          await notify(s, 'needs_app_id', 'operators', `${a.appId}/${s.program.provisioningDate}`, { ...factsOf(s), appId: a.appId, advice: a.advice }, a.appId);
        }
        if (provisioned.length) await notify(s, 'provisioned', 'contacts', `${s.program.provisioningDate}/${provisioned.join('+')}`, { ...factsOf(s), appIds: provisioned, noticeDays: s.program.noticeDays });
        return;
      }
      case 'cutover': {
        const app = s.apps.find((a) => a.appId === step.appId)!;
        const at = app.cutover!.at;
        await checkCampaigns();
        const { mappingUri, oldNetworkName } = await acts.cutOverSanApp({ accountId, appId: app.appId, at, announcedAt: app.cutover!.announcedAt });
        s.apps = s.apps.map((a) => (a.appId === app.appId ? { ...cutOver(a, at), mappingUri } : a));
        await notify(s, 'cut_over', 'contacts', `${app.appId}/${at}`, { ...factsOf(s), appId: app.appId, at, oldNetworkName, newNetworkName: SAN_NETWORK_NAME }, app.appId);
        return;
      }
      case 'target_check': {
        s.apps = flagTargetMissed(s.apps);
        s.targetCheckedFor = s.program.targetCompletionDate;
        const missed = s.apps.filter((a) => a.targetMissed).map((a) => a.appId);
        if (missed.length) {
          alert(s, { kind: 'target_missed', message: `not cut over by ${s.program.targetCompletionDate}: ${missed.join(', ')}` });
          await notify(s, 'target_missed', 'operators', s.program.targetCompletionDate, { ...factsOf(s), appIds: missed });
        }
        return;
      }
    }
  }

  /** Reads campaign status (never changes it); a paused campaign is an alert for operators. */
  async function checkCampaigns(): Promise<void> {
    try {
      const r = await campaignReads.checkSanCampaigns({ accountId });
      s.lastCampaignCheck = { at: new Date(Date.now()).toISOString(), campaigns: r.campaigns, paused: r.pausedCampaignIds.length, pausedCampaignIds: r.pausedCampaignIds };
      if (r.pausedCampaignIds.length) {
        alert(s, { kind: 'paused_campaigns', message: `paused campaigns found: ${r.pausedCampaignIds.join(', ')} (ttsync never pauses campaigns; TikTok moves them over running)` });
        await notify(s, 'paused_campaigns', 'operators', `${s.phase}/${r.pausedCampaignIds.join('+')}`, { ...factsOf(s), pausedCampaignIds: r.pausedCampaignIds });
      }
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      alert(s, { kind: 'campaign_check_failed', message: `campaign status could not be read: ${err.cause?.message ?? err.message}` });
    }
  }
}

function factsOf(s: SanMigrationStatus): NoticeRequest['facts'] {
  const p = s.program;
  return { programId: p.programId, mode: p.mode, decisionDeadline: p.decisionDeadline, provisioningDate: p.provisioningDate, targetCompletionDate: p.targetCompletionDate };
}

const MAX_ALERTS = 50;
function alert(s: SanMigrationStatus, a: Omit<AlertRecord, 'at'>): void {
  s.alerts.push({ ...a, at: new Date(Date.now()).toISOString() });
  if (s.alerts.length > MAX_ALERTS) s.alerts.splice(0, s.alerts.length - MAX_ALERTS);
}

/** Search attributes (AdvertiserId, Lifecycle, MigrationState) and the UI's current details, kept in step with the status. */
function publisher(): (s: SanMigrationStatus) => void {
  let published: string | undefined;
  return (s) => {
    if (published === undefined) {
      upsertSearchAttributes([
        { key: SearchAttributeKeys.AdvertiserId, value: s.advertiserId },
        { key: SearchAttributeKeys.Lifecycle, value: 'san_migration' },
        { key: SearchAttributeKeys.MigrationState, value: s.phase },
      ]);
      published = s.phase;
    } else if (published !== s.phase) {
      upsertSearchAttributes([{ key: SearchAttributeKeys.MigrationState, value: s.phase }]);
      published = s.phase;
    }
    const apps = s.apps.map((a) => `${a.appId}: ${a.state}${a.targetMissed ? ' (target missed)' : ''}${a.cutover?.shortNotice && a.state === 'notice_sent' ? ' (short notice)' : ''}`).join(', ');
    setCurrentDetails(
      `**${s.phase}** · account ${s.accountId} · advertiser ${s.advertiserId}\n\nprogram ${s.program.programId} (${s.program.mode}, revision ${s.program.revision}) · deadline ${s.program.decisionDeadline} · provisioning ${s.program.provisioningDate}\n\napps: ${apps}\n\n` +
        (s.next ? `next: ${s.next.step} at ${s.next.at}\n\n` : '') +
        (s.decision ? `decision: ${s.decision.kind} by ${s.decision.by} at ${s.decision.at}\n\n` : '') +
        (s.alerts.length ? `alerts: ${s.alerts.slice(-3).map((a) => `${a.kind}: ${a.message}`).join('; ')}` : ''),
    );
  };
}

function checkedAccountId(input: SanMigrationInput): string {
  if (!input || typeof input.accountId !== 'string' || !input.accountId)
    throw ApplicationFailure.nonRetryable('sanMigration input must be {"accountId": "<account>"} (optionally with "program"): start it with ttsync san program apply', SanMigrationFailureType.InvalidProgram);
  return input.accountId;
}

/** Milliseconds (Temporal reads "1h30m" otherwise than ttsync's durations do). */
function checkedActivityTimeout(text: string | undefined): number {
  if (text === undefined) return 120_000;
  const ms = durationMs(text);
  if (ms === undefined || ms <= 0) throw ApplicationFailure.nonRetryable(`activityTimeout: ${durationProblem(text) ?? 'must be longer than zero'}`, SanMigrationFailureType.InvalidProgram);
  return ms;
}

function parsedProgram(p: ProgramInput): Program {
  const r = ProgramSchema.safeParse(p);
  if (!r.success) throw ApplicationFailure.nonRetryable(`the program is invalid: ${formatZodIssues(r.error)}`, SanMigrationFailureType.InvalidProgram);
  return r.data;
}

/** One workflow per account is what keeps one decision and one provisioning per account. */
function checkWorkflowId(accountId: string): void {
  const expected = WorkflowIds.sanMigration(accountId);
  const actual = workflowInfo().workflowId;
  if (actual === expected) return;
  throw ApplicationFailure.nonRetryable(
    `sanMigration for account "${accountId}" must run as workflow id "${expected}", not "${actual}": one workflow per account keeps one decision and one provisioning per account. Start it with: ttsync san program apply --program <file>`,
    SanMigrationFailureType.WrongWorkflowId,
  );
}
