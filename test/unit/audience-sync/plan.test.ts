import { initialAudienceSyncStatus } from '../../../src/audience-sync/messages';
import { describe, expect, it } from 'vitest';
import { calculateTypeOf } from '../../../src/tiktok/types';
import { DestinationConfigSchema, type DestinationConfigInput } from '../../../src/audience-sync/config';
import { IdentifierTypeSchema } from '../../../src/identifiers/schema';
import { ALL_TIKTOK_ERROR_TYPES, REAUTHORIZATION_FAILURES, TIKTOK_NON_RETRYABLE_ERROR_TYPES } from '../../../src/tiktok/errorTypes';
import { NON_RETRYABLE_AUDIENCE_DATA_ERRORS, AudienceSyncFailureType, AUDIENCE_SYNC_NON_RETRYABLE } from '../../../src/audience-sync/failures';
import {
  audienceCalculateType,
  chunks,
  currentDetailsOf,
  cycleRunId,
  editPhase,
  editSteps,
  failedCycle,
  msOf,
  nextPollDelay,
  rejectedByReason,
  shardGroups,
  shouldFlushNow,
  snapshotUnchanged,
  targetability,
  uploadCalculateType,
  type BuiltFileRef,
} from '../../../workflows/audience-sync/plan';
import { WorkflowIds } from '../../../src/temporal/workflowIds';
import { RunIdSchema } from '../../../src/audience-sync/layout';

const config = (identifiers: DestinationConfigInput['identifiers'], maidHash?: 'sha256' | 'md5') =>
  DestinationConfigSchema.parse({
    destinationId: 'd1',
    advertiserId: '7000000000000000001',
    audienceName: 'Control plane test',
    action: 'create',
    identifiers,
    accessToken: 'env:T',
    sourceSegmentId: 's',
    ...(maidHash ? { maidHash } : {}),
  });

describe('audience sync control plane: pure decisions', () => {
  it('names every failure type the workflow acts on, and never retries what retrying cannot fix', () => {
    for (const t of ALL_TIKTOK_ERROR_TYPES) expect(AudienceSyncFailureType[t]).toBe(t);
    expect(REAUTHORIZATION_FAILURES).toEqual(['ReauthorizationRequired', 'SecretUnavailable']);
    // Every non-retryable type is named; the ones the workflow waits out or retries are not.
    for (const t of [...TIKTOK_NON_RETRYABLE_ERROR_TYPES, ...NON_RETRYABLE_AUDIENCE_DATA_ERRORS, 'SecretUnavailable', 'FileIntegrity', 'AmbiguousAudience', 'AudienceNotFound'])
      expect(AUDIENCE_SYNC_NON_RETRYABLE).toContain(t);
    for (const t of ['Throttled', 'Transient', 'AudienceBusy', 'StorageUnavailable']) expect(AUDIENCE_SYNC_NON_RETRYABLE).not.toContain(t);
  });

  it('maps identifier types to calculate_type with the data plane\'s mapping (AAID is GAID, external ids have none)', () => {
    for (const t of IdentifierTypeSchema.options) {
      if (t === 'EXTERNAL_ID_SHA256') expect(() => calculateTypeOf(t)).toThrow(RangeError);
      else expect(calculateTypeOf(t)).toBe(t.replace(/^AAID_/, 'GAID_'));
    }
    expect(audienceCalculateType(config({ a: 'gaid' }, 'md5'))).toBe('GAID_MD5');
  });

  it('one mapped identifier type: the audience and its files use that type', () => {
    expect(audienceCalculateType(config({ email: 'email' }))).toBe('EMAIL_SHA256');
    expect(audienceCalculateType(config({ e1: 'email', e2: 'email' }))).toBe('EMAIL_SHA256');
    expect(audienceCalculateType(config({ m: 'maid' }, 'md5'))).toBe('MAID_MD5');
    expect(audienceCalculateType(config({ g: 'gaid' }))).toBe('GAID_SHA256');
    expect(uploadCalculateType('EMAIL_SHA256', 'EMAIL_SHA256')).toBe('EMAIL_SHA256');
  });

  it('several identifier types: a MULTIPLE_TYPES audience, every file uploaded as MULTIPLE_TYPES', () => {
    const t = audienceCalculateType(config({ email: 'email', phone: 'phone' }));
    expect(t).toBe('MULTIPLE_TYPES');
    expect(audienceCalculateType(config({ idfa: 'idfa', gaid: 'gaid' }))).toBe('MULTIPLE_TYPES');
    for (const f of ['EMAIL_SHA256', 'PHONE_SHA256', 'IDFA_MD5'] as const) expect(uploadCalculateType(t, f)).toBe('MULTIPLE_TYPES');
  });

  it('chunks file paths by 50 in order', () => {
    const paths = Array.from({ length: 123 }, (_, i) => `p${i}`);
    const c = chunks(paths);
    expect(c.map((x) => x.length)).toEqual([50, 50, 23]);
    expect(c.flat()).toEqual(paths);
    expect(chunks([])).toEqual([]);
    expect(() => chunks(paths, 0)).toThrow(RangeError);
  });

  it('4 shard groups of 64 cover 0..256 exactly once', () => {
    expect(shardGroups()).toEqual([
      [0, 64],
      [64, 128],
      [128, 192],
      [192, 256],
    ]);
    const g3 = shardGroups(3);
    expect(g3[0]![0]).toBe(0);
    expect(g3.at(-1)![1]).toBe(256);
    for (let i = 1; i < g3.length; i++) expect(g3[i]![0]).toBe(g3[i - 1]![1]);
  });

  it('processing poll backoff doubles up to the cap', () => {
    const seq = [100];
    for (let i = 0; i < 6; i++) seq.push(nextPollDelay(seq.at(-1)!, 1000));
    expect(seq).toEqual([100, 200, 400, 800, 1000, 1000, 1000]);
    expect(msOf(undefined, '30m')).toBe(1_800_000);
    expect(msOf('100ms', '30s')).toBe(100);
    expect(() => msOf('soon', '1h')).toThrow(/invalid duration/);
  });

  it('pending change batches flush at once at 500,000 users or 250 MB; unannounced sizes wait for the timer', () => {
    expect(shouldFlushNow([{ users: 499_999 }])).toBe(false);
    expect(shouldFlushNow([{ users: 300_000 }, { users: 200_000 }])).toBe(true);
    expect(shouldFlushNow([{ bytes: 250 * 1024 * 1024 }])).toBe(true);
    expect(shouldFlushNow([{}, {}])).toBe(false);
  });

  it('sums rejected rows and values by reason', () => {
    const counts = (rowsRejected: Record<string, number>, types: Record<string, Record<string, number>>) => ({
      counts: { rowsRejected, types: Object.fromEntries(Object.entries(types).map(([t, rejected]) => [t, { rejected }])) },
    });
    expect(
      rejectedByReason([
        counts({ malformed_row: 1 }, { EMAIL_SHA256: { invalid_email: 2 }, PHONE_SHA256: { invalid_phone: 1 } }),
        undefined,
        counts({}, { EMAIL_SHA256: { invalid_email: 1 } }),
      ]),
    ).toEqual({ malformed_row: 1, invalid_email: 3, invalid_phone: 1 });
  });

  it('cycle run ids are valid data-plane run ids, distinct per destination, cycle and execution', () => {
    const a = cycleRunId('shop-vips-long-destination-name-'.padEnd(64, 'x'), 12, '0f4b2c1e-8d8a-4c4f-9e0b-1234567890ab');
    expect(RunIdSchema.safeParse(a).success).toBe(true);
    expect(cycleRunId('d', 1, 'r1')).not.toBe(cycleRunId('d', 2, 'r1'));
    expect(cycleRunId('d', 1, 'r1')).not.toBe(cycleRunId('d', 1, 'r2'));
    expect(cycleRunId('d', 1, 'r1')).not.toBe(cycleRunId('e', 1, 'r1'));
    expect(WorkflowIds.audienceSync('shop-vips')).toBe('audience-sync:shop-vips');
  });

  const file = (n: number, action: 'APPEND' | 'REMOVE'): BuiltFileRef => ({ uri: `f${action}${n}`, md5: 'm', calculateType: 'EMAIL_SHA256', action, ids: 1, bytes: 1 });
  const files = (count: number, action: 'APPEND' | 'REMOVE'): BuiltFileRef[] => Array.from({ length: count }, (_, i) => file(i, action));
  const shape = (steps: ReturnType<typeof editSteps>) => steps.map((s) => `${s.action}:${s.files.length}`);

  it('edit steps: create with the first 50 adds, the other adds, then removes, 50 files a call', () => {
    expect(shape(editSteps({ appendFiles: files(120, 'APPEND'), removeFiles: files(51, 'REMOVE'), create: true, replaceFirst: false }))).toEqual([
      'CREATE:50',
      'APPEND:50',
      'APPEND:20',
      'REMOVE:50',
      'REMOVE:1',
    ]);
    // An existing audience: no create; replace makes the first edit a REPLACE and only that one.
    expect(shape(editSteps({ appendFiles: files(60, 'APPEND'), removeFiles: [], create: false, replaceFirst: true }))).toEqual(['REPLACE:50', 'APPEND:10']);
    // A first sync with nothing to add still creates the audience (with no files).
    expect(shape(editSteps({ appendFiles: [], removeFiles: [], create: true, replaceFirst: false }))).toEqual(['CREATE:0']);
    // Order is kept inside the chunks: every file once.
    const adds = files(75, 'APPEND');
    expect(editSteps({ appendFiles: adds, removeFiles: [], create: false, replaceFirst: false }).flatMap((s) => s.files)).toEqual(adds);
    expect([editPhase('APPEND'), editPhase('REPLACE'), editPhase('REMOVE')]).toEqual(['appending', 'replacing', 'removing']);
  });

  it('the cadence skips an export only when uri, creation time and size are all the applied ones', () => {
    const applied = { uri: 'gs://b/x.csv', createdAt: '2026-12-01T00:00:00Z', bytes: 10 };
    expect(snapshotUnchanged(applied, { ...applied })).toBe(true);
    expect(snapshotUnchanged(null, applied)).toBe(false);
    expect(snapshotUnchanged(applied, { ...applied, createdAt: '2026-12-02T00:00:00Z' })).toBe(false);
    expect(snapshotUnchanged(applied, { ...applied, bytes: 11 })).toBe(false);
    expect(snapshotUnchanged(applied, { ...applied, uri: 'gs://b/y.csv' })).toBe(false);
  });

  it('a failed cycle parks on a missing audience, a segment claimed elsewhere or a leased audience, each with its way out', () => {
    const at = { audienceId: '71', advertiserId: '70' };
    const missing = failedCycle('AudienceNotFound', at);
    expect(missing).toMatchObject({ phase: 'audience_missing', parked: true });
    expect(missing.advice).toContain('audience 71 no longer exists in advertiser 70');
    expect(failedCycle('AudienceNotFound', { ...at, audienceId: null }).advice).toContain('create the audience in TikTok under its configured name');
    expect(failedCycle('SegmentConflict', at)).toMatchObject({ phase: 'segment_conflict', parked: true });
    const conflict = failedCycle('AudienceConflict', { ...at, holder: { destinationId: 'first', workflowId: 'audience-sync:first' } });
    expect(conflict).toMatchObject({ phase: 'audience_conflict', parked: true });
    expect(conflict.advice).toContain('destination "first" (workflow audience-sync:first) writes this audience');
    expect(conflict.advice).toContain('ttsync audience release first');
    // An answer TikTok sent without a field ttsync needs: an error (the next cycle retries), with advice naming the endpoint.
    const odd = failedCycle('UnexpectedResponse', { ...at, endpoint: '/open_api/v1.3/dmp/custom_audience/get/' });
    expect(odd).toMatchObject({ phase: 'error', parked: false });
    expect(odd.advice).toContain('/open_api/v1.3/dmp/custom_audience/get/');
    expect(failedCycle('InvalidRequest', at)).toEqual({ phase: 'error', advice: null, parked: false });
    expect(failedCycle(null, at)).toEqual({ phase: 'error', advice: null, parked: false });
  });

  it('a finished sync under 1,000 matched users is too small to target; an unknown cover_num is not', () => {
    expect(targetability('71', { coverNum: 999 })).toMatchObject({ phase: 'too_small_to_target' });
    expect(targetability('71', { coverNum: 999 }).advice).toContain('audience 71 matches 999 TikTok users');
    expect(targetability('71', { coverNum: 1000 })).toEqual({ phase: 'synced', advice: null });
    expect(targetability('71', { coverNum: null })).toEqual({ phase: 'synced', advice: null });
    // Runs from before cover_num was optional read an absent one as 0.
    expect(targetability('71', { coverNum: null }, true)).toMatchObject({ phase: 'too_small_to_target' });
    // Nothing was sent and no audience exists: nothing to judge.
    expect(targetability(null, null)).toEqual({ phase: 'synced', advice: null });
  });
});

describe('the current details the UI shows on the workflow page', () => {
  const base = { ...initialAudienceSyncStatus({ destinationId: 'vip', advertiserId: '70' }), nextRunAt: '2026-12-03T10:00:00.000Z' };

  it('phase, audience, last sync counts and the next cadence, as markdown paragraphs', () => {
    const text = currentDetailsOf({
      ...base,
      phase: 'synced',
      audienceId: '555',
      cycles: 3,
      isValid: true,
      coverNum: 4200,
      lastSync: { runId: 'c3', kind: 'snapshot', added: 1200, removed: 7, rejected: { invalid_email: 2, invalid_phone: 1 }, rejectsUris: [], files: 2, bytes: 10, appliedCounts: {}, finishedAt: '2026-12-03T09:00:00.000Z' },
    });
    expect(text.split('\n\n')).toEqual([
      '**synced** · destination vip · advertiser 70 · audience 555 · cycle 3',
      'Last sync 2026-12-03T09:00:00.000Z (snapshot): +1200 / -7, 3 rejected, 2 files',
      'is_valid true · cover_num 4200',
      'Next cadence 2026-12-03T10:00:00.000Z',
    ]);
  });

  it('a paused workflow says so, with what is queued behind it', () => {
    const text = currentDetailsOf({ ...base, phase: 'synced', paused: true, queued: { snapshot: { uri: 'gs://b/s.csv', requestIds: ['r1'] }, batches: 2, flushRequested: true, flushRequestIds: [] } });
    expect(text).toContain('**paused (synced)**');
    expect(text).toContain('Queued: snapshot gs://b/s.csv, 2 change batches');
    expect(currentDetailsOf({ ...base, phase: 'uploading', paused: true, currentRunId: 'c1' })).toContain('**uploading (pausing: the running cycle finishes)**');
  });
});
