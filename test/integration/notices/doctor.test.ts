import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertRouteCheck, noticesCheck } from '../../../src/notices';
import { freePort } from '../../../src/temporal/devServer';
import { startMailpit, type Mailpit } from '../../helpers/mailpit';

/*
 * ttsync doctor's notice checks against a real Mailpit and real folders: settings, outbox,
 * SMTP server and routes, each problem planted.
 */

let mailpit: Mailpit;
let dir: string;
beforeAll(async () => {
  mailpit = await startMailpit();
  dir = mkdtempSync(join(tmpdir(), 'ttsync-notices-doctor-'));
}, 60_000);
afterAll(async () => {
  await mailpit?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = (env: NodeJS.ProcessEnv) => noticesCheck(env).run(new AbortController().signal);

describe('ttsync doctor: notices', () => {
  it('ok: the outbox is writable, the SMTP server takes a login, a default route is set; nothing is sent', async () => {
    const r = await run({ TTSYNC_NOTICES: join(dir, 'ok'), TTSYNC_SMTP_URL: mailpit.smtpUrl, TTSYNC_SMTP_USER: 'ttsync', TTSYNC_SMTP_PASSWORD: 'env:X', X: 'pw', TTSYNC_NOTICE_EMAIL: 'ops@example.com' });
    expect(r).toEqual({ status: 'ok', message: `outbox ${join(dir, 'ok')} writable; SMTP ${mailpit.smtpUrl} accepts the connection and the login; default route: email to 1 address(es)` });
    expect(await mailpit.list()).toEqual([]);
  });

  it('an SMTP server that does not answer is a FAIL with what to check', async () => {
    const url = `smtp://127.0.0.1:${await freePort()}`;
    const r = await run({ TTSYNC_NOTICES: join(dir, 'down'), TTSYNC_SMTP_URL: url, TTSYNC_NOTICE_EMAIL: 'ops@example.com' });
    expect(r.status).toBe('fail');
    expect(r.message).toContain(`SMTP ${url}`);
    expect(r.advice).toContain('ttsync notices deliver');
  });

  it('no route anywhere is info (alerts kept, sent to nobody); email by default without SMTP is a FAIL', async () => {
    expect(await run({ TTSYNC_NOTICES: join(dir, 'none') })).toMatchObject({ status: 'info', message: expect.stringContaining('no default route') });
    expect(await run({ TTSYNC_NOTICES: join(dir, 'nosmtp'), TTSYNC_NOTICE_EMAIL: 'ops@example.com' })).toMatchObject({ status: 'fail', advice: expect.stringContaining('TTSYNC_SMTP_URL') });
  });

  it('bad settings and an outbox that cannot be written are FAILs naming what to fix', async () => {
    expect(await run({ TTSYNC_SMTP_URL: 'smtp://u:secret@h:25' })).toMatchObject({ status: 'fail', message: expect.stringContaining('TTSYNC_SMTP_URL must be') });
    writeFileSync(join(dir, 'a-file'), 'x');
    expect(await run({ TTSYNC_NOTICES: join(dir, 'a-file', 'notices') })).toMatchObject({ status: 'fail', message: expect.stringContaining('cannot be written and read'), advice: expect.stringContaining('TTSYNC_NOTICES') });
  });

  it('per destination: its own contacts, the default, or nobody; email needs SMTP on the workers', async () => {
    const check = (route: Parameters<typeof alertRouteCheck>[0], env: NodeJS.ProcessEnv) => alertRouteCheck(route, env).run(new AbortController().signal);
    expect(await check({ email: ['a@example.com'] }, { TTSYNC_SMTP_URL: mailpit.smtpUrl })).toEqual({ status: 'ok', message: 'alerts: email to 1 address(es)' });
    expect(await check({ email: ['a@example.com'] }, {})).toMatchObject({ status: 'fail', advice: expect.stringContaining('TTSYNC_SMTP_URL') });
    expect(await check({ webhook: { url: 'https://hooks.example.com/x' } }, {})).toEqual({ status: 'ok', message: 'alerts: webhook https://hooks.example.com/x' });
    expect(await check(undefined, { TTSYNC_NOTICE_WEBHOOK: 'https://hooks.example.com/d' })).toEqual({ status: 'ok', message: 'no "alerts" of its own: the default route (webhook https://hooks.example.com/d)' });
    expect(await check(undefined, {})).toMatchObject({ status: 'info', message: expect.stringContaining('sent to nobody') });
    expect(alertRouteCheck(undefined, {}).needs).toEqual(['notices']);
  });
});
