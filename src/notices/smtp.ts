import nodemailer from 'nodemailer';
import { resolveSecret, SecretError, type SecretSources } from '../config/secrets';
import { NoticeDeliveryError, type DeliveryReceipt, type LoadedAttachment, type NoticeChannel } from './channel';
import { IDEMPOTENCY_HEADER, noticeMessageId } from './ids';
import type { StoredNotice } from './schema';

/** How the worker reaches its SMTP server (worker env, src/notices/settings.ts). */
export interface SmtpSettings {
  /** smtp://host:port (STARTTLS when the server offers it) or smtps://host:port (TLS from the start). */
  url: string;
  /** The From header, e.g. "ttsync <ttsync@example.com>". */
  from: string;
  user?: string;
  /** The password, by secret reference, resolved at each delivery (a rotated password takes effect at once). */
  passwordRef?: string;
  /** How long connecting and each SMTP step may take. */
  timeoutMs?: number;
}

interface SmtpFailure {
  code?: string;
  responseCode?: number;
  message?: string;
}

/**
 * Email through nodemailer. The Message-ID and the Date come from the notice (its key and
 * createdAt), so a copy sent again after a crash is the same message to the receiver.
 */
export class SmtpChannel implements NoticeChannel {
  readonly name = 'email' as const;

  constructor(
    private readonly settings: SmtpSettings,
    private readonly secrets: SecretSources = {},
  ) {}

  /** Connects and logs in without sending anything (ttsync doctor); throws NoticeDeliveryError. */
  async verify(): Promise<void> {
    const transport = await this.transport();
    try {
      await transport.verify();
    } catch (err) {
      throw classify(err, this.settings.url);
    } finally {
      transport.close();
    }
  }

  private async transport() {
    let auth: { user: string; pass: string } | undefined;
    if (this.settings.user !== undefined) {
      try {
        auth = { user: this.settings.user, pass: this.settings.passwordRef ? await resolveSecret(this.settings.passwordRef, this.secrets) : '' };
      } catch (err) {
        if (err instanceof SecretError) throw new NoticeDeliveryError('permanent', 'email', `the SMTP password: ${err.message}`, { cause: err });
        throw err;
      }
    }
    const timeout = this.settings.timeoutMs ?? 30_000;
    return nodemailer.createTransport({
      url: this.settings.url,
      ...(auth ? { auth } : {}),
      connectionTimeout: timeout,
      greetingTimeout: timeout,
      socketTimeout: timeout,
    } as Parameters<typeof nodemailer.createTransport>[0]);
  }

  async deliver(notice: StoredNotice, attachments: readonly LoadedAttachment[]): Promise<DeliveryReceipt> {
    const to = notice.route?.email ?? [];
    if (!to.length) throw new NoticeDeliveryError('permanent', 'email', `notice ${notice.key} names no email addresses`);
    const transport = await this.transport();
    const messageId = noticeMessageId(notice.key);
    try {
      const info = await transport.sendMail({
        from: this.settings.from,
        to,
        subject: notice.subject,
        text: notice.text,
        messageId,
        date: new Date(notice.createdAt),
        headers: { [IDEMPOTENCY_HEADER]: notice.key },
        attachments: attachments.map((a) => ({ filename: a.filename, content: a.content, contentType: a.contentType })),
      });
      const accepted = Array.isArray(info.accepted) ? info.accepted.length : to.length;
      return { messageId, recipients: accepted };
    } catch (err) {
      throw classify(err, this.settings.url);
    } finally {
      transport.close();
    }
  }
}

/** SMTP 5xx (and a refused login) are refusals; 4xx and anything on the way (connection, timeout) are worth a retry. */
function classify(err: unknown, url: string): NoticeDeliveryError {
  const e = (err ?? {}) as SmtpFailure;
  const where = url.replace(/\/\/[^@/]*@/, '//');
  const text = `SMTP ${where}: ${e.message ?? String(err)}`;
  if (typeof e.responseCode === 'number') return new NoticeDeliveryError(e.responseCode >= 500 ? 'permanent' : 'transient', 'email', text, { cause: err });
  if (e.code === 'EAUTH' || e.code === 'EENVELOPE') return new NoticeDeliveryError('permanent', 'email', text, { cause: err });
  return new NoticeDeliveryError('transient', 'email', text, { cause: err });
}
