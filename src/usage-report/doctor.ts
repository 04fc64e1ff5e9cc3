import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { resolveSecret, SecretError } from '../config/secrets';
import { noticeSettingsFromEnv } from '../notices/settings';
import { DATA_DIR } from '../paths';
import { openBlobStore } from '../storage';
import { fail, ok, scheduleCheck, warn, type DoctorCheck, type DoctorContext, type DoctorSource } from '../temporal/doctor';
import { TikTokClient, TikTokError } from '../tiktok';
import { loadUsageAdvertisers } from './advertisers';
import type { UsageAdvertiser, UsageTickInput } from './messages';
import { usageReportSchedules } from './schedules';
import { UsageKeys } from './store';
import { dayIn } from './zone';

/*
 * `ttsync doctor --lifecycle usage-report --config <destination configs>`: per advertiser with
 * a 3PD destination, the token (resolves, and TikTok lets it read ad groups), every segment's
 * audience id, the report folder (a probe written, read, deleted), the daily targeting
 * records (recent ones exist once the daily Schedule runs), email delivery to the reporting
 * contacts, and the two Schedules. Run it where the workers run (their env, their storage).
 */

const storageOf = (a: UsageAdvertiser) => a.storage ?? join(DATA_DIR);

function tokenCheck(a: UsageAdvertiser): DoctorCheck {
  return {
    name: 'token',
    async run() {
      let token: string;
      try {
        token = await resolveSecret(a.accessToken);
      } catch (err) {
        if (err instanceof SecretError) return fail(err.message, 'set the destinations\' accessToken to env:NAME or file:/path holding the advertiser token, here and in the workers\' environment');
        throw err;
      }
      try {
        const r = await new TikTokClient({ accessToken: token, ...(a.appId ? { appId: a.appId } : {}), retry: { maxAttempts: 1 } }).getAdgroups({ advertiserId: a.advertiserId, page: 1, pageSize: 1 });
        return ok(`${a.accessToken} reads the ad groups of advertiser ${a.advertiserId} (${r.pageInfo.total_number ?? '?'} ad groups)`);
      } catch (err) {
        if (err instanceof TikTokError) return fail(`TikTok refused adgroup/get for advertiser ${a.advertiserId}: ${err.message}`, 'the report reads ad groups and reports: authorize the app for this advertiser with the ad management and reporting scopes');
        throw err;
      }
    },
  };
}

function audiencesCheck(a: UsageAdvertiser): DoctorCheck {
  return {
    name: 'audiences',
    async run() {
      const missing = a.segments.filter((s) => !s.audienceId);
      if (missing.length)
        return warn(
          `${missing.map((s) => `"${s.destinationId}"`).join(', ')} name${missing.length === 1 ? 's' : ''} no audienceId: the report cannot match ${missing.length === 1 ? 'its' : 'their'} audience to ad groups and leaves ${missing.length === 1 ? 'it' : 'them'} out`,
          'give each 3PD destination the audienceId of the TikTok audience it feeds',
        );
      return ok(`${a.segments.length} segment(s), each with its audience: ${a.segments.map((s) => `${s.providerId}/${s.segmentId} → ${s.audienceId}`).join(', ')}`);
    },
  };
}

function storageCheck(a: UsageAdvertiser): DoctorCheck {
  return {
    name: 'storage',
    async run() {
      const store = openBlobStore(storageOf(a));
      const key = `reports/usage/${a.advertiserId}/doctor/probe-${Date.now()}-${randomBytes(4).toString('hex')}.txt`;
      try {
        await store.write(key, 'ttsync doctor probe\n');
        await store.readBuffer(key);
        await store.delete(key);
      } catch (err) {
        return fail(`the report folder ${storageOf(a)} cannot be written and read: ${(err as Error).message}`, 'reports and daily targeting records go there: fix dataMarketplace.report.storage, its permissions or credentials');
      }
      return ok(`the report folder ${store.uriOf(`reports/usage/${a.advertiserId}/`)} can be written and read`);
    },
  };
}

function recordsCheck(a: UsageAdvertiser): DoctorCheck {
  return {
    name: 'targeting-records',
    async run() {
      const store = openBlobStore(storageOf(a));
      const now = Date.now();
      const days = [0, 1, 2].map((d) => dayIn(a.timeZone, new Date(now - d * 86_400_000)));
      for (const day of days) if (await store.exists(UsageKeys.targeting(a.advertiserId, day)).catch(() => false)) return ok(`targeting recorded on ${day}`);
      return warn(
        `no daily targeting record since ${days[2]}: a report will use the targeting read at report time for those days`,
        `the daily Schedule records it: ttsync schedules apply --lifecycle usage-report --config <destination configs>, and a worker of the tiktok role`,
      );
    },
  };
}

function deliveryCheck(a: UsageAdvertiser): DoctorCheck {
  return {
    name: 'delivery',
    async run() {
      const contacts = [...new Set(a.segments.flatMap((s) => s.reportingContacts))].sort();
      let smtp = false;
      try {
        smtp = noticeSettingsFromEnv().smtp !== null;
      } catch (err) {
        return fail(`the notice settings are invalid: ${(err as Error).message}`, 'fix the TTSYNC_SMTP_* / TTSYNC_NOTICE_* variables');
      }
      if (!smtp) return fail(`the report goes to ${contacts.length} reporting contact(s) by email, but no SMTP server is set (TTSYNC_SMTP_URL)`, 'set TTSYNC_SMTP_URL (and TTSYNC_SMTP_FROM) on the workers: without it each report stays in the notices outbox');
      return ok(`email to ${contacts.join(', ')}${a.webhook ? `, and the webhook ${a.webhook.url}` : ''}`);
    },
  };
}

function schedules(a: UsageAdvertiser, ctx: DoctorContext): DoctorCheck[] {
  const planned = usageReportSchedules.plan(a, { cadence: '1d', taskQueue: ctx.queues.control, queues: { tiktok: ctx.queues.tiktok } });
  return planned.map((p, i) => ({
    ...scheduleCheck(ctx, {
      scheduleId: p.scheduleId,
      workflowType: p.workflowType,
      taskQueue: ctx.queues.control,
      applyCommand: `ttsync schedules apply --lifecycle usage-report --config <destination configs> --task-queue ${ctx.queues.control} --tiktok-queue ${ctx.queues.tiktok}`,
      argProblems: (arg) => {
        const input = arg as Partial<UsageTickInput> | undefined;
        const problems: string[] = [];
        if (input?.advertiser?.advertiserId !== a.advertiserId) problems.push(`its tick is for advertiser ${String(input?.advertiser?.advertiserId)}`);
        else if (JSON.stringify(input.advertiser) !== JSON.stringify(a)) problems.push('it carries other 3PD destination settings than these configs (apply again after changing them)');
        return problems;
      },
    }),
    name: i === 0 ? 'schedule' : 'targeting-schedule',
  }));
}

export const usageReportDoctor: DoctorSource<UsageAdvertiser> = {
  lifecycle: 'usage-report',
  load: (path) => loadUsageAdvertisers(path),
  subjectOf: (a) => a.advertiserId,
  checks: (a, ctx) => [tokenCheck(a), audiencesCheck(a), storageCheck(a), recordsCheck(a), deliveryCheck(a), ...schedules(a, ctx)],
};

