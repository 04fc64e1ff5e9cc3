import { InvalidNoticeError, NoticeDeliveryError, NoticeKeyConflictError, postNotice, type NoticeServiceDeps } from '../notices';
import type { Account } from './model';
import type { NoticeKind } from './messages';

/*
 * Notices of the migration: reminders, provisioning, cutover notices to the advertiser's
 * contacts; short-notice, paused-campaign and target-date alerts to operators. They leave
 * through a narrow port (write once under an idempotency key, then deliver), whose default
 * is the kernel's notices outbox (src/notices: SMTP and webhook adapters, a sweeper for what
 * could not be delivered). The activity resolves the contacts' addresses from the store, so
 * they never enter workflow history.
 */

/** Where a notice goes: the account's contacts (addresses from the store), or the deployment's operators (its default route). */
export type SanNoticeRoute = { email: string[] } | 'operators';

export interface SanNotice {
  /** Derived from what the notice is about (account, kind, date, app): the same key is the same notice. */
  key: string;
  route: SanNoticeRoute;
  subject: string;
  text: string;
  metadata: { accountId: string; kind: NoticeKind; appId?: string; workflowId?: string };
}

export interface NoticeWritten {
  uri: string;
  /** False when a notice of this key was already there (a retry): nothing new was written. */
  created: boolean;
}

/** The port: hands one notice to the outbox (written once, then delivered). */
export type SanNoticeWriter = (notice: SanNotice) => Promise<NoticeWritten>;

/** Why a notice could not be handed over: `permanent` will not change by trying again. */
export class SanNoticeError extends Error {
  override name = 'SanNoticeError';
  constructor(
    readonly kind: 'invalid' | 'permanent' | 'transient',
    message: string,
  ) {
    super(message);
  }
}

/** The port on the kernel's outbox: contacts by email, operators by the deployment's default route. */
export function kernelNoticeWriter(service: NoticeServiceDeps | (() => NoticeServiceDeps)): SanNoticeWriter {
  let deps: NoticeServiceDeps | undefined;
  return async (n) => {
    deps ??= typeof service === 'function' ? service() : service;
    try {
      const posted = await postNotice(deps, {
        key: n.key,
        ...(n.route === 'operators' ? {} : { route: { email: n.route.email } }),
        subject: n.subject,
        text: n.text,
        metadata: {
          lifecycle: 'san_migration',
          subjectId: n.metadata.appId ? `${n.metadata.accountId}/${n.metadata.appId}` : n.metadata.accountId,
          event: n.metadata.kind,
          ...(n.metadata.workflowId ? { workflowId: n.metadata.workflowId } : {}),
        },
      });
      return { uri: posted.uri, created: posted.created };
    } catch (err) {
      if (err instanceof InvalidNoticeError || err instanceof NoticeKeyConflictError) throw new SanNoticeError('invalid', err.message);
      if (err instanceof NoticeDeliveryError) throw new SanNoticeError(err.kind === 'permanent' ? 'permanent' : 'transient', err.message);
      throw err;
    }
  };
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
