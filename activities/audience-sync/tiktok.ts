import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { Context, activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, type MetricMeter } from '@temporalio/common';
import { resolveSecret as defaultResolveSecret } from '../../src/config/secrets';
import { openBlob } from '../../src/storage';
import { pieces } from '../../src/audience-sync/reusedReads';
import { TikTokClient, TikTokError, type AudienceAction, type CalculateType, type TikTokEnv } from '../../src/tiktok';
import { mapTikTokFailures } from '../../src/tiktok/activityFailure';
import { MAX_FILE_PATHS_PER_CALL } from '../../src/tiktok/limits';
import { AudienceSyncFailureType } from '../../src/audience-sync/failures';
import { createMarker, hasMarker, nameWithMarker, pickAudience } from '../../src/audience-sync/createMarker';

/** Who we act for. Only a reference to the token travels in workflow payloads. */
export interface TikTokTarget {
  advertiserId: string;
  /** e.g. `env:TIKTOK_ACCESS_TOKEN`; resolved inside the activity on every call. */
  accessTokenRef: string;
  /** Selects the per-app rate-limit bucket. */
  appId?: string;
}

export interface CustomerFileRef {
  uri: string;
  calculateType: CalculateType;
  /** MD5 recorded when the file was built; the upload is refused if the bytes changed since. */
  md5: string;
}

export interface UploadedFile {
  uri: string;
  filePath: string;
}

export interface AudienceStatus {
  audienceId: string;
  /** False while TikTok processes the audience (no edit may be sent then) or once expired. */
  isValid: boolean;
  coverNum: number | null;
  message: string | null;
  errorMessage: string | null;
}

export interface TikTokAudienceDeps {
  resolveSecret?: (ref: string) => Promise<string>;
  /** Reads a built customer file and hashes exactly the bytes it will send; defaults to the storage adapters by URI. */
  openFile?: (uri: string) => Promise<{ content: Blob; md5: string }>;
  tiktokEnv?: Partial<TikTokEnv>;
}

/** The running activity's meter: its TikTok calls land on the worker's metrics endpoint, tagged with the activity. */
function activityMeter(): MetricMeter | undefined {
  try {
    return Context.current().metricMeter;
  } catch {
    // Called outside an activity (a script or test calling the function itself): not measured.
    return undefined;
  }
}

export function createTikTokAudienceActivities(deps: TikTokAudienceDeps = {}) {
  const resolve = deps.resolveSecret ?? ((ref: string) => defaultResolveSecret(ref));
  const openFile =
    deps.openFile ??
    (async (uri: string) => {
      const { store, key } = openBlob(uri);
      // A Blob of parts copied out of one reused read buffer: the file is held once, outside
      // the JS heap. Read whole into a Buffer and copied into a Blob, each file was held two
      // or three times until the collector ran (150 MiB more at the peak of a 1M-row upload);
      // a file-backed Blob held nothing but cost twice the CPU to send (64 KiB stream steps).
      const hash = createHash('md5');
      const parts: Blob[] = [];
      for await (const piece of pieces(store, key)) {
        hash.update(piece);
        parts.push(new Blob([piece]));
      }
      return { content: new Blob(parts), md5: hash.digest('hex') };
    });

  async function clientFor(t: TikTokTarget): Promise<TikTokClient> {
    // Resolved per call, never cached: a rotated token takes effect on the next attempt.
    const accessToken = await resolve(t.accessTokenRef);
    const meter = activityMeter();
    return new TikTokClient({ accessToken, appId: t.appId, env: deps.tiktokEnv, ...(meter ? { meter } : {}) });
  }

  return {
    /**
     * Uploads built customer files and returns their TikTok file paths. Heartbeats after each
     * file, and a retry skips the files its previous attempt already uploaded.
     */
    async uploadCustomerFiles(input: TikTokTarget & { files: CustomerFileRef[] }): Promise<UploadedFile[]> {
      return mapTikTokFailures(async () => {
        const client = await clientFor(input);
        const done = new Map<string, string>(
          ((activityInfo().heartbeatDetails as UploadedFile[] | undefined) ?? []).map((u) => [u.uri, u.filePath]),
        );
        for (const f of input.files) {
          if (done.has(f.uri)) continue;
          const { content, md5 } = await openFile(f.uri);
          if (md5 !== f.md5) {
            throw ApplicationFailure.create({
              type: AudienceSyncFailureType.FileIntegrity,
              message: `customer file ${f.uri} changed since it was built (MD5 ${md5}, expected ${f.md5}); rebuild it`,
              nonRetryable: true,
            });
          }
          const { filePath } = await client.uploadAudienceFile({
            advertiserId: input.advertiserId,
            calculateType: f.calculateType,
            fileName: basename(f.uri),
            content,
            md5,
          });
          done.set(f.uri, filePath);
          heartbeat([...done].map(([uri, p]) => ({ uri, filePath: p })));
        }
        return input.files.map((f) => ({ uri: f.uri, filePath: done.get(f.uri) as string }));
      });
    },

    /**
     * Finds the audience of this exact name, never creates one: actions append and replace
     * feed an audience that already exists. Null when there is none; AmbiguousAudience when
     * several share the name.
     */
    async findCustomAudience(input: TikTokTarget & { name: string }): Promise<{ audienceId: string | null }> {
      return mapTikTokFailures(async () => {
        const client = await clientFor(input);
        const existing = await findAudiencesByName(client, input.advertiserId, input.name);
        if (existing.length > 1) throw ambiguous(input.advertiserId, input.name, existing);
        return { audienceId: existing[0] ?? null };
      });
    },

    /**
     * Creates the audience with its first files, or finds the one a previous attempt created:
     * TikTok has no idempotency key, and a create that timed out may have succeeded.
     *
     * With `createToken` (recorded by the workflow before its first attempt) the create names
     * the audience with the destination's marker (createMarker.ts) and, before every attempt,
     * lists the advertiser's audiences for it: one found is adopted (several: the lowest id;
     * the workflow's stray check deletes the others). Without a marked one, an audience of the
     * literal name is adopted as before (a create sent by older code). `attempt` > 1 tells the
     * workflow an earlier attempt may still land: it checks for strays afterwards.
     */
    async createCustomAudience(
      input: TikTokTarget & {
        name: string;
        calculateType: CalculateType;
        filePaths: string[];
        retentionDays?: number;
        destinationId?: string;
        createToken?: string;
      },
    ): Promise<{ audienceId: string; created: boolean; attempt?: number; marked?: number }> {
      return mapTikTokFailures(async () => {
        checkFilePaths(input.filePaths);
        const client = await clientFor(input);
        const marker = input.createToken && input.destinationId ? createMarker(input.destinationId, input.createToken) : null;
        const audiences = await listAllAudiences(client, input.advertiserId);
        const extra = marker ? { attempt: currentAttempt() } : {};
        if (marker) {
          const marked = audiences.filter((a) => hasMarker(a.name, marker)).map((a) => a.id);
          const kept = pickAudience(marked);
          if (kept) return { audienceId: kept, created: false, ...extra, marked: marked.length };
        }
        const existing = audiences.filter((a) => a.name === input.name).map((a) => a.id);
        if (existing.length > 1) throw ambiguous(input.advertiserId, input.name, existing);
        if (existing[0]) return { audienceId: existing[0], created: false, ...extra };
        const { audienceId } = await client.createAudience({
          advertiserId: input.advertiserId,
          name: marker ? nameWithMarker(input.name, marker) : input.name,
          calculateType: input.calculateType,
          filePaths: input.filePaths,
          retentionInDays: input.retentionDays,
        });
        return { audienceId, created: true, ...extra };
      });
    },

    /**
     * Deletes the audiences that carry this destination's create marker other than `keep`:
     * creates that took effect after ttsync had moved on (answered late, or never answered).
     * ttsync never edited them (it writes only the audience it adopted), and nobody else
     * names an audience with the marker. An audience already gone counts as deleted.
     */
    async removeStrayAudiences(input: TikTokTarget & { destinationId: string; createToken: string; keep: string }): Promise<{ deleted: string[] }> {
      return mapTikTokFailures(async () => {
        const client = await clientFor(input);
        const marker = createMarker(input.destinationId, input.createToken);
        const strays = (await listAllAudiences(client, input.advertiserId)).filter((a) => hasMarker(a.name, marker) && a.id !== input.keep).map((a) => a.id);
        for (let i = 0; i < strays.length; i += MAX_AUDIENCE_IDS_PER_CALL) {
          const batch = strays.slice(i, i + MAX_AUDIENCE_IDS_PER_CALL);
          await client.deleteAudiences({ advertiserId: input.advertiserId, audienceIds: batch }).catch(async (err: unknown) => {
            if (!audienceGone(err, { advertiserId: input.advertiserId, audienceId: batch[0] ?? '' })) throw err;
            // One of the batch is gone already (a delete whose answer was lost): delete the rest one by one.
            for (const id of batch) {
              await client.deleteAudiences({ advertiserId: input.advertiserId, audienceIds: [id] }).catch((e: unknown) => {
                if (!audienceGone(e, { advertiserId: input.advertiserId, audienceId: id })) throw e;
              });
            }
          });
        }
        return { deleted: strays };
      });
    },

    /** APPEND or REMOVE (or REPLACE) at most 50 files. Set semantics make a repeat harmless. */
    async updateCustomAudience(
      input: TikTokTarget & { audienceId: string; action: AudienceAction; filePaths: string[] },
    ): Promise<void> {
      return mapTikTokFailures(async () => {
        checkFilePaths(input.filePaths);
        const client = await clientFor(input);
        await client
          .updateAudience({
            advertiserId: input.advertiserId,
            audienceId: input.audienceId,
            action: input.action,
            filePaths: input.filePaths,
          })
          .catch((err: unknown) => {
            throw audienceGone(err, input) ?? err;
          });
      });
    },

    async getCustomAudienceStatus(input: TikTokTarget & { audienceId: string }): Promise<AudienceStatus> {
      return mapTikTokFailures(async () => {
        const client = await clientFor(input);
        const [a] = await client.getAudiences({ advertiserId: input.advertiserId, audienceIds: [input.audienceId], historySize: 1 }).catch((err: unknown) => {
          throw audienceGone(err, input) ?? err;
        });
        if (!a) throw notFound(input);
        return {
          audienceId: input.audienceId,
          isValid: a.details.is_valid,
          coverNum: a.details.cover_num ?? null,
          message: a.details.msg ?? null,
          errorMessage: a.details.error_msg ?? null,
        };
      });
    },

    /** For the 400-audiences-per-advertiser cap, checked before anything is uploaded. */
    async countCustomAudiences(input: TikTokTarget): Promise<number> {
      return mapTikTokFailures(async () => {
        const client = await clientFor(input);
        const { pageInfo } = await client.listAudiences({ advertiserId: input.advertiserId, page: 1, pageSize: 1 });
        return pageInfo.total_number;
      });
    },
  };
}

export type TikTokAudienceActivities = ReturnType<typeof createTikTokAudienceActivities>;

/** custom_audience_ids of dmp/custom_audience/delete/ take 1 to 100 ids (tiktok-api.md §3.5). */
const MAX_AUDIENCE_IDS_PER_CALL = 100;

function notFound(t: { advertiserId: string; audienceId: string }): ApplicationFailure {
  return ApplicationFailure.create({
    type: AudienceSyncFailureType.AudienceNotFound,
    message: `audience ${t.audienceId} does not exist in advertiser ${t.advertiserId} (deleted in TikTok?)`,
    nonRetryable: true,
  });
}

/**
 * TikTok answers a call on an audience id that is not (or no longer) in the advertiser with
 * 40002 "... does not exist" / "invalid audience ID" or 40007 (tiktok-api.md §1.2, §3.4): for
 * the workflow that is AudienceNotFound (audience_missing), not a bad request.
 */
function audienceGone(err: unknown, t: { advertiserId: string; audienceId: string }): ApplicationFailure | undefined {
  if (!(err instanceof TikTokError)) return undefined;
  if (err.code === 40007 || (err.code === 40002 && /does not exist|invalid audience id/i.test(err.message))) return notFound(t);
  return undefined;
}

function ambiguous(advertiserId: string, name: string, ids: string[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: AudienceSyncFailureType.AmbiguousAudience,
    message: `advertiser ${advertiserId} has ${ids.length} audiences named "${name}" (${ids.join(', ')}); set audienceId in the destination to pick one`,
    nonRetryable: true,
  });
}

function checkFilePaths(paths: string[]): void {
  if (paths.length < 1 || paths.length > MAX_FILE_PATHS_PER_CALL) {
    throw ApplicationFailure.create({
      type: AudienceSyncFailureType.InvalidRequest,
      message: `an audience call takes 1 to ${MAX_FILE_PATHS_PER_CALL} file paths, got ${paths.length}`,
      nonRetryable: true,
    });
  }
}

async function findAudiencesByName(client: TikTokClient, advertiserId: string, name: string): Promise<string[]> {
  return (await listAllAudiences(client, advertiserId)).filter((a) => a.name === name).map((a) => a.id);
}

/**
 * Every audience of the advertiser, page by page (100 a page, the most TikTok gives). Pages
 * can shift while audiences are created meanwhile: an id seen twice counts once.
 */
async function listAllAudiences(client: TikTokClient, advertiserId: string): Promise<{ id: string; name: string }[]> {
  const found = new Map<string, string>();
  for (let page = 1; ; page++) {
    const { audiences, pageInfo } = await client.listAudiences({ advertiserId, page, pageSize: 100 });
    for (const a of audiences) found.set(a.audience_id, a.name);
    if (page >= pageInfo.total_page || audiences.length === 0) return [...found].map(([id, name]) => ({ id, name }));
  }
}

/** The attempt of the running activity; 1 outside one (a script or test calling the function itself). */
function currentAttempt(): number {
  try {
    return activityInfo().attempt;
  } catch {
    return 1;
  }
}
