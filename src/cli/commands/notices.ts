import { Command } from 'commander';
import { ScheduleNotFoundError } from '@temporalio/client';
import { durationTextFlag } from '../../config/durationFlag';
import { noticesSweepSchedules } from '../../notices/schedule';
import { connectClient } from '../../temporal/connection';
import { applySchedules, cadenceMs } from '../../temporal/schedules';
import { ConfigError, UsageError } from '../../config/errors';
import { channelsOf, createNoticeService, noticeSettingsFromEnv, sweepNotices, type NoticeServiceDeps } from '../../notices';

/*
 * The notices outbox from the command line, with the worker's settings (TTSYNC_NOTICES,
 * TTSYNC_SMTP_*, TTSYNC_NOTICE_*): list what is waiting, and deliver it (the sweeper), e.g.
 * after a mail server outage or a fixed SMTP password. Run it where the workers run.
 */

function service(): NoticeServiceDeps {
  try {
    return createNoticeService(noticeSettingsFromEnv());
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}

export function registerNoticesCommand(program: Command, summary: string): void {
  const cmd = program.command('notices').description(summary);
  cmd
    .command('list')
    .description('every notice in the outbox: key, subject, created, and the channels still to deliver it')
    .option('--pending', 'only notices a channel of their route has not delivered')
    .option('--json', 'one JSON object per line')
    .action(async (opts: { pending?: boolean; json?: boolean }) => {
      const deps = service();
      let n = 0;
      for await (const notice of deps.outbox.all()) {
        const pending = await deps.outbox.undeliveredChannels(notice);
        if (opts.pending && !pending.length) continue;
        n += 1;
        const row = { key: notice.key, subject: notice.subject, createdAt: notice.createdAt, channels: channelsOf(notice.route), pending };
        process.stdout.write(
          opts.json ? `${JSON.stringify(row)}\n` : `${row.createdAt}  ${row.key}  ${pending.length ? `pending: ${pending.join(',')}` : row.channels.length ? 'delivered' : 'no route'}  ${row.subject}\n`,
        );
      }
      if (!opts.json) process.stderr.write(`${n} notice(s) in ${deps.outbox.uri}\n`);
    });
  cmd
    .command('deliver')
    .description('deliver every notice that a channel of its route has not delivered yet (the sweeper); exit 1 if any is still undelivered')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { json?: boolean }) => {
      const deps = service();
      const r = await sweepNotices(deps);
      if (opts.json) process.stdout.write(`${JSON.stringify(r)}\n`);
      else {
        for (const k of r.delivered) process.stdout.write(`delivered ${k}\n`);
        for (const f of r.failed) process.stdout.write(`FAILED ${f.key} (${f.kind}): ${f.message}\n`);
        process.stdout.write(`${r.notices} notice(s) in ${deps.outbox.uri}: ${r.delivered.length} delivered now, ${r.failed.length} still undelivered\n`);
      }
      if (r.failed.length) process.exitCode = 1;
    });
  cmd
    .command('schedule')
    .description(
      'create or update the Schedule that runs the sweeper every --every (workflow noticesSweep): alerts and deadline notices whose ' +
        'mail server or webhook was down are delivered without waiting for their lifecycle; idempotent',
    )
    .option('--every <duration>', 'how often the sweeper runs (at least 1m)', durationTextFlag, noticesSweepCadence)
    .option('--task-queue <name>', 'control task queue of the workers (they run the sweep)', 'ttsync-control')
    .option('--delete', 'delete the Schedule instead')
    .option('--json', 'print the change as JSON')
    .action(async (opts: { every: string; taskQueue: string; delete?: boolean; json?: boolean }) => {
      try {
        cadenceMs(opts.every);
      } catch {
        throw new UsageError(`--every: use a duration of at least 1m, such as "15m" or "1h" (got ${JSON.stringify(opts.every)})`);
      }
      const client = await connectClient();
      try {
        let change: { scheduleId: string; outcome: string };
        if (opts.delete) {
          const scheduleId = noticesSweepSchedules.idPrefix;
          const deleted = await client.schedule
            .getHandle(scheduleId)
            .delete()
            .then(() => true)
            .catch((err: unknown) => {
              if (err instanceof ScheduleNotFoundError) return false;
              throw err;
            });
          change = { scheduleId, outcome: deleted ? 'deleted' : 'absent' };
        } else {
          const [c] = await applySchedules(client, noticesSweepSchedules, [null], { cadence: opts.every, taskQueue: opts.taskQueue });
          change = { scheduleId: c!.scheduleId, outcome: c!.outcome };
        }
        process.stdout.write(opts.json ? `${JSON.stringify({ ...change, every: opts.every })}\n` : `${change.scheduleId}: ${change.outcome}${opts.delete ? '' : ` (every ${opts.every})`}\n`);
      } finally {
        await client.connection.close();
      }
    });
}

/** The sweeper's default cadence: alerts should not wait longer than a quarter hour after an outage. */
const noticesSweepCadence = '15m';
