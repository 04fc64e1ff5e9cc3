import { log, sleep } from '@temporalio/workflow';
import type { AudienceStatus, TikTokTarget } from '../../activities/audience-sync/tiktok';
import type { DestinationConfig } from '../../src/audience-sync/config';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { AudienceAction } from '../../src/tiktok/types';
import { failureTypeOf, type SyncContext } from './context';
import { editPhase, msOf, nextPollDelay } from './plan';

/**
 * Waits until TikTok reports the audience valid (editable): polls on durable timers with
 * exponential backoff. Past maxProcessingWait it enters processing_overdue, visible in
 * status and SyncState, and keeps polling: it never gives up silently.
 */
export async function waitUntilValid(ctx: SyncContext, cfg: DestinationConfig, target: TikTokTarget, audienceId: string): Promise<AudienceStatus> {
  const { status } = ctx;
  const started = Date.now();
  const maxWaitMs = msOf(cfg.maxProcessingWait, '48h');
  const resumeTo = status.phase;
  let delay = ctx.timing.pollInitialMs;
  let overdue = false;
  ctx.setPhase('waiting_for_processing');
  for (;;) {
    const s = await ctx.withReauth(() => ctx.acts.tiktok.getCustomAudienceStatus({ ...target, audienceId }));
    status.isValid = s.isValid;
    status.coverNum = s.coverNum;
    if (s.isValid) {
      ctx.metrics.processingWaited(Date.now() - started);
      if (overdue) {
        status.lastError = null;
        status.advice = null;
      }
      ctx.setPhase(resumeTo);
      return s;
    }
    if (!overdue && Date.now() - started >= maxWaitMs) {
      overdue = true;
      status.lastError = {
        at: new Date(Date.now()).toISOString(),
        phase: 'processing_overdue',
        type: null,
        message: `TikTok has been processing audience ${audienceId} for longer than maxProcessingWait (${cfg.maxProcessingWait})${s.errorMessage ? `: ${s.errorMessage}` : ''}`,
      };
      status.advice = 'check the audience in TikTok Ads Manager; ttsync keeps polling and continues when it becomes valid';
      log.warn('audience processing overdue', { destinationId: cfg.destinationId, audienceId });
    }
    if (overdue) ctx.setPhase('processing_overdue');
    else if (status.phase !== 'waiting_for_processing') ctx.setPhase('waiting_for_processing');
    await sleep(delay, { summary: `TikTok is processing audience ${audienceId}: poll again` });
    delay = nextPollDelay(delay, ctx.timing.pollMaxMs);
  }
}

/** One edit, preceded by the processing wait; AudienceBusy means "wait again", not an error. */
export async function edit(ctx: SyncContext, cfg: DestinationConfig, target: TikTokTarget, audienceId: string, action: AudienceAction, filePaths: string[]): Promise<void> {
  for (;;) {
    await waitUntilValid(ctx, cfg, target, audienceId);
    ctx.setPhase(editPhase(action));
    try {
      await ctx.withReauth(() => ctx.acts.tiktokEdit.updateCustomAudience({ ...target, audienceId, action, filePaths }));
      return;
    } catch (err) {
      if (failureTypeOf(err) !== AudienceSyncFailureType.AudienceBusy) throw err;
    }
  }
}
