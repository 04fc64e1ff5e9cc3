import { randomBytes } from 'node:crypto';
import { SecretError, resolveSecret } from '../config/secrets';
import { DEFAULT_WORKDIR } from '../paths';
import { isStorageError, openBlob, openBlobStore, readJsonForUpdate, type BlobStore } from '../storage';
import { fail, info, ok, scheduleCheck, warn, type CheckOutcome, type DoctorCheck, type DoctorContext, type DoctorSource } from '../temporal/doctor';
import { PermissionDenied, ROLE_ADVICE, ROLE_REQUIREMENT, ReauthorizationRequired, TIKTOK_PRODUCTION_BASE_URL, TikTokClient, TikTokError, UNVERIFIED_ADVICE, parseTikTokEnv, readAdvertiserRoles } from '../tiktok';
import { CUSTOM_AUDIENCE_CAP } from '../tiktok/limits';
import { alertRouteCheck } from '../notices/doctor';
import { AudienceLeaseSchema, audienceLeaseKey, describeAudience, leasesHeldBy, type AudienceRef } from './audienceLeases';
import type { DestinationConfig } from './config';
import { loadDestinationConfigs } from './configFile';
import type { AudienceSyncTickInput } from './messages';
import { defaultRegistryUri } from './release';
import { audienceSyncSchedules } from './schedules';
import { claimEntryOf, claimProblem, readSegmentClaims, segmentOwner } from './segmentClaims';

/*
 * Audience sync's part of `ttsync doctor`: per destination, what its vendors' troubleshooting
 * lists ask first (token, advertiser, audience cap, conflicts, storage, schedule), checked
 * the way a cycle would meet it, and once per deployment the registry every worker shares.
 * Everything is read-only for the workflow's state: no claim or lease is written, and the
 * storage probes are objects of their own (`doctor/` keys), deleted again.
 *
 * The token and storage are checked with THIS process's environment and credentials: run
 * the doctor where the workers run (same secrets, TIKTOK_API_BASE_URL, GCS credentials).
 */

/** Warn this close to TikTok's cap: one burst of new destinations fills the rest. */
export const AUDIENCE_CAP_WARN = CUSTOM_AUDIENCE_CAP - 20;

const PROBE_PREFIX = 'doctor/';

const reauthorizeAdvice = (c: DestinationConfig): string =>
  `authorize the app again for advertiser ${c.advertiserId}, put the new token where ${c.accessToken} points (for the workers too), then signal running syncs: ttsync audience reauthorized ${c.destinationId}`;

const tiktokAdvice = (err: TikTokError, c: DestinationConfig): string =>
  err instanceof ReauthorizationRequired
    ? reauthorizeAdvice(c)
    : err instanceof PermissionDenied
      ? `the token lacks advertiser ${c.advertiserId} or the audience scope: authorize the app for this advertiser with a role that manages audiences (or fix advertiserId), then replace the token behind ${c.accessToken}`
      : `TikTok (${err.endpoint}) refused or failed: check TIKTOK_API_BASE_URL and TikTok's status, then run the doctor again`;

/** The registry folder this deployment's workers share. */
const registryUriOf = (ctx: DoctorContext): string => ctx.registry ?? defaultRegistryUri();

/** One client per destination, made once the token resolved; the doctor wants answers, not retries. */
class TikTokAccess {
  private client: Promise<TikTokClient> | undefined;
  constructor(private readonly config: DestinationConfig) {}
  get(): Promise<TikTokClient> {
    return (this.client ??= resolveSecret(this.config.accessToken).then(
      (accessToken) => new TikTokClient({ accessToken, ...(this.config.appId ? { appId: this.config.appId } : {}), retry: { maxAttempts: 2, maxDelayMs: 2000 } }),
    ));
  }
}

/** Runs a TikTok call; its typed failures become a fail with advice. */
async function tiktokCall(c: DestinationConfig, fn: () => Promise<CheckOutcome>, what: string): Promise<CheckOutcome> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof TikTokError) return fail(`${what}: ${err.message}`, tiktokAdvice(err, c));
    throw err;
  }
}

/** TIKTOK_API_BASE_URL and the other TikTok settings, read as the workers read them. */
function tiktokSettingsCheck(): DoctorCheck {
  return {
    name: 'tiktok-api',
    async run() {
      let env;
      try {
        env = parseTikTokEnv();
      } catch (err) {
        return fail((err as Error).message, 'fix the TIKTOK_* variables (the workers read the same ones)');
      }
      const where = process.env.TIKTOK_API_BASE_URL ? 'TIKTOK_API_BASE_URL' : 'the default; TIKTOK_API_BASE_URL unset';
      return env.TIKTOK_API_BASE_URL === TIKTOK_PRODUCTION_BASE_URL
        ? ok(`TikTok Business API at ${env.TIKTOK_API_BASE_URL} (${where})`)
        : info(`TikTok calls go to ${env.TIKTOK_API_BASE_URL} (${where}), not TikTok's production API`, 'fine for the emulator and dry runs; unset TIKTOK_API_BASE_URL for production');
    },
  };
}

function tokenCheck(c: DestinationConfig, tiktok: TikTokAccess): DoctorCheck {
  return {
    name: 'token',
    needs: ['tiktok-api'],
    async run() {
      let client: TikTokClient;
      try {
        client = await tiktok.get();
      } catch (err) {
        if (err instanceof SecretError)
          return fail(
            err.message,
            err.code === 'bad_reference'
              ? 'set accessToken to env:NAME or file:/path, never the token itself'
              : `provide the token where ${c.accessToken} points, in this environment and the workers' (the doctor resolves it as the TikTok activities do)`,
          );
        throw err;
      }
      return tiktokCall(
        c,
        async () => {
          await client.getUserInfo();
          return ok(`${c.accessToken} resolves and TikTok accepts the token (${client.baseUrl})`);
        },
        'the token is refused',
      );
    },
  };
}

function advertiserCheck(c: DestinationConfig, tiktok: TikTokAccess): DoctorCheck {
  return {
    name: 'advertiser',
    needs: ['token'],
    async run() {
      const client = await tiktok.get();
      return tiktokCall(
        c,
        async () => {
          const [a] = (await client.getAdvertiserInfo([c.advertiserId])).filter((x) => x.advertiser_id === c.advertiserId);
          if (!a) return fail(`TikTok returned no advertiser ${c.advertiserId} for this token`, `check advertiserId, and that the app is authorized for it`);
          const label = a.name ? ` "${a.name}"` : '';
          if (a.status && a.status !== 'STATUS_ENABLE')
            return warn(`advertiser ${c.advertiserId}${label} is ${a.status}`, 'a disabled or limited ad account may refuse audience edits: check it in TikTok Ads Manager');
          return ok(`advertiser ${c.advertiserId}${label} is readable with this token`);
        },
        `cannot read advertiser ${c.advertiserId}`,
      );
    },
  };
}

/**
 * The token user's role on the advertiser, where TikTok shows it (Business Center). A read of
 * the advertiser or its audiences proves nothing here: weaker roles read too.
 */
function roleCheck(c: DestinationConfig, tiktok: TikTokAccess): DoctorCheck {
  return {
    name: 'role',
    needs: ['advertiser'],
    async run() {
      const client = await tiktok.get();
      return tiktokCall(
        c,
        async () => {
          const [r] = await readAdvertiserRoles(client, [c.advertiserId]);
          if (!r || r.verdict === 'unverified') return info(`advertiser ${c.advertiserId}: ${r?.message ?? 'role unverified'}`, `${ROLE_REQUIREMENT}; ${UNVERIFIED_ADVICE}`);
          if (r.verdict === 'insufficient') return fail(`advertiser ${c.advertiserId}: ${r.message}, too weak to write audiences (${ROLE_REQUIREMENT})`, `${ROLE_ADVICE}; then replace the token behind ${c.accessToken}`);
          return ok(`advertiser ${c.advertiserId}: ${r.message}`);
        },
        `cannot read the role on advertiser ${c.advertiserId}`,
      );
    },
  };
}

/** An audience this destination writes already (its lease by id), so a create needs no new slot. */
async function heldAudience(ctx: DoctorContext, c: DestinationConfig): Promise<string | undefined> {
  try {
    const held = await leasesHeldBy(openBlobStore(registryUriOf(ctx)), c.destinationId);
    return held.find((h) => h.lease.advertiserId === c.advertiserId && h.lease.audience.kind === 'id')?.lease.audience.value;
  } catch {
    return undefined;
  }
}

function audienceCheck(c: DestinationConfig, tiktok: TikTokAccess, ctx: DoctorContext): DoctorCheck {
  return {
    name: 'audience',
    needs: ['advertiser'],
    async run() {
      const client = await tiktok.get();
      return tiktokCall(
        c,
        async () => {
          const { pageInfo } = await client.listAudiences({ advertiserId: c.advertiserId, page: 1, pageSize: 1 });
          const count = pageInfo.total_number;
          const used = `advertiser ${c.advertiserId} has ${count} of ${CUSTOM_AUDIENCE_CAP} custom audiences`;
          const cleanUp = 'delete audiences nobody targets any more (TikTok Ads Manager > Audiences), or retire destinations that created them';
          if (c.action !== 'create') {
            if (c.audienceId) {
              const [a] = await client.getAudiences({ advertiserId: c.advertiserId, audienceIds: [c.audienceId] }).catch((err: unknown) => {
                if (err instanceof TikTokError && (err.code === 40007 || err.code === 40002)) return [];
                throw err;
              });
              if (!a) return fail(`audience ${c.audienceId} does not exist in advertiser ${c.advertiserId}`, `fix audienceId (action "${c.action}" feeds an existing audience), or recreate it in TikTok`);
              return ok(`audience ${c.audienceId} "${a.details.name}" exists; ${used}`);
            }
            if (typeof c.audienceName === 'string') {
              const name = c.audienceName;
              const found: string[] = [];
              for (let page = 1; ; page++) {
                const r = await client.listAudiences({ advertiserId: c.advertiserId, page, pageSize: 100 });
                found.push(...r.audiences.filter((x) => x.name === name).map((x) => x.audience_id));
                if (page >= r.pageInfo.total_page) break;
              }
              if (found.length === 0) return fail(`no audience named "${name}" in advertiser ${c.advertiserId}`, `action "${c.action}" never creates one: create it in TikTok, or give its audienceId`);
              if (found.length > 1) return fail(`${found.length} audiences are named "${name}" (${found.join(', ')})`, 'give the one to feed as audienceId');
              return ok(`the audience named "${name}" is ${found[0]}; ${used}`);
            }
            return ok(used);
          }
          if (count >= CUSTOM_AUDIENCE_CAP) {
            const own = await heldAudience(ctx, c);
            if (own)
              return warn(`${used}: the cap is reached; this destination's audience ${own} exists, but recreating it would fail`, cleanUp);
            return fail(`${used}: the cap is reached, so creating this destination's audience fails (audience_cap_reached)`, cleanUp);
          }
          if (count >= AUDIENCE_CAP_WARN) return warn(`${used}: close to the cap`, cleanUp);
          return ok(used);
        },
        'cannot list the audiences',
      );
    },
  };
}

/** The registry, read (and a probe written) once per deployment. */
function registryCheck(ctx: DoctorContext): DoctorCheck {
  return {
    name: 'registry',
    async run() {
      const uri = registryUriOf(ctx);
      const where = ctx.registry ? '--registry' : process.env.TTSYNC_SEGMENT_REGISTRY?.trim() ? 'TTSYNC_SEGMENT_REGISTRY' : 'the default (TTSYNC_SEGMENT_REGISTRY unset)';
      const problem = await probeStore(openBlobStore(uri));
      if (problem)
        return fail(`the registry ${uri} (${where}) ${problem}`, 'every worker claims segments and leases audiences there: fix its permissions or credentials, or point TTSYNC_SEGMENT_REGISTRY at a folder every worker can write');
      const shared = where.startsWith('the default') ? info(`the registry ${uri} (${where}) can be read and written; it is only shared by workers on this machine`, 'several worker machines need TTSYNC_SEGMENT_REGISTRY=gs://… shared by all') : undefined;
      return shared ?? ok(`the registry ${uri} (${where}) can be read and written`);
    },
  };
}

/** Writes, reads back and deletes a probe object; a problem in words, or null. */
async function probeStore(store: BlobStore): Promise<string | null> {
  const key = `${PROBE_PREFIX}probe-${Date.now()}-${randomBytes(4).toString('hex')}.txt`;
  const body = `ttsync doctor probe ${new Date().toISOString()}\n`;
  const step = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw new Error(`cannot be ${what} (${store.uriOf(key)}): ${(err as Error).message}`);
    }
  };
  try {
    await step('written', () => store.write(key, body, { contentType: 'text/plain' }));
    const back = await step('read', () => store.readBuffer(key));
    if (back.toString('utf8') !== body) return `returned other bytes than were written to ${store.uriOf(key)}`;
    await step('deleted from', () => store.delete(key));
    // Listing is what run cleanup and `audience release` rely on.
    await step('listed', async () => {
      for await (const entry of store.list(PROBE_PREFIX)) void entry;
    });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

function storageCheck(c: DestinationConfig): DoctorCheck {
  return {
    name: 'storage',
    async run() {
      const uri = c.storage.workdir ?? DEFAULT_WORKDIR;
      const problem = await probeStore(openBlobStore(uri));
      if (problem)
        return fail(`the workdir ${uri} ${problem}`, 'the data activities write shards, customer files and the applied state there: fix its permissions or credentials (GOOGLE_APPLICATION_CREDENTIALS for gs://), or change storage.workdir');
      if (!c.storage.workdir) return info(`the default workdir ${uri} can be read and written here`, "storage.workdir is unset: each worker uses its own local folder; set it to a gs:// folder when workers run on several machines");
      return ok(`the workdir ${uri} can be written, read and listed`);
    },
  };
}

function snapshotCheck(snapshot: string): DoctorCheck {
  return {
    name: 'snapshot',
    async run() {
      const { store, key } = openBlob(snapshot);
      const st = await store.stat(key).catch((err: unknown) => err as Error);
      if (st instanceof Error) {
        if (isStorageError(st, 'not_found'))
          return warn(`storage.snapshot ${snapshot} does not exist (yet)`, 'a cycle on the cadence syncs it once the export lands; until then those cycles end in error');
        return fail(`storage.snapshot ${snapshot} cannot be read: ${st.message}`, 'give the workers read access to the export, or fix storage.snapshot');
      }
      return ok(`storage.snapshot ${snapshot}: ${st.size} bytes, created ${st.created.toISOString()}`);
    },
  };
}

function segmentCheck(c: DestinationConfig, ctx: DoctorContext): DoctorCheck {
  return {
    name: 'segment-claim',
    needs: ['registry'],
    async run() {
      const record = await readSegmentClaims(openBlobStore(registryUriOf(ctx)), c.sourceSegmentId);
      const claims = record?.claims ?? [];
      const { mine, entry } = claimEntryOf(claims, c, new Date());
      const problem = claimProblem(claims, entry, c.sourceSegmentId);
      if (problem) {
        const owner = segmentOwner(claims);
        return fail(
          `segment "${c.sourceSegmentId}": ${problem}`,
          `cycles end in segment_conflict. TikTok refuses one segment in two ad accounts: set separateCopy: true with an audienceName of its own${owner ? `, or retire destination "${owner.destinationId}" and release its claim (ttsync audience release ${owner.destinationId})` : ''}`,
        );
      }
      if (mine) return ok(`segment "${c.sourceSegmentId}" is claimed by this destination for advertiser ${c.advertiserId}`);
      const owner = segmentOwner(claims);
      return ok(`segment "${c.sourceSegmentId}" ${owner ? `is claimed by destination "${owner.destinationId}" (advertiser ${owner.advertiserId}); this destination may join` : 'is unclaimed; the first cycle claims it'}`);
    },
  };
}

/** The registry keys this destination's writer lease takes before it knows its audience. */
function leaseRefs(c: DestinationConfig): AudienceRef[] {
  const refs: AudienceRef[] = [];
  if (c.audienceId) refs.push({ kind: 'id', value: c.audienceId });
  if (c.action !== 'create' && typeof c.audienceName === 'string') refs.push({ kind: 'name', value: c.audienceName });
  return refs;
}

function leaseCheck(c: DestinationConfig, ctx: DoctorContext): DoctorCheck {
  return {
    name: 'audience-lease',
    needs: ['registry'],
    async run() {
      const registry = openBlobStore(registryUriOf(ctx));
      const refs = leaseRefs(c);
      const mine: string[] = [];
      for (const ref of refs) {
        const { value: lease } = await readJsonForUpdate(registry, audienceLeaseKey(c.advertiserId, ref), AudienceLeaseSchema);
        if (lease && lease.holder.destinationId !== c.destinationId)
          return fail(
            `${describeAudience(ref)} of advertiser ${c.advertiserId} is written by destination "${lease.holder.destinationId}" (since ${lease.takenAt}); this one would park in audience_conflict`,
            `two writers would undo each other: retire one; once its workflow ended, release it (ttsync audience release ${lease.holder.destinationId})`,
          );
        if (lease) mine.push(describeAudience(ref));
      }
      if (mine.length) return ok(`this destination holds the writer lease on ${mine.join(' and ')}`);
      if (!refs.length) {
        // A create destination leases its audience once TikTok gave it an id; no other destination can know that id before.
        const held = (await leasesHeldBy(registry, c.destinationId)).filter((h) => h.lease.advertiserId === c.advertiserId).map((h) => describeAudience(h.lease.audience));
        return ok(held.length ? `this destination holds the writer lease on ${held.join(' and ')}` : 'no lease yet: the audience this destination creates is leased to it when TikTok gives its id');
      }
      return ok(`no other destination writes ${refs.map(describeAudience).join(' or ')}`);
    },
  };
}

function scheduleOf(c: DestinationConfig, ctx: DoctorContext): DoctorCheck {
  const planned = audienceSyncSchedules.plan(c, { cadence: '1h', taskQueue: ctx.queues.control });
  const queueFlags = `--task-queue ${ctx.queues.control} --data-queue ${ctx.queues.data} --tiktok-queue ${ctx.queues.tiktok}`;
  return scheduleCheck(ctx, {
    scheduleId: planned.scheduleId,
    workflowType: planned.workflowType,
    taskQueue: ctx.queues.control,
    applyCommand: `ttsync schedules apply --config <this config> ${queueFlags}`,
    argProblems: (arg) => {
      const input = arg as Partial<AudienceSyncTickInput> | undefined;
      const problems: string[] = [];
      if (input?.config?.destinationId !== c.destinationId) problems.push(`its tick is for destination "${String(input?.config?.destinationId)}"`);
      if (input?.taskQueue !== undefined && input.taskQueue !== ctx.queues.control) problems.push(`its tick starts the sync on "${input.taskQueue}", not "${ctx.queues.control}"`);
      const data = input?.queues?.data ?? 'ttsync-data';
      const tiktok = input?.queues?.tiktok ?? 'ttsync-tiktok';
      if (data !== ctx.queues.data) problems.push(`its sync's data queue is "${data}", not "${ctx.queues.data}"`);
      if (tiktok !== ctx.queues.tiktok) problems.push(`its sync's TikTok queue is "${tiktok}", not "${ctx.queues.tiktok}"`);
      if (input?.config?.advertiserId !== undefined && input.config.advertiserId !== c.advertiserId) problems.push(`its tick carries advertiser ${input.config.advertiserId}, not ${c.advertiserId}`);
      return problems;
    },
  });
}

export const audienceSyncDoctor: DoctorSource<DestinationConfig> = {
  lifecycle: 'audience-sync',
  load: async (path) => (await loadDestinationConfigs(path)).map((l) => l.config),
  subjectOf: (c) => c.destinationId,
  deploymentChecks: (_configs, ctx) => [tiktokSettingsCheck(), registryCheck(ctx)],
  checks(c, ctx) {
    const tiktok = new TikTokAccess(c);
    return [
      tokenCheck(c, tiktok),
      advertiserCheck(c, tiktok),
      roleCheck(c, tiktok),
      audienceCheck(c, tiktok, ctx),
      segmentCheck(c, ctx),
      leaseCheck(c, ctx),
      storageCheck(c),
      ...(c.storage.snapshot ? [snapshotCheck(c.storage.snapshot)] : []),
      alertRouteCheck(c.alerts),
      scheduleOf(c, ctx),
    ];
  },
};
