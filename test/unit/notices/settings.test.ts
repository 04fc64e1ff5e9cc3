import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/config/errors';
import { noticeSettingsFromEnv } from '../../../src/notices/settings';
import { workflowUiUrl } from '../../../src/temporal/uiLinks';

describe('notice settings from the worker env', () => {
  it('defaults: an outbox under the data folder, no route, no SMTP, the local Web UI', () => {
    const s = noticeSettingsFromEnv({});
    expect(s.storeUri).toMatch(/\/notices$/);
    expect(s).toMatchObject({ defaultRoute: null, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: 'default' });
  });

  it('reads the default route, SMTP and UI, secrets by reference only', () => {
    const s = noticeSettingsFromEnv({
      TTSYNC_NOTICES: 'gs://acme-ttsync/notices',
      TTSYNC_NOTICE_EMAIL: ' ops@example.com, oncall@example.com ',
      TTSYNC_NOTICE_WEBHOOK: 'https://hooks.example.com/ttsync',
      TTSYNC_NOTICE_WEBHOOK_TOKEN: 'env:HOOK_TOKEN',
      TTSYNC_SMTP_URL: 'smtps://smtp.example.com:465',
      TTSYNC_SMTP_FROM: 'ttsync <ttsync@example.com>',
      TTSYNC_SMTP_USER: 'ttsync',
      TTSYNC_SMTP_PASSWORD: 'file:/run/secrets/smtp',
      TTSYNC_UI_URL: 'https://temporal.example.com/',
      TEMPORAL_NAMESPACE: 'prod',
    });
    expect(s).toEqual({
      storeUri: 'gs://acme-ttsync/notices',
      defaultRoute: { email: ['ops@example.com', 'oncall@example.com'], webhook: { url: 'https://hooks.example.com/ttsync', tokenRef: 'env:HOOK_TOKEN' } },
      smtp: { url: 'smtps://smtp.example.com:465', from: 'ttsync <ttsync@example.com>', user: 'ttsync', passwordRef: 'file:/run/secrets/smtp' },
      uiBaseUrl: 'https://temporal.example.com',
      namespace: 'prod',
    });
    expect(workflowUiUrl(s.uiBaseUrl, s.namespace, 'audience-sync:vip')).toBe('https://temporal.example.com/namespaces/prod/workflows/audience-sync%3Avip');
  });

  it.each([
    [{ TTSYNC_NOTICE_EMAIL: 'not-an-address' }, /TTSYNC_NOTICE_EMAIL.*email\.0: must be an email address/],
    [{ TTSYNC_NOTICE_WEBHOOK: 'ftp://x' }, /webhook\.url: must be an http/],
    [{ TTSYNC_NOTICE_WEBHOOK: 'https://x.example', TTSYNC_NOTICE_WEBHOOK_TOKEN: 'tok_123' }, /webhook\.tokenRef: must be a secret reference/],
    [{ TTSYNC_NOTICE_WEBHOOK_TOKEN: 'env:X' }, /TTSYNC_NOTICE_WEBHOOK_TOKEN is set but TTSYNC_NOTICE_WEBHOOK is not/],
    [{ TTSYNC_SMTP_URL: 'smtp://user:pw@smtp.example.com:25' }, /TTSYNC_SMTP_URL must be .* without credentials/],
    [{ TTSYNC_SMTP_URL: 'smtp://smtp.example.com:25', TTSYNC_SMTP_PASSWORD: 'p4ssw0rd' }, /TTSYNC_SMTP_PASSWORD must be a secret reference/],
    [{ TTSYNC_UI_URL: 'temporal.example.com' }, /TTSYNC_UI_URL must be an http/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => noticeSettingsFromEnv(env)).toThrow(ConfigError);
    expect(() => noticeSettingsFromEnv(env)).toThrow(message);
  });

  it('never repeats a password in its message', () => {
    expect(() => noticeSettingsFromEnv({ TTSYNC_SMTP_URL: 'smtp://h:25', TTSYNC_SMTP_PASSWORD: 'p4ssw0rd' })).not.toThrow(/p4ssw0rd/);
  });
});
