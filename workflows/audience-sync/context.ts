import { ActivityFailure, ApplicationFailure, condition, log, metricMeter, patched, proxyActivities, setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import type { AudienceDataActivities } from '../../activities/audience-sync/data';
import type { TikTokAudienceActivities, TikTokTarget } from '../../activities/audience-sync/tiktok';
import type { NoticeActivities } from '../../activities/notices';
import { alertNotice, type AlertBook, type AlertEvent } from '../../src/audience-sync/alerts';
import type { NoticeRequest } from '../../src/notices/schema';
import { DestinationConfigSchema, type DestinationConfig } from '../../src/audience-sync/config';
import { zodProblems } from '../../src/config/errors';
import { AUDIENCE_SYNC_NON_RETRYABLE, AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { AudienceSyncInput, AudienceSyncPhase, AudienceSyncTiming, SyncError } from '../../src/audience-sync/messages';
import { lifecycleMetrics, type LifecycleMetrics } from '../../src/temporal/lifecycleMetrics';
import { SearchAttributeKeys } from '../../src/temporal/searchAttributes';
import { TaskQueues } from '../../src/temporal/taskQueues';
import { NOTICE_NON_RETRYABLE, NoticeFailureType } from '../../src/notices/failures';
import { WorkflowIds } from '../../src/temporal/workflowIds';
import { REAUTHORIZATION_FAILURES } from '../../src/tiktok/errorTypes';
import { currentDetailsOf, msOf } from './plan';
import type { SyncRequests } from './requests';

/*
 * What every step of an audience sync cycle shares: the destination's config, its status
 * and pending requests, the activity stubs, and the few moves every step makes (set the
 * phase, remember the audience, park for a new token).
 */

export interface Timing {
  cadenceMs: number;
  pollInitialMs: number;
  pollMaxMs: number;
  dataHeartbeatMs: number;
  uploadHeartbeatMs: number;
  tiktokCallMs: number;
  noticeMs: number;
  dataStepMs: number;
}

/** The config, or a readable list of its problems. */
export function configProblems(input: unknown): { config: DestinationConfig } | { message: string } {
  const r = DestinationConfigSchema.safeParse(input);
  if (r.success) return { config: r.data };
  return { message: `invalid destination config: ${zodProblems(r.error).map((p) => `${p.path}: ${p.message}`).join('; ')}` };
}

/** What the workflow input looks like, for messages about input of another shape (people paste it into the UI). */
export const EXPECTED_INPUT_EXAMPLE = '{"config": {"destinationId": "vip-buyers", "advertiserId": "…", …the destination config…}, "snapshot": {"uri": "gs://acme-exports/vip.csv"}}';

/** Keys only a destination config has at its top level: input made of them is a config pasted without its wrapper. */
const CONFIG_KEYS = ['destinationId', 'advertiserId', 'audienceName', 'identifiers', 'accessToken', 'sourceSegmentId', 'storage'];

/**
 * What is wrong with the input's shape itself (not an object, no "config"), in words that
 * show the shape expected; null when it has a config to check.
 */
export function inputShapeProblem(input: unknown): string | null {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return `invalid workflow input: expected a JSON object ${EXPECTED_INPUT_EXAMPLE}, got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`;
  if ('config' in input) {
    const config: unknown = input.config;
    if (typeof config === 'object' && config !== null && !Array.isArray(config)) return null;
    return `invalid workflow input: "config" must be the destination config object, got ${config === null ? 'null' : Array.isArray(config) ? 'an array' : typeof config}; expected ${EXPECTED_INPUT_EXAMPLE}`;
  }
  const keys = Object.keys(input);
  if (keys.some((k) => CONFIG_KEYS.includes(k)))
    return (
      `invalid workflow input: it looks like a destination config on its own; wrap it as {"config": {...}, "snapshot": {"uri": ...}} ` +
      `(snapshot optional: without it the config's storage.snapshot syncs), e.g. ${EXPECTED_INPUT_EXAMPLE}`
    );
  return `invalid workflow input: "config" is missing (the input has ${keys.length ? keys.map((k) => `"${k}"`).join(', ') : 'no keys'}); expected ${EXPECTED_INPUT_EXAMPLE}`;
}

/** The workflow input's config and timing; bad input fails the run at once, since retrying the same JSON cannot make it valid. */
export function checkedInput(input: AudienceSyncInput): { config: DestinationConfig; timing: Timing } {
  const shape = inputShapeProblem(input);
  if (shape !== null) throw ApplicationFailure.nonRetryable(shape, AudienceSyncFailureType.InvalidConfig);
  const checked = configProblems(input.config);
  if ('message' in checked) throw ApplicationFailure.nonRetryable(checked.message, AudienceSyncFailureType.InvalidConfig);
  return { config: checked.config, timing: timingOf(input.timing) };
}

function timingOf(t: AudienceSyncTiming | undefined): Timing {
  try {
    return {
      cadenceMs: msOf(t?.cadence, '1h'),
      pollInitialMs: msOf(t?.pollInitial, '30s'),
      pollMaxMs: msOf(t?.pollMax, '30m'),
      dataHeartbeatMs: msOf(t?.heartbeatTimeout, '2m'),
      uploadHeartbeatMs: msOf(t?.heartbeatTimeout, '5m'),
      tiktokCallMs: msOf(t?.tiktokCallTimeout, '5m'),
      noticeMs: msOf(t?.noticeTimeout, '2m'),
      dataStepMs: msOf(t?.dataStepTimeout, '10m'),
    };
  } catch (err) {
    throw ApplicationFailure.nonRetryable(`invalid timing: ${(err as Error).message}`, AudienceSyncFailureType.InvalidConfig);
  }
}

/** The activity stubs, one per retry/timeout profile (the dry run takes its data ones from here too). */
export function activitiesOf(input: AudienceSyncInput, timing: Timing) {
  const queues = { data: input.queues?.data ?? TaskQueues.data, tiktok: input.queues?.tiktok ?? TaskQueues.tiktok };
  const retry = { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', nonRetryableErrorTypes: [...AUDIENCE_SYNC_NON_RETRYABLE] };
  return {
    // Quick data-plane calls (stat, manifest read/write) do not heartbeat.
    dataQuick: proxyActivities<AudienceDataActivities>({ taskQueue: queues.data, startToCloseTimeout: timing.dataStepMs, retry }),
    dataHousekeeping: proxyActivities<AudienceDataActivities>({ taskQueue: queues.data, startToCloseTimeout: timing.dataStepMs, retry: { ...retry, maximumAttempts: 3 } }),
    // Streaming work heartbeats its progress; a lost worker is noticed within heartbeatTimeout
    // and the retry resumes from the last heartbeat.
    dataHeavy: proxyActivities<AudienceDataActivities>({ taskQueue: queues.data, startToCloseTimeout: '6h', heartbeatTimeout: timing.dataHeartbeatMs, retry }),
    tiktok: proxyActivities<TikTokAudienceActivities>({ taskQueue: queues.tiktok, startToCloseTimeout: timing.tiktokCallMs, retry }),
    // AudienceBusy is the workflow's to handle: wait on durable timers until editable, then edit again.
    tiktokEdit: proxyActivities<TikTokAudienceActivities>({
      taskQueue: queues.tiktok,
      startToCloseTimeout: timing.tiktokCallMs,
      retry: { ...retry, nonRetryableErrorTypes: [...retry.nonRetryableErrorTypes, AudienceSyncFailureType.AudienceBusy] },
    }),
    tiktokUpload: proxyActivities<TikTokAudienceActivities>({ taskQueue: queues.tiktok, startToCloseTimeout: '2h', heartbeatTimeout: timing.uploadHeartbeatMs, retry }),
    // Alerts: a few attempts, then the notice waits in the outbox for the sweeper, so a mail
    // server that is down never holds the destination's next cycle for long.
    notices: proxyActivities<NoticeActivities>({
      taskQueue: queues.data,
      startToCloseTimeout: timing.noticeMs,
      retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 5, nonRetryableErrorTypes: [...NOTICE_NON_RETRYABLE] },
    }),
  };
}

/** The ApplicationFailure type behind an activity failure, if any. */
export function failureTypeOf(err: unknown): string | null {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.type ?? null;
  if (err instanceof ApplicationFailure) return err.type ?? null;
  return null;
}

function messageOf(err: unknown): string {
  if (err instanceof ActivityFailure) return `${err.activityType ?? 'activity'}: ${err.cause?.message ?? err.message}`;
  return err instanceof Error ? err.message : String(err);
}

export class SyncContext {
  readonly acts: ReturnType<typeof activitiesOf>;
  /** Metrics on the workflow's meter (no command: replay-safe, and not recorded while replaying). */
  readonly metrics: LifecycleMetrics;
  /** The token was replaced (reauthorized or resume) since the workflow parked. */
  reauthorized = false;
  private syncState = '';
  /** Alert notices posted and not yet settled: continue-as-new waits for them. */
  private readonly posting: Promise<void>[] = [];

  constructor(
    public config: DestinationConfig,
    readonly timing: Timing,
    readonly requests: SyncRequests,
    input: AudienceSyncInput,
    /** null in runs from before alerts (their replay must post nothing). */
    readonly alerts: AlertBook | null = null,
  ) {
    this.acts = activitiesOf(input, timing);
    this.metrics = lifecycleMetrics(metricMeter, 'audience_sync', { destination_id: config.destinationId });
  }

  get status() {
    return this.requests.status;
  }

  /** Publishes the destination's search attributes (and its phase) for the UI's filters. */
  publish(): void {
    const attrs = [
      { key: SearchAttributeKeys.DestinationId, value: this.config.destinationId },
      { key: SearchAttributeKeys.AdvertiserId, value: this.config.advertiserId },
      { key: SearchAttributeKeys.Lifecycle, value: 'audience_sync' },
    ];
    upsertSearchAttributes(this.status.audienceId ? [...attrs, { key: SearchAttributeKeys.AudienceId, value: this.status.audienceId }] : attrs);
    this.setPhase(this.status.phase);
  }

  setPhase(phase: AudienceSyncPhase): void {
    this.status.phase = phase;
    this.showSyncState();
    if (this.alerts) this.announce(this.alerts.onPhase(phase, new Date(Date.now()).toISOString(), this.status.cycles));
  }

  /** A cycle ended: alerts of how it ended open, and those of how earlier ones ended clear. */
  endCycle(): void {
    if (this.alerts) this.announce(this.alerts.onCycleEnd(this.status.phase, new Date(Date.now()).toISOString(), this.status.cycles));
  }

  /**
   * Posts each alert event as a notice, without waiting: a park (reauthorization) must be
   * announced while it waits. A notice that could not be delivered is logged; it stays in the
   * outbox for the sweeper.
   */
  private announce(events: AlertEvent[]): void {
    const book = this.alerts;
    if (!book) return;
    for (const event of events) {
      const notice = alertNotice(event, book.epoch, {
        destinationId: this.config.destinationId,
        advertiserId: this.config.advertiserId,
        audienceId: this.status.audienceId,
        workflowId: WorkflowIds.audienceSync(this.config.destinationId),
        route: this.config.alerts,
        lastError: event.kind === 'entered' ? this.status.lastError : null,
        advice: event.kind === 'entered' ? this.status.advice : null,
      });
      log.info(`alert ${event.kind}: ${event.alert.state}`, { destinationId: this.config.destinationId, key: notice.key });
      this.post(book, notice);
    }
  }

  /** Alert notices whose delivery failed earlier, posted again (a cycle starts: the receiver may be back). */
  retryUnsentNotices(): void {
    const book = this.alerts;
    if (!book) return;
    for (const notice of book.takeUnsent()) this.post(book, notice);
  }

  private post(book: AlertBook, notice: NoticeRequest): void {
    this.posting.push(
      this.acts.notices.postNotice(notice).then(
        () => undefined,
        (err: unknown) => {
          const type = failureTypeOf(err);
          // A notice that is not one (a bug) is not tried again; anything else may pass.
          if (type !== NoticeFailureType.InvalidNotice) book.failed(notice);
          log.warn('alert notice not delivered; it stays in the notices outbox and is posted again at the next cycle', { destinationId: this.config.destinationId, key: notice.key, type, message: messageOf(err) });
        },
      ),
    );
  }

  /** Waits until every alert notice posted so far has been delivered or given up on. */
  async noticesSettled(): Promise<void> {
    await Promise.all(this.posting);
  }

  /**
   * Publishes SyncState: the phase, or `paused` while paused with no cycle running (held:
   * nothing starts until resume), so a filter finds paused destinations. Call it when the
   * phase, `paused` or the running cycle changes. Runs from before `paused` was shown
   * upserted nothing on pause or resume; patched only where the two differ, so their
   * histories replay.
   */
  showSyncState(): void {
    const held = this.status.paused && this.status.currentRunId === null && patched('sync-state-paused');
    const state = held ? 'paused' : this.status.phase;
    if (state !== this.syncState) {
      this.metrics.phaseChanged(this.syncState || null, state);
      this.syncState = state;
      upsertSearchAttributes([{ key: SearchAttributeKeys.SyncState, value: state }]);
    }
    this.showDetails();
  }

  /** Refreshes the current details the UI shows on the workflow's page (user metadata, read by query: no command, replay-safe). */
  showDetails(): void {
    setCurrentDetails(currentDetailsOf(this.requests.view()));
  }

  setAudienceId(id: string): void {
    if (this.status.audienceId === id) return;
    this.status.audienceId = id;
    upsertSearchAttributes([{ key: SearchAttributeKeys.AudienceId, value: id }]);
    this.showDetails();
  }

  errorOf(err: unknown): SyncError {
    return { at: new Date(Date.now()).toISOString(), phase: this.status.phase, type: failureTypeOf(err), message: messageOf(err) };
  }

  /** Records a stop that is not a failure (stale snapshot, cap reached) with its advice. */
  stop(phase: AudienceSyncPhase, type: string, message: string, advice: string): void {
    this.status.lastError = { at: new Date(Date.now()).toISOString(), phase, type, message };
    this.status.advice = advice;
    this.setPhase(phase);
  }

  target(cfg: DestinationConfig): TikTokTarget {
    return { advertiserId: cfg.advertiserId, accessTokenRef: cfg.accessToken, ...(cfg.appId ? { appId: cfg.appId } : {}) };
  }

  /**
   * Runs a TikTok step; on an expired or revoked token (or an unresolvable secret) parks in
   * reauthorization_required until signalled, then runs the same step again. Nothing is
   * lost: the data plane's results stay in storage and APPEND/REMOVE are set operations.
   */
  async withReauth<T>(step: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await step();
      } catch (err) {
        const type = failureTypeOf(err);
        if (type === null || !REAUTHORIZATION_FAILURES.includes(type)) throw err;
        const was = this.status.phase;
        this.status.lastError = this.errorOf(err);
        this.status.advice = `update the secret ${this.config.accessToken} with a valid token for advertiser ${this.config.advertiserId}, then signal "reauthorized"`;
        this.setPhase('reauthorization_required');
        log.warn('audience sync parked: reauthorization required', { destinationId: this.config.destinationId, type });
        this.reauthorized = false;
        await condition(() => this.reauthorized);
        this.reauthorized = false;
        this.status.lastError = null;
        this.status.advice = null;
        this.setPhase(was);
      }
    }
  }
}
