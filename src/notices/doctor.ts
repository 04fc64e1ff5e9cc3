import { randomBytes } from 'node:crypto';
import { ConfigError } from '../config/errors';
import { openBlobStore, type BlobStore } from '../storage';
import { fail, info, ok, type DoctorCheck } from '../temporal/doctor';
import type { NoticeRoute } from './schema';
import { noticeSettingsFromEnv, type NoticeSettings } from './settings';
import { SmtpChannel } from './smtp';

/*
 * `ttsync doctor`'s checks of the notices path, so alerts that would go nowhere show before
 * a destination needs a person: the deployment's settings, its outbox (a probe object outside
 * notices/ and deliveries/, written, read and deleted) and its SMTP server (connect and log in,
 * nothing sent); per destination, whether its route can be delivered here. Webhooks are not
 * called: a probe would be a message to someone.
 */

const describeRoute = (r: NoticeRoute): string =>
  [r.email ? `email to ${r.email.length} address(es)` : null, r.webhook ? `webhook ${r.webhook.url}` : null].filter(Boolean).join(' and ');

function settingsOr(env: NodeJS.ProcessEnv): NoticeSettings | ConfigError {
  try {
    return noticeSettingsFromEnv(env);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

/** The deployment's notices: settings, outbox, SMTP server, default route. */
export function noticesCheck(env: NodeJS.ProcessEnv = process.env, openStore: (uri: string) => BlobStore = (uri) => openBlobStore(uri)): DoctorCheck {
  return {
    name: 'notices',
    async run() {
      const s = settingsOr(env);
      if (s instanceof ConfigError) return fail(s.message, 'fix that variable in the workers\' environment: alerts cannot be written or sent until then');
      const store = openStore(s.storeUri);
      const key = `doctor/probe-${Date.now()}-${randomBytes(4).toString('hex')}.txt`;
      try {
        await store.write(key, 'ttsync doctor probe\n', { contentType: 'text/plain' });
        await store.readBuffer(key);
        await store.delete(key);
      } catch (err) {
        return fail(`the notices outbox ${s.storeUri} cannot be written and read: ${(err as Error).message}`, 'every worker writes alerts there before sending them: fix its permissions, or point TTSYNC_NOTICES at a folder every worker can write');
      }
      let smtp = 'no SMTP server (TTSYNC_SMTP_URL unset)';
      if (s.smtp) {
        try {
          await new SmtpChannel({ ...s.smtp, timeoutMs: 10_000 }, { env }).verify();
          smtp = `SMTP ${s.smtp.url} accepts the connection${s.smtp.user ? ' and the login' : ''}`;
        } catch (err) {
          return fail(`SMTP ${s.smtp.url}: ${(err as Error).message}`, 'email alerts wait in the outbox until it answers: check TTSYNC_SMTP_URL, TTSYNC_SMTP_USER and the secret TTSYNC_SMTP_PASSWORD names, then run ttsync notices deliver');
        }
      }
      const found = `outbox ${s.storeUri} writable; ${smtp}`;
      if (s.defaultRoute?.email && !s.smtp)
        return fail(`${found}, but the default route (TTSYNC_NOTICE_EMAIL) sends email`, 'set TTSYNC_SMTP_URL (and TTSYNC_SMTP_FROM) on the workers, or route to a webhook');
      if (!s.defaultRoute)
        return info(`${found}; no default route`, 'destinations without "alerts" of their own announce to nobody (their alerts are kept in the outbox): set TTSYNC_NOTICE_EMAIL or TTSYNC_NOTICE_WEBHOOK');
      return ok(`${found}; default route: ${describeRoute(s.defaultRoute)}`);
    },
  };
}

/** Whether one config's own route (or the default) can be delivered by these workers. */
export function alertRouteCheck(route: NoticeRoute | undefined, env: NodeJS.ProcessEnv = process.env): DoctorCheck {
  return {
    name: 'alerts',
    needs: ['notices'],
    async run() {
      const s = settingsOr(env);
      if (s instanceof ConfigError) return fail(s.message, 'fix the workers\' notice settings');
      if (!route) {
        if (!s.defaultRoute) return info('no "alerts" contacts and no default route: its alerts are kept in the outbox, sent to nobody', 'name contacts in "alerts" ({"email": [...]} or {"webhook": {"url": …}}), or set a default route on the workers');
        return ok(`no "alerts" of its own: the default route (${describeRoute(s.defaultRoute)})`);
      }
      if (route.email && !s.smtp) return fail(`"alerts" sends email to ${route.email.length} address(es), but the workers have no SMTP server`, 'set TTSYNC_SMTP_URL (and TTSYNC_SMTP_FROM) on the workers, or route this destination to a webhook');
      return ok(`alerts: ${describeRoute(route)}`);
    },
  };
}
