import { ApplicationFailure, allHandlersFinished, condition, continueAsNew, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { signalPayloadProblem } from '../../src/audience-sync/signalPayloads';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import {
  addChangeBatchSignal,
  audienceSyncConfigQuery,
  audienceSyncStatusQuery,
  initialAudienceSyncStatus,
  pauseSignal,
  reauthorizedSignal,
  recreateAudienceSignal,
  resumeSignal,
  snapshotLandedSignal,
  syncNowSignal,
  updateConfigUpdate,
  type AudienceSyncInput,
} from '../../src/audience-sync/messages';
import { AlertBook } from '../../src/audience-sync/alerts';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { configProblems, checkedInput, SyncContext } from './context';
import { runCycle } from './cycle';
import { SyncRequests } from './requests';

/*
 * The control plane of one destination audience: ONE long-running workflow per destination
 * (workflowId audience-sync:<destinationId>), so exactly one writer ever edits its TikTok
 * audience. It waits for a trigger (a signal, the cadence), runs a cycle (cycle.ts), and
 * continues as new after each, so history stays bounded however long the destination lives.
 * Heavy work runs on the data queue, TikTok calls on the TikTok queue; the workflow holds
 * ids, URIs, counts and phases only, never identifiers or tokens.
 */
export async function audienceSync(input: AudienceSyncInput): Promise<void> {
  const { config, timing } = checkedInput(input);
  // The id is what makes this the one writer; runs from before the check replay without it.
  if (patched('derived-workflow-id')) checkWorkflowId(config.destinationId);
  const status = input.carried?.status ?? initialAudienceSyncStatus(config);
  const requests: SyncRequests = new SyncRequests(status, input.carried, Date.now(), timing.cadenceMs, (): boolean => Boolean(ctx.config.storage.snapshot));
  // Alerts (notices when a person is needed): runs from before them replay without.
  const alerts = patched('alerts') ? new AlertBook(input.carried?.alerts, workflowInfo().runId) : null;
  const ctx: SyncContext = new SyncContext(config, timing, requests, input, alerts);
  requests.startWith(input);
  setMessageHandlers(ctx);
  ctx.publish();

  for (;;) {
    requests.onCadence(Date.now());
    ctx.showDetails();
    // Runs from before the patch took one change batch per cycle; their replay must too.
    const req = requests.take(() => patched('flush-all-batches'));
    if (req) requests.finish(req, await runCycle(ctx, req));
    if (req || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      await ctx.noticesSettled();
      await continueAsNew<typeof audienceSync>({
        config: ctx.config,
        ...(input.queues ? { queues: input.queues } : {}),
        ...(input.timing ? { timing: input.timing } : {}),
        carried: { ...requests.carry(), ...(alerts ? { alerts: alerts.carry() } : {}) },
      });
    }
    // The timer's summary (user metadata, not compared on replay) names it in the UI's event history.
    await condition(() => requests.next() !== null || workflowInfo().continueAsNewSuggested, requests.msUntilCadence(Date.now()), { summary: 'cadence: the next scheduled sync, unless a request comes first' });
  }
}

/**
 * Fails the run, before any activity, when its workflow id is not the destination's: a
 * second workflow under another id would be a second writer of the same audience.
 */
function checkWorkflowId(destinationId: string): void {
  const expected = WorkflowIds.audienceSync(destinationId);
  const actual = workflowInfo().workflowId;
  if (actual === expected) return;
  throw ApplicationFailure.nonRetryable(
    `audienceSync for destination "${destinationId}" must run as workflow id "${expected}", not "${actual}": one workflow per destination is what keeps one writer per TikTok audience. ` +
      `Start it with: ttsync audience sync --config <destination.json> (or temporal workflow start --type audienceSync --workflow-id ${expected} …)`,
    AudienceSyncFailureType.WrongWorkflowId,
  );
}

/**
 * True when a signal's payload is malformed and must be ignored: the UI and the temporal CLI
 * can send anything. The warning names the signal and the JSON path, never the values. Runs
 * that received a malformed signal before this check replay as they ran (the patch marker
 * is written only when one is ignored).
 */
function malformed(signal: keyof typeof signalPayloadProblem, payload: unknown): boolean {
  const problem = signalPayloadProblem[signal](payload);
  if (problem === undefined || !patched('ignore-malformed-signals')) return false;
  log.warn(`ignored a malformed ${signal} signal: ${problem}`, { signal, problem });
  return true;
}

function setMessageHandlers(ctx: SyncContext): void {
  const { requests, status } = ctx;
  setHandler(audienceSyncStatusQuery, () => requests.view());
  setHandler(audienceSyncConfigQuery, () => ctx.config);
  // Each request shows in the UI's current details at once (queued, or its NothingToSync error).
  setHandler(syncNowSignal, (req) => {
    if (malformed('syncNow', req)) return;
    requests.syncNow(req, new Date(Date.now()).toISOString());
    ctx.showDetails();
  });
  setHandler(snapshotLandedSignal, (req) => {
    if (malformed('snapshotLanded', req)) return;
    requests.snapshotLanded(req);
    ctx.showDetails();
  });
  setHandler(addChangeBatchSignal, (batch) => {
    if (malformed('addChangeBatch', batch)) return;
    requests.addChangeBatch(batch);
    ctx.showDetails();
  });
  setHandler(pauseSignal, () => {
    status.paused = true;
    ctx.showSyncState();
  });
  setHandler(resumeSignal, () => {
    status.paused = false;
    ctx.reauthorized = true;
    ctx.showSyncState();
  });
  setHandler(reauthorizedSignal, () => {
    ctx.reauthorized = true;
  });
  setHandler(recreateAudienceSignal, () => {
    requests.recreate();
    ctx.showDetails();
  });
  setHandler(
    updateConfigUpdate,
    (next) => {
      const r = configProblems(next);
      if ('config' in r) ctx.config = r.config;
      return { destinationId: ctx.config.destinationId, appliesFrom: 'next_cycle' as const };
    },
    {
      validator: (next) => {
        const r = configProblems(next);
        if ('message' in r) throw new Error(r.message);
        // One workflow is the one writer of one audience; another destination or advertiser is another workflow.
        if (r.config.destinationId !== ctx.config.destinationId)
          throw new Error(`destinationId cannot change (${ctx.config.destinationId} → ${r.config.destinationId}): start the workflow ${WorkflowIds.audienceSync(r.config.destinationId)} instead`);
        if (r.config.advertiserId !== ctx.config.advertiserId)
          throw new Error(`advertiserId cannot change (${ctx.config.advertiserId} → ${r.config.advertiserId}): an audience lives in one advertiser; configure a new destination`);
      },
    },
  );
}
