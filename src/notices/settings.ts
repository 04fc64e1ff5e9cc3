import { join } from 'node:path';
import { ConfigError, formatZodIssues } from '../config/errors';
import { SecretRefSchema } from '../config/secretRef';
import { DATA_DIR } from '../paths';
import { DEFAULT_UI_URL } from '../temporal/uiLinks';
import { NoticeRouteSchema, type NoticeRoute } from './schema';
import type { SmtpSettings } from './smtp';

/*
 * The deployment's notice settings, from the worker's environment: where the outbox lives,
 * the default route (for notices whose lifecycle config names no contacts), the SMTP server
 * and the Temporal UI whose links notices carry. Secrets by reference only.
 *
 *   TTSYNC_NOTICES               outbox folder URI (gs://… shared by every worker); default <data dir>/notices
 *   TTSYNC_NOTICE_EMAIL          default email route: addresses, comma-separated
 *   TTSYNC_NOTICE_WEBHOOK        default webhook route: an http(s) URL
 *   TTSYNC_NOTICE_WEBHOOK_TOKEN  its bearer token, as a secret reference (env:NAME or file:/path)
 *   TTSYNC_SMTP_URL              smtp://host:port or smtps://host:port (no credentials in it)
 *   TTSYNC_SMTP_FROM             From header (default "ttsync <ttsync@localhost>")
 *   TTSYNC_SMTP_USER             SMTP login, when the server wants one
 *   TTSYNC_SMTP_PASSWORD         its password, as a secret reference
 *   TTSYNC_UI_URL                the Temporal Web UI's base URL (default http://127.0.0.1:8233)
 *   TEMPORAL_NAMESPACE           the namespace in UI links (default "default")
 */

export interface NoticeSettings {
  storeUri: string;
  defaultRoute: NoticeRoute | null;
  smtp: SmtpSettings | null;
  uiBaseUrl: string;
  namespace: string;
}

const get = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const v = env[name]?.trim();
  return v ? v : undefined;
};

export function noticeSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): NoticeSettings {
  const email = get(env, 'TTSYNC_NOTICE_EMAIL')
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const webhookUrl = get(env, 'TTSYNC_NOTICE_WEBHOOK');
  const webhookToken = get(env, 'TTSYNC_NOTICE_WEBHOOK_TOKEN');
  let defaultRoute: NoticeRoute | null = null;
  if (email?.length || webhookUrl) {
    const r = NoticeRouteSchema.safeParse({
      ...(email?.length ? { email } : {}),
      ...(webhookUrl ? { webhook: { url: webhookUrl, ...(webhookToken ? { tokenRef: webhookToken } : {}) } } : {}),
    });
    if (!r.success)
      throw new ConfigError(`the default notice route (TTSYNC_NOTICE_EMAIL, TTSYNC_NOTICE_WEBHOOK, TTSYNC_NOTICE_WEBHOOK_TOKEN) is invalid: ${formatZodIssues(r.error)}`);
    defaultRoute = r.data;
  } else if (webhookToken) throw new ConfigError('TTSYNC_NOTICE_WEBHOOK_TOKEN is set but TTSYNC_NOTICE_WEBHOOK is not: set the webhook URL too');

  const smtpUrl = get(env, 'TTSYNC_SMTP_URL');
  let smtp: SmtpSettings | null = null;
  if (smtpUrl) {
    if (!/^smtps?:\/\/[^/@]+(:\d+)?\/?$/.test(smtpUrl))
      throw new ConfigError('TTSYNC_SMTP_URL must be smtp://host:port or smtps://host:port, without credentials (use TTSYNC_SMTP_USER and TTSYNC_SMTP_PASSWORD=env:NAME)');
    const passwordRef = get(env, 'TTSYNC_SMTP_PASSWORD');
    if (passwordRef && !SecretRefSchema.safeParse(passwordRef).success)
      throw new ConfigError('TTSYNC_SMTP_PASSWORD must be a secret reference such as env:SMTP_PASSWORD or file:/run/secrets/smtp, never the password itself');
    const user = get(env, 'TTSYNC_SMTP_USER');
    smtp = { url: smtpUrl, from: get(env, 'TTSYNC_SMTP_FROM') ?? 'ttsync <ttsync@localhost>', ...(user ? { user } : {}), ...(passwordRef ? { passwordRef } : {}) };
  }
  const uiBaseUrl = (get(env, 'TTSYNC_UI_URL') ?? DEFAULT_UI_URL).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(uiBaseUrl)) throw new ConfigError(`TTSYNC_UI_URL must be an http(s) URL, got "${uiBaseUrl}"`);
  return {
    storeUri: get(env, 'TTSYNC_NOTICES') ?? join(DATA_DIR, 'notices'),
    defaultRoute,
    smtp,
    uiBaseUrl,
    namespace: get(env, 'TEMPORAL_NAMESPACE') ?? 'default',
  };
}
