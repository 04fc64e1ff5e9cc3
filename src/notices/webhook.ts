import { resolveSecret, SecretError, type SecretSources } from '../config/secrets';
import { NoticeDeliveryError, type DeliveryReceipt, type LoadedAttachment, type NoticeChannel } from './channel';
import { IDEMPOTENCY_HEADER } from './ids';
import type { StoredNotice } from './schema';

/** What a webhook receives: one JSON object per notice (attachments inline, base64). */
export interface WebhookBody {
  key: string;
  subject: string;
  text: string;
  metadata: StoredNotice['metadata'];
  createdAt: string;
  attachments: { filename: string; contentType: string; size: number; contentBase64: string }[];
}

/**
 * An HTTP POST of the notice as JSON, with `Idempotency-Key` (and the email's
 * X-Ttsync-Idempotency-Key) set to the notice's key: a copy sent again after a crash carries
 * the same key, for the receiver to drop.
 */
export class WebhookChannel implements NoticeChannel {
  readonly name = 'webhook' as const;

  constructor(
    private readonly options: { timeoutMs?: number; secrets?: SecretSources } = {},
  ) {}

  async deliver(notice: StoredNotice, attachments: readonly LoadedAttachment[]): Promise<DeliveryReceipt> {
    const route = notice.route?.webhook;
    if (!route) throw new NoticeDeliveryError('permanent', 'webhook', `notice ${notice.key} names no webhook`);
    const headers: Record<string, string> = { 'content-type': 'application/json', 'idempotency-key': notice.key, [IDEMPOTENCY_HEADER.toLowerCase()]: notice.key };
    if (route.tokenRef) {
      try {
        headers.authorization = `Bearer ${await resolveSecret(route.tokenRef, this.options.secrets)}`;
      } catch (err) {
        if (err instanceof SecretError) throw new NoticeDeliveryError('permanent', 'webhook', `the webhook token: ${err.message}`, { cause: err });
        throw err;
      }
    }
    const body: WebhookBody = {
      key: notice.key,
      subject: notice.subject,
      text: notice.text,
      metadata: notice.metadata,
      createdAt: notice.createdAt,
      attachments: attachments.map((a) => ({ filename: a.filename, contentType: a.contentType, size: a.content.length, contentBase64: a.content.toString('base64') })),
    };
    let res: Response;
    try {
      res = await fetch(route.url, { method: 'POST', headers, body: JSON.stringify(body), redirect: 'error', signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000) });
    } catch (err) {
      throw new NoticeDeliveryError('transient', 'webhook', `webhook ${route.url}: ${(err as Error).message}${(err as Error).cause ? ` (${String(((err as Error).cause as Error).message ?? (err as Error).cause)})` : ''}`, { cause: err });
    }
    // The answer's body is the receiver's business; read it only to free the connection.
    const answer = (await res.text().catch(() => '')).slice(0, 300);
    if (res.ok) return { messageId: notice.key, recipients: 1 };
    const transient = res.status === 408 || res.status === 425 || res.status === 429 || res.status >= 500;
    throw new NoticeDeliveryError(transient ? 'transient' : 'permanent', 'webhook', `webhook ${route.url} answered HTTP ${res.status}${answer ? `: ${answer}` : ''}`);
  }
}
