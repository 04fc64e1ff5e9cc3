import { ActivityFailure, ApplicationFailure, getExternalWorkflowHandle, log, patched, workflowInfo } from '@temporalio/workflow';
import { CrossLifecycleSignals, WorkflowIds, type EventsInputLandedPayload } from '../../src/temporal/workflowIds';
import type { AppliedStateSummary, BuildFilesResult, PrepareResult } from '../../activities/audience-sync/data';
import type { AudienceStatus, TikTokTarget } from '../../activities/audience-sync/tiktok';
import type { AudienceRef } from '../../src/audience-sync/audienceLeases';
import { audienceNameFor, type DestinationConfig } from '../../src/audience-sync/config';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import type { SyncRequest } from '../../src/audience-sync/messages';
import { failureTypeOf, type SyncContext } from './context';
import { prepareAndDiff } from './dataPlane';
import { edit, waitUntilValid } from './processing';
import { AUDIENCE_CAP, MAX_REUPLOADS, audienceCalculateType, cycleRunId, editSteps, failedCycle, rejectedByReason, snapshotUnchanged, targetability, uploadCalculateType, type BuiltFileRef, type EditStep } from './plan';

/*
 * One sync cycle of a destination, as named steps: inspect the snapshot, resolve the
 * audience, prepare-diff-build on the data queue, send the files to TikTok, commit the
 * applied state, wait for TikTok and record the result. Any step may throw: runCycle turns
 * the failure into status (error, or a park that waits for an operator).
 */

/** Runs one cycle; false when it failed (recorded in status). */
export async function runCycle(ctx: SyncContext, req: SyncRequest): Promise<boolean> {
  const { status } = ctx;
  status.cycles += 1;
  const cfg = ctx.config;
  // The run id as first recorded, which a reset keeps: a reset run goes on with the cycle's
  // data-plane folder (its completed activities wrote there). For a run never reset it is the
  // run id itself, so the value, and every history, is unchanged.
  const runId = cycleRunId(cfg.destinationId, status.cycles, workflowInfo().originalExecutionRunId);
  status.currentRunId = runId;
  ctx.retryUnsentNotices();
  try {
    await cycle(ctx, cfg, runId, req);
    return true;
  } catch (err) {
    // A failed step fails the cycle, not the destination: record it and wait for the next
    // trigger. Anything that is not a failure (a bug) fails the workflow task instead, so
    // a fixed deployment can carry on from here.
    if (!(err instanceof ActivityFailure) && !(err instanceof ApplicationFailure)) throw err;
    status.lastError = ctx.errorOf(err);
    const details = failureDetailOf(err);
    const ended = failedCycle(status.lastError.type, {
      audienceId: status.audienceId,
      advertiserId: cfg.advertiserId,
      holder: typeof details.destinationId === 'string' && typeof details.workflowId === 'string' ? { destinationId: details.destinationId, workflowId: details.workflowId } : undefined,
      endpoint: typeof details.endpoint === 'string' ? details.endpoint : undefined,
    });
    status.advice = ended.advice;
    if (ended.parked) log.warn(`audience sync parked: ${ended.phase}`, { destinationId: cfg.destinationId, cycleId: runId });
    else log.error('audience sync cycle failed', { destinationId: cfg.destinationId, cycleId: runId, type: status.lastError.type, message: status.lastError.message });
    ctx.setPhase(ended.phase);
    return false;
  } finally {
    status.currentRunId = null;
    // Paused during the cycle: now that it has ended, nothing runs until resume.
    ctx.showSyncState();
    ctx.endCycle();
  }
}

async function cycle(ctx: SyncContext, cfg: DestinationConfig, runId: string, req: SyncRequest): Promise<void> {
  const target = ctx.target(cfg);
  if (req.kind === 'snapshot' && !(await snapshotWorthSyncing(ctx, cfg, req))) return;
  // The two-advertiser rule, before any TikTok call, whichever way the workflow was started.
  if (patched('segment-claim')) await ctx.acts.dataQuick.claimSourceSegment({ config: cfg });
  const audience = await resolveAudience(ctx, cfg, target);
  if (!audience) return;
  // A create of an earlier cycle that took effect since: found before anything is sent.
  await removeStrayAudiences(ctx, cfg, target, runId);
  const { prepared, diffUris, built } = await prepareDiffBuild(ctx, cfg, runId, req, audience);
  const sent = await sendFiles(ctx, cfg, target, runId, req, audience, built);
  const committed = await commit(ctx, cfg, runId, audience, sent.audienceId, diffUris);
  if (prepared.snapshot && cfg.notifyEventsDestinations?.length && patched('notify-events-destinations'))
    await notifyEventsDestinations(cfg, runId, { uri: prepared.snapshot.uri, ...(req.kind === 'snapshot' && req.snapshot?.format ? { format: req.snapshot.format } : {}) });
  const final = sent.audienceId ? await waitUntilValid(ctx, cfg, target, sent.audienceId) : null;
  // This cycle's create, if uncertain: an attempt that landed during the processing wait.
  await removeStrayAudiences(ctx, cfg, target, runId);
  recordSync(ctx, runId, req, prepared, built, sent, committed.counts, final);
}

/**
 * Tells each events destination this one feeds about the snapshot just committed (its
 * eventsExport diffs it for enters and exits). A destination whose workflow is not running
 * is logged and skipped: the audience cycle never fails for it.
 */
async function notifyEventsDestinations(cfg: DestinationConfig, runId: string, input: EventsInputLandedPayload['input']): Promise<void> {
  for (const id of cfg.notifyEventsDestinations ?? []) {
    const payload: EventsInputLandedPayload = { input, requestId: `audience-sync:${cfg.destinationId}:${runId}` };
    try {
      await getExternalWorkflowHandle(WorkflowIds.eventsExport(id)).signal(CrossLifecycleSignals.eventsInputLanded, payload);
    } catch (err) {
      log.warn('events destination not notified', { destinationId: cfg.destinationId, eventsDestinationId: id, cycleId: runId, error: (err as Error).message });
    }
  }
}

/**
 * A snapshot sync goes ahead unless the export is older than the readiness window, or it is
 * the cadence's re-sync of an export already applied: re-applying it after change batches
 * would undo them.
 */
async function snapshotWorthSyncing(ctx: SyncContext, cfg: DestinationConfig, req: Extract<SyncRequest, { kind: 'snapshot' }>): Promise<boolean> {
  const phaseBefore = ctx.status.phase;
  ctx.setPhase('inspecting');
  const info = await ctx.acts.dataQuick.inspectSnapshot({ config: cfg, ...(req.snapshot ? { snapshot: req.snapshot } : {}) });
  if (info.stale) {
    ctx.stop(
      'stale_snapshot',
      'StaleSnapshot',
      `snapshot ${info.uri} was created ${info.createdAt}, older than the readiness window (${cfg.readinessWindow}); nothing was sent to TikTok`,
      'export a fresh snapshot and signal snapshotLanded (or syncNow)',
    );
    return false;
  }
  if (req.onCadence && !ctx.requests.recreateRequested && snapshotUnchanged(ctx.status.appliedSnapshot, info)) {
    ctx.setPhase(phaseBefore);
    return false;
  }
  return true;
}

interface ResolvedAudience {
  applied: AppliedStateSummary;
  /** null: the cycle creates it. */
  audienceId: string | null;
  existedBefore: boolean;
  /** recreateAudience asked for this cycle: the new audience gets the whole applied state. */
  recreating: boolean;
}

/**
 * The audience this cycle writes: the one the applied state names, the configured one, the
 * one a failed cycle created, or (append/replace) the one of the literal name. null when a
 * new audience would pass TikTok's cap (the cycle stops, nothing uploaded).
 */
async function resolveAudience(ctx: SyncContext, cfg: DestinationConfig, target: TikTokTarget): Promise<ResolvedAudience | null> {
  const { status } = ctx;
  ctx.setPhase('loading_state');
  const applied = await ctx.acts.dataQuick.loadAppliedState({ config: cfg });
  // The manifest names the audience its applied state describes; the carried id covers an
  // audience created by a cycle that failed before its commit (a new create could make a
  // second audience when the name is a template with the time in it). Recreating, only the
  // latter counts: the manifest's audience is the one that went missing.
  const recreating = ctx.requests.recreateRequested;
  let audienceId = recreating ? status.audienceId : (applied.audienceId ?? cfg.audienceId ?? status.audienceId ?? null);
  let existedBefore = audienceId !== null && !recreating;
  if (audienceId) ctx.setAudienceId(audienceId);
  // The writer lease, before any TikTok call: an audience another destination writes is not touched.
  const literalName = cfg.action !== 'create' && typeof cfg.audienceName === 'string' ? cfg.audienceName : null;
  await leaseAudience(ctx, cfg, [...(audienceId ? [{ kind: 'id' as const, value: audienceId }] : []), ...(literalName ? [{ kind: 'name' as const, value: literalName }] : [])]);
  // append/replace feed an audience that exists: found by its literal name, never created,
  // also when recreating (runs from before the patch skipped the lookup then, and reported
  // `synced` with no audience).
  if (!audienceId && cfg.action !== 'create' && (!recreating || patched('recreate-finds-by-name'))) {
    ctx.setPhase('finding_audience');
    const name = audienceNameFor(cfg, new Date(Date.now()));
    const found = await ctx.withReauth(() => ctx.acts.tiktok.findCustomAudience({ ...target, name }));
    if (!found.audienceId)
      throw ApplicationFailure.create({
        type: AudienceSyncFailureType.AudienceNotFound,
        nonRetryable: true,
        message: `action "${cfg.action}" feeds an existing audience, but advertiser ${cfg.advertiserId} has no audience named "${name}"; nothing was uploaded`,
      });
    audienceId = found.audienceId;
    existedBefore = true;
    ctx.setAudienceId(audienceId);
    await leaseAudience(ctx, cfg, [{ kind: 'id', value: audienceId }]);
  }
  if (!audienceId) {
    ctx.setPhase('checking_cap');
    const count = await ctx.withReauth(() => ctx.acts.tiktok.countCustomAudiences(target));
    if (count >= AUDIENCE_CAP) {
      ctx.stop(
        'audience_cap_reached',
        'AudienceCapReached',
        `advertiser ${cfg.advertiserId} already has ${count} custom audiences, TikTok's cap is ${AUDIENCE_CAP}; nothing was uploaded`,
        'delete unused audiences in TikTok, or set audienceId to feed an existing audience',
      );
      return null;
    }
  }
  return { applied, audienceId, existedBefore, recreating };
}

/** The data plane: hash the input, diff it against the applied state in shard groups (shared with the dry run), pack customer files. */
async function prepareDiffBuild(ctx: SyncContext, cfg: DestinationConfig, runId: string, req: SyncRequest, audience: ResolvedAudience) {
  const { dataHeavy } = ctx.acts;
  // Recreating, the new audience gets the whole state after this run, not only its changes.
  const { prepared, diffs } = await prepareAndDiff(dataHeavy, cfg, runId, req, { version: audience.applied.version, resend: audience.recreating }, (phase) => ctx.setPhase(phase));
  const diffUris = diffs.map((d) => d.summaryUri);
  ctx.setPhase('building');
  const built = await dataHeavy.buildCustomerFiles({ config: cfg, runId, diffUris });
  return { prepared, diffUris, built };
}

interface SentFiles {
  audienceId: string | null;
  files: readonly BuiltFileRef[];
  removed: number;
}

/**
 * Uploads the files and runs the create/APPEND/REPLACE/REMOVE calls in order, each after
 * TikTok finished processing the last. TikTok's file paths last 24 hours; a long processing
 * wait or reauthorization park can outlive them: the files not sent yet (uploaded together,
 * so they expire together) are uploaded again and the call runs again from the same built
 * files: nothing is rebuilt.
 */
async function sendFiles(
  ctx: SyncContext,
  cfg: DestinationConfig,
  target: TikTokTarget,
  runId: string,
  req: SyncRequest,
  audience: ResolvedAudience,
  built: BuildFilesResult,
): Promise<SentFiles> {
  let audienceId = audience.audienceId;
  const appendFiles = built.files.filter((f) => f.action === 'APPEND');
  const removeFiles = cfg.syncMode === 'mirror' ? built.files.filter((f) => f.action === 'REMOVE') : [];
  const toSend = [...appendFiles, ...removeFiles];
  const sent = (): SentFiles => ({ audienceId, files: toSend, removed: removeFiles.reduce((n, f) => n + f.ids, 0) });
  if (!toSend.length || (!audienceId && !appendFiles.length)) return sent();

  const audienceType = audienceCalculateType(cfg);
  const pathOf = new Map<string, string>();
  const upload = async (files: readonly BuiltFileRef[]): Promise<void> => {
    ctx.setPhase('uploading');
    const uploaded = await ctx.withReauth(() =>
      ctx.acts.tiktokUpload.uploadCustomerFiles({
        ...target,
        files: files.map((f) => ({ uri: f.uri, md5: f.md5, calculateType: uploadCalculateType(audienceType, f.calculateType) })),
      }),
    );
    for (const u of uploaded) pathOf.set(u.uri, u.filePath);
  };
  const paths = (files: readonly BuiltFileRef[]): string[] =>
    files.map((f) => {
      const p = pathOf.get(f.uri);
      if (p === undefined) throw ApplicationFailure.create({ type: AudienceSyncFailureType.UploadIncomplete, message: `upload returned no file path for ${f.uri}` });
      return p;
    });
  await upload(toSend);
  // action "replace" on an audience ttsync has never written: its first edit replaces
  // whatever TikTok holds, so the audience ends up equal to the snapshot.
  const replaceFirst = cfg.action === 'replace' && audience.applied.version === null && audience.existedBefore && req.kind === 'snapshot';
  const steps: EditStep[] = editSteps({ appendFiles, removeFiles, create: !audienceId, replaceFirst });
  let reuploads = 0;
  const withPaths = async (i: number, call: (filePaths: string[]) => Promise<void>): Promise<void> => {
    for (;;) {
      try {
        return await call(paths(steps[i]!.files));
      } catch (err) {
        if (failureTypeOf(err) !== AudienceSyncFailureType.FilePathExpired || reuploads >= MAX_REUPLOADS) throw err;
        reuploads += 1;
        log.warn('file paths expired before use: uploading the unsent files again', { destinationId: cfg.destinationId, cycleId: runId, reuploads });
        await upload(steps.slice(i).flatMap((s) => s.files));
      }
    }
  };
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (step.action === 'CREATE') {
      await withPaths(i, async (filePaths) => {
        ctx.setPhase('creating');
        const name = audienceNameFor(cfg, new Date(Date.now()));
        // The create's marker token, recorded (status, carried) before the first attempt and
        // reused by every later one, in this cycle or the next: their creates share the marker.
        const earlier = ctx.status.audienceCreate?.token;
        const token = patched('create-marker') ? (earlier ?? runId) : undefined;
        if (token !== undefined && earlier === undefined) ctx.status.audienceCreate = { token };
        const created = await ctx.withReauth(() =>
          ctx.acts.tiktok.createCustomAudience({
            ...target,
            name,
            calculateType: audienceType,
            filePaths,
            ...(cfg.retentionDays ? { retentionDays: cfg.retentionDays } : {}),
            ...(token !== undefined ? { destinationId: cfg.destinationId, createToken: token } : {}),
          }),
        );
        audienceId = created.audienceId;
        ctx.setAudienceId(audienceId);
        if (token !== undefined) recordCreate(ctx, cfg, runId, { token, audienceId, uncertain: !created.created || (created.attempt ?? 1) > 1 || earlier !== undefined, marked: created.marked ?? 0 });
        // A recreated audience takes over the lease of the one that went missing.
        const gone = audience.recreating ? audience.applied.audienceId : null;
        await leaseAudience(ctx, cfg, [{ kind: 'id', value: audienceId }], gone && gone !== audienceId ? [{ kind: 'id', value: gone }] : []);
        // Found rather than created (a retried create, or an audience of that name): its
        // first files were not added by the create, so they go in as an APPEND. One an earlier
        // cycle's create made may hold that cycle's files instead: REPLACE makes it this cycle's.
        if (!created.created) steps.splice(i + 1, 0, { action: token !== undefined && earlier !== undefined ? 'REPLACE' : 'APPEND', files: step.files });
      });
    } else {
      const id = audienceId;
      const action = step.action;
      if (id === null) throw ApplicationFailure.create({ type: AudienceSyncFailureType.AudienceNotFound, message: 'no audience to edit' });
      await withPaths(i, (filePaths) => edit(ctx, cfg, target, id, action, filePaths));
    }
  }
  return sent();
}

/** How long after an uncertain create cycles look for late ones: TikTok makes a new audience accessible within an hour (tiktok-api.md §3.6). */
const CREATE_SETTLE_MS = 60 * 60_000;

/** The create's outcome in status; an uncertain one (an earlier attempt may still land) starts the stray checks. */
function recordCreate(ctx: SyncContext, cfg: DestinationConfig, runId: string, c: { token: string; audienceId: string; uncertain: boolean; marked: number }): void {
  const record = { ...ctx.status.audienceCreate, token: c.token, audienceId: c.audienceId };
  if (c.uncertain) record.checkUntil = new Date(Date.now() + CREATE_SETTLE_MS).toISOString();
  ctx.status.audienceCreate = record;
  if (c.marked > 1) log.warn(`TikTok holds ${c.marked} audiences of this destination's create; writing only ${c.audienceId}, the others are deleted`, { destinationId: cfg.destinationId, cycleId: runId, audienceId: c.audienceId });
}

/**
 * While an uncertain create may still land, deletes the audiences that carry this
 * destination's create marker other than the one it adopted (never written by ttsync).
 * Housekeeping: a failure is logged and the next cycle checks again; the check stops with the
 * first one after the settle time.
 */
async function removeStrayAudiences(ctx: SyncContext, cfg: DestinationConfig, target: TikTokTarget, runId: string): Promise<void> {
  const c = ctx.status.audienceCreate;
  if (!c?.checkUntil || !c.audienceId) return;
  const checkUntil = c.checkUntil;
  try {
    const { deleted } = await ctx.withReauth(() => ctx.acts.tiktok.removeStrayAudiences({ ...target, destinationId: cfg.destinationId, createToken: c.token, keep: c.audienceId as string }));
    if (deleted.length) {
      c.straysDeleted = [...(c.straysDeleted ?? []), ...deleted].slice(-20);
      log.warn(`deleted ${deleted.length} audience(s) a late create made (${deleted.join(', ')}); this destination writes only ${c.audienceId}`, { destinationId: cfg.destinationId, cycleId: runId, deleted });
    }
    if (Date.now() >= Date.parse(checkUntil)) delete c.checkUntil;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    log.warn('looking for audiences a late create made failed; the next cycle looks again', { destinationId: cfg.destinationId, cycleId: runId, type: failureTypeOf(err) });
  }
}

/**
 * Takes (or confirms) this destination's writer lease on an audience; AudienceConflict when
 * another destination holds it. Runs from before the lease had none; their replay must not.
 */
async function leaseAudience(ctx: SyncContext, cfg: DestinationConfig, audiences: AudienceRef[], release: AudienceRef[] = []): Promise<void> {
  if (!audiences.length || !patched('audience-lease')) return;
  await ctx.acts.dataQuick.claimAudienceLease({ config: cfg, audiences, ...(release.length ? { release } : {}) });
}

/** The first detail of the failure behind an activity failure (an AudienceConflict's holder, an UnexpectedResponse's endpoint). */
function failureDetailOf(err: unknown): Record<string, unknown> {
  const failure = err instanceof ActivityFailure ? err.cause : err;
  const d: unknown = failure instanceof ApplicationFailure ? failure.details?.[0] : undefined;
  return typeof d === 'object' && d !== null ? (d as Record<string, unknown>) : {};
}

/** Only now has TikTok accepted every file: the applied state may move on. */
async function commit(ctx: SyncContext, cfg: DestinationConfig, runId: string, audience: ResolvedAudience, audienceId: string | null, diffUris: string[]) {
  ctx.setPhase('committing');
  const committed = await ctx.acts.dataQuick.commitAppliedState({ config: cfg, runId, baseVersion: audience.applied.version, audienceId, diffUris });
  if (audience.recreating) ctx.requests.recreateRequested = false;
  // Old run folders go once a commit no longer needs them. Housekeeping: a failure is logged,
  // never fails the cycle (the next commit collects what is left).
  if (patched('run-gc')) {
    try {
      await ctx.acts.dataHousekeeping.collectRunGarbage({ config: cfg });
    } catch (err) {
      if (!(err instanceof ActivityFailure)) throw err;
      log.warn('run folder garbage collection failed', { destinationId: cfg.destinationId, cycleId: runId, type: failureTypeOf(err) });
    }
  }
  return committed;
}

/** The cycle's summary in status, and whether the audience can be targeted. */
function recordSync(
  ctx: SyncContext,
  runId: string,
  req: SyncRequest,
  prepared: PrepareResult,
  built: BuildFilesResult,
  sent: SentFiles,
  counts: Partial<Record<string, number>>,
  final: AudienceStatus | null,
): void {
  const { status } = ctx;
  const inputs = [prepared.snapshot, ...(prepared.changes ?? [{ enters: prepared.enters, exits: prepared.exits }]).flatMap((b) => [b.enters, b.exits])];
  status.lastSync = {
    runId,
    kind: req.kind,
    ...(prepared.snapshot ? { snapshot: { uri: prepared.snapshot.uri, createdAt: prepared.snapshot.createdAt, bytes: prepared.snapshot.bytes } } : {}),
    added: built.appendIds,
    removed: sent.removed,
    rejected: rejectedByReason(inputs),
    rejectsUris: inputs.flatMap((i) => (i ? [i.rejectsUri] : [])),
    files: sent.files.length,
    bytes: sent.files.reduce((n, f) => n + f.bytes, 0),
    appliedCounts: Object.fromEntries(Object.entries(counts).map(([t, n]) => [t, n ?? 0])),
    finishedAt: new Date(Date.now()).toISOString(),
  };
  ctx.metrics.idsSynced('added', status.lastSync.added);
  ctx.metrics.idsSynced('removed', status.lastSync.removed);
  ctx.metrics.rejected(status.lastSync.rejected);
  if (status.lastSync.snapshot) status.appliedSnapshot = status.lastSync.snapshot;
  status.lastError = null;
  // cover_num is optional in TikTok's answer: unknown is not "too small" (runs from before the patch read it as 0).
  const unknownIsSmall = final?.coverNum === null && !patched('unknown-cover-num-is-not-too-small');
  const verdict = targetability(sent.audienceId, final, unknownIsSmall);
  status.advice = verdict.advice;
  ctx.setPhase(verdict.phase);
}
