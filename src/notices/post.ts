import { posix } from 'node:path';
import { isStorageError, type StorageError } from '../storage';
import { NoticeDeliveryError, type LoadedAttachment, type NoticeChannel } from './channel';
import { NoticeOutbox } from './outbox';
import { NoticeRequestSchema, channelsOf, type NoticeChannelName, type NoticeRequest, type NoticeRoute, type StoredNotice } from './schema';
import { workflowUiUrl } from '../temporal/uiLinks';

/*
 * Posting a notice: validate, write it once to the outbox, then deliver it on every channel
 * of its route that has not delivered it yet, recording each delivery after it succeeded.
 * Called again with the same request (a retried activity), it finds the notice written and
 * delivers only what is missing; the sweeper does the same for every notice in the outbox.
 */

export interface NoticeServiceDeps {
  outbox: NoticeOutbox;
  /** The adapters this deployment has; a route naming a channel without one is undeliverable here. */
  channels: Partial<Record<NoticeChannelName, NoticeChannel>>;
  /** The route of requests that name none (the deployment default); null: such notices go nowhere (kept, logged). */
  defaultRoute: NoticeRoute | null;
  uiBaseUrl: string;
  namespace: string;
  /** Reads an attachment's bytes from storage at delivery. */
  readAttachment(uri: string): Promise<Buffer>;
  now(): Date;
}

/** A request that is not a valid notice. */
export class InvalidNoticeError extends Error {
  override name = 'InvalidNoticeError';
}

export interface PostedNotice {
  key: string;
  /** The notice's object in the outbox. */
  uri: string;
  /** false: an earlier attempt had written it already. */
  created: boolean;
  /** Channels that delivered it in this call. */
  delivered: NoticeChannelName[];
  /** Channels that had delivered it before this call. */
  alreadyDelivered: NoticeChannelName[];
  /** No route anywhere: the notice is kept in the outbox and sent nowhere. */
  unrouted: boolean;
}

/** Attachments larger than this are refused at delivery (email servers refuse them anyway). */
export const MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024;

/** The notice the outbox keeps for a request: route resolved, UI link added to metadata and text. */
export function storedNoticeOf(request: NoticeRequest, deps: Pick<NoticeServiceDeps, 'defaultRoute' | 'uiBaseUrl' | 'namespace'>, createdAt: Date): StoredNotice {
  const uiUrl = request.metadata.workflowId ? workflowUiUrl(deps.uiBaseUrl, deps.namespace, request.metadata.workflowId) : undefined;
  return {
    schema: 1,
    key: request.key,
    route: request.route ?? deps.defaultRoute,
    subject: request.subject,
    text: uiUrl ? `${request.text.replace(/\s+$/, '')}\n\nTemporal UI: ${uiUrl}\n` : request.text,
    attachments: request.attachments ?? [],
    metadata: { ...request.metadata, ...(uiUrl ? { uiUrl } : {}) },
    createdAt: createdAt.toISOString(),
  };
}

export async function postNotice(deps: NoticeServiceDeps, input: unknown): Promise<PostedNotice> {
  const parsed = NoticeRequestSchema.safeParse(input);
  if (!parsed.success) throw new InvalidNoticeError(`invalid notice: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  const { notice, created } = await deps.outbox.put(storedNoticeOf(parsed.data, deps, deps.now()));
  const outcome = await deliverStoredNotice(deps, notice);
  return { key: notice.key, uri: deps.outbox.uriOf(notice.key), created, ...outcome };
}

/**
 * Delivers a stored notice on each channel of its route that has no delivery record, then
 * records it. Every channel is tried; the first failure is thrown afterwards (transient when
 * any was, since a retry may then help).
 */
export async function deliverStoredNotice(deps: NoticeServiceDeps, notice: StoredNotice): Promise<Omit<PostedNotice, 'key' | 'uri' | 'created'>> {
  const wanted = channelsOf(notice.route);
  const pending = await deps.outbox.undeliveredChannels(notice);
  const result = { delivered: [] as NoticeChannelName[], alreadyDelivered: wanted.filter((c) => !pending.includes(c)), unrouted: notice.route === null };
  if (!pending.length) return result;
  const attachments = await loadAttachments(deps, notice, pending[0]!);
  const failures: NoticeDeliveryError[] = [];
  for (const name of pending) {
    const channel = deps.channels[name];
    if (!channel) {
      failures.push(
        new NoticeDeliveryError(
          'permanent',
          name,
          name === 'email'
            ? `notice ${notice.key} is routed to email, but this worker has no SMTP server: set TTSYNC_SMTP_URL (and TTSYNC_SMTP_FROM)`
            : `notice ${notice.key} is routed to ${name}, which this worker cannot deliver`,
        ),
      );
      continue;
    }
    try {
      const receipt = await channel.deliver(notice, attachments);
      await deps.outbox.recordDelivery({ schema: 1, key: notice.key, channel: name, deliveredAt: deps.now().toISOString(), messageId: receipt.messageId, recipients: receipt.recipients });
      result.delivered.push(name);
    } catch (err) {
      if (!(err instanceof NoticeDeliveryError)) throw err;
      failures.push(err);
    }
  }
  if (failures.length) throw failures.find((f) => f.kind === 'transient') ?? failures[0]!;
  return result;
}

async function loadAttachments(deps: NoticeServiceDeps, notice: StoredNotice, channel: NoticeChannelName): Promise<LoadedAttachment[]> {
  const out: LoadedAttachment[] = [];
  for (const a of notice.attachments) {
    let content: Buffer;
    try {
      content = await deps.readAttachment(a.uri);
    } catch (err) {
      if (!isStorageError(err)) throw err;
      const e = err as StorageError;
      throw new NoticeDeliveryError(e.retryable ? 'transient' : 'permanent', channel, `notice ${notice.key}: attachment ${a.uri} cannot be read: ${e.message}`, { cause: err });
    }
    if (content.length > MAX_ATTACHMENT_BYTES)
      throw new NoticeDeliveryError('permanent', channel, `notice ${notice.key}: attachment ${a.uri} is ${content.length} bytes, more than the ${MAX_ATTACHMENT_BYTES} a notice may carry`);
    out.push({ filename: a.filename ?? (posix.basename(a.uri.replace(/[?#].*$/, '')) || 'attachment'), contentType: a.contentType ?? 'application/octet-stream', content });
  }
  return out;
}

export interface SweepResult {
  /** Notices looked at. */
  notices: number;
  /** Notices that had a channel left and were delivered on all of them now. */
  delivered: string[];
  /** Notices still undelivered, with why. */
  failed: { key: string; kind: 'transient' | 'permanent'; message: string }[];
}

/**
 * Delivers every notice in the outbox that a channel of its route has not delivered yet.
 * `onNotice` is called before each one (an activity heartbeats there: an outbox can be long).
 */
export async function sweepNotices(deps: NoticeServiceDeps, onNotice?: (seen: number) => void): Promise<SweepResult> {
  const result: SweepResult = { notices: 0, delivered: [], failed: [] };
  for await (const notice of deps.outbox.all()) {
    onNotice?.(result.notices);
    result.notices += 1;
    try {
      const r = await deliverStoredNotice(deps, notice);
      if (r.delivered.length) result.delivered.push(notice.key);
    } catch (err) {
      if (!(err instanceof NoticeDeliveryError)) throw err;
      result.failed.push({ key: notice.key, kind: err.kind, message: err.message });
    }
  }
  return result;
}
