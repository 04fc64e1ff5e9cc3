import { createHash } from 'node:crypto';
import { ABSENT_GENERATION, isStorageError, readJsonObject, type BlobStore } from '../storage';
import { z } from 'zod';
import type { Account } from './model';
import type { NoticeKind } from './messages';

/*
 * Notices of the migration: reminders, provisioning, cutover notices to the advertiser's
 * contacts; short-notice, paused-campaign and target-date alerts to operators. They leave
 * through a narrow port (write once under an idempotency key, then deliver), so the kernel's
 * notice outbox can take over delivery without the workflow changing. The embedded writer
 * keeps each notice as one JSON object in storage, written once by compare-and-swap on
 * absence: a retried activity finds its notice there and writes nothing twice.
 */

/** Where a notice goes: the account's contacts (addresses from the store), or the deployment's operators. */
export type SanNoticeRoute = { email: string[] } | 'operators';

export interface SanNotice {
  /** Derived from what the notice is about (account, kind, date, app): the same key is the same notice. */
  key: string;
  route: SanNoticeRoute;
  subject: string;
  text: string;
}

export interface NoticeWritten {
  uri: string;
  /** False when a notice of this key was already there (a retry): nothing new was written. */
  created: boolean;
}

/** The port: hands one notice to the outbox. */
export type SanNoticeWriter = (notice: SanNotice) => Promise<NoticeWritten>;

export const StoredSanNoticeSchema = z.object({
  key: z.string().min(1),
  route: z.union([z.object({ email: z.array(z.string()) }), z.literal('operators')]),
  subject: z.string(),
  text: z.string(),
  createdAt: z.string(),
});
export type StoredSanNotice = z.infer<typeof StoredSanNoticeSchema>;

export const SAN_NOTICES_PREFIX = 'san-notices/';
export const noticeObjectKey = (key: string): string => `${SAN_NOTICES_PREFIX}${createHash('sha256').update(key, 'utf8').digest('hex')}.json`;

/** The embedded outbox: notices kept in storage, for the kernel's delivery (or an operator) to pick up. */
export function storageNoticeWriter(store: BlobStore, now: () => Date = () => new Date()): SanNoticeWriter {
  return async (n) => {
    const objectKey = noticeObjectKey(n.key);
    const body: StoredSanNotice = { ...n, createdAt: now().toISOString() };
    try {
      await store.writeIfGeneration(objectKey, JSON.stringify(body, null, 1), ABSENT_GENERATION, { contentType: 'application/json' });
      return { uri: store.uriOf(objectKey), created: true };
    } catch (err) {
      if (!isStorageError(err, 'precondition_failed')) throw err;
      return { uri: store.uriOf(objectKey), created: false };
    }
  };
}

/** Every notice of the embedded outbox (tests, `san status` of what went out). */
export async function readStoredNotices(store: BlobStore): Promise<StoredSanNotice[]> {
  const out: StoredSanNotice[] = [];
  for await (const info of store.list(SAN_NOTICES_PREFIX)) out.push(await readJsonObject(store, info.key, StoredSanNoticeSchema));
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.key.localeCompare(b.key));
}

/** What the workflow knows and a notice says: ids, dates, sentences, never an address. */
export interface NoticeFacts {
  programId: string;
  mode: 'opt_in' | 'opt_out';
  decisionDeadline: string;
  provisioningDate: string;
  targetCompletionDate: string;
  sentence?: string;
  appId?: string;
  platform?: string;
  at?: string;
  noticeHours?: number;
  noticeDays?: number;
  appIds?: string[];
  pausedCampaignIds?: string[];
  advice?: string;
  oldNetworkName?: string;
  newNetworkName?: string;
}

const who = (a: Account) => `${a.name ?? a.accountId} (advertiser ${a.advertiserId})`;

/** Subject and text of a notice; the recipients come from the route. */
export function composeNotice(kind: NoticeKind, f: NoticeFacts, account: Account): { subject: string; text: string } {
  const acct = who(account);
  switch (kind) {
    case 'reminder':
      return f.mode === 'opt_in'
        ? {
            subject: `TikTok SAN migration: opt in by ${f.decisionDeadline}`,
            text: `${acct}: TikTok is moving attribution from the tracker and postback integration to its self-attributing network (SAN) integration. To have your campaign configurations migrated automatically on ${f.provisioningDate}, send this sentence to your client success manager no later than ${f.decisionDeadline}:\n\n${f.sentence}\n\nWithout it your current integration stays active. Do not pause your TikTok campaigns: TikTok moves them over itself.`,
          }
        : {
            subject: `TikTok SAN migration: automatic on ${f.provisioningDate} unless you opt out by ${f.decisionDeadline}`,
            text: `${acct}: your TikTok campaign configurations move to the SAN integration automatically on ${f.provisioningDate}. To stay on your current integration, send this sentence to your client success manager no later than ${f.decisionDeadline}:\n\n${f.sentence}\n\nDo not pause your TikTok campaigns: TikTok moves them over itself.`,
          };
    case 'provisioned':
      return {
        subject: `TikTok SAN integration configured for ${(f.appIds ?? []).join(', ')}`,
        text: `${acct}: the SAN integration of ${(f.appIds ?? []).join(', ')} now mirrors your legacy setup (TikTok App ID, event mapping, fraud postbacks). Attribution does not move yet: TikTok cuts each app over later, and you hear from us at least ${f.noticeDays ?? 7} days before. Keep your campaigns running.`,
      };
    case 'cutover_notice':
      return {
        subject: `TikTok cuts app ${f.appId} over to SAN at ${f.at}`,
        text: `${acct}: TikTok moves attribution of app ${f.appId} (${f.platform}) to its SAN integration at ${f.at}. From then on it shows under the network name "${f.newNetworkName}" instead of "${f.oldNetworkName}". Tell your BI and reporting tools of the rename; a mapping file is written at cutover. Do not pause your campaigns.`,
      };
    case 'short_notice':
      return {
        subject: `short notice: ${account.accountId} app ${f.appId} cuts over in ${f.noticeHours} h`,
        text: `TikTok announced the SAN cutover of app ${f.appId} of ${acct} for ${f.at}: ${f.noticeHours} hours of notice, less than the program's ${f.noticeDays} days. The contacts were told at once; ttsync switches at TikTok's time.`,
      };
    case 'paused_campaigns':
      return {
        subject: `paused TikTok campaigns during SAN migration: ${account.accountId}`,
        text: `${acct} has paused campaigns: ${(f.pausedCampaignIds ?? []).join(', ')}. The migration never pauses campaigns and needs none paused (TikTok moves them programmatically): check with the advertiser.`,
      };
    case 'needs_app_id':
      return { subject: `SAN provisioning skipped app ${f.appId} of ${account.accountId}: no TikTok App ID`, text: `${acct}: ${f.advice}` };
    case 'target_missed':
      return {
        subject: `SAN target date passed: ${account.accountId} apps still on legacy`,
        text: `${acct}: TikTok's target completion date ${f.targetCompletionDate} passed and these apps are not cut over: ${(f.appIds ?? []).join(', ')}.`,
      };
    case 'cut_over':
      return {
        subject: `app ${f.appId} now attributes through TikTok SAN`,
        text: `${acct}: app ${f.appId} was cut over at ${f.at}; reporting names the network "${f.newNetworkName}".`,
      };
  }
}
