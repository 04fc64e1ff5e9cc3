import { randomBytes } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { resolveSecret, SecretError } from '../config/secrets';
import { DEFAULT_WORKDIR } from '../paths';
import { isStorageError, openBlob, openBlobStore } from '../storage';
import { fail, info, ok, scheduleCheck, warn, type DoctorCheck, type DoctorContext, type DoctorSource } from '../temporal/doctor';
import { EVENTS_TASK_QUEUE } from '../temporal/taskQueues';
import { ScheduleIds } from '../temporal/workflowIds';
import type { EventsDestinationConfig } from './config';
import { loadEventsConfigs } from './configFile';
import { EventsExportWorkflowType } from './messages';

/*
 * `ttsync doctor --lifecycle events-export`: per events destination, that its token reference
 * resolves here (as the sending activity resolves it), that its workdir can be written, read
 * and listed, that its default input exists, and its Schedule; once, that a worker polls the
 * events queue. Read-only for anything a workflow reads: the probe object is deleted.
 */

const PROBE_PREFIX = 'doctor/';

function eventsPollerCheck(ctx: DoctorContext): DoctorCheck {
  return {
    name: 'poller-events',
    needs: ['temporal'],
    async run() {
      const { client, namespace } = ctx.temporal();
      const queue = ctx.eventsQueue ?? EVENTS_TASK_QUEUE;
      const res = await client.connection.workflowService.describeTaskQueue({
        namespace,
        taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
        taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
      });
      const live = (res.pollers ?? []).filter((p) => {
        const s = p.lastAccessTime?.seconds;
        return s === undefined || s === null || Date.now() - Number(s) * 1000 < 3 * 60_000;
      });
      if (!live.length)
        return fail(`no worker polls the events queue "${queue}": exports prepare, then wait to send`, 'start a worker with the tiktok role (ttsync worker --roles tiktok) of this release; it polls the events queue too');
      return ok(`events queue "${queue}": ${live.length} activity poller${live.length === 1 ? '' : 's'}`);
    },
  };
}

function tokenCheck(c: EventsDestinationConfig): DoctorCheck {
  return {
    name: 'token',
    async run() {
      try {
        await resolveSecret(c.accessToken);
      } catch (err) {
        if (err instanceof SecretError)
          return fail(err.message, err.code === 'bad_reference' ? 'set accessToken to env:NAME or file:/path, never the token itself' : `provide the ${c.source === 'offline' ? "offline event set's" : 'Events Manager'} token where ${c.accessToken} points, here and in the workers' environment`);
        throw err;
      }
      // Whether TikTok takes the token is only known when events are sent (an Events Manager
      // token may not answer the advertiser endpoints at all): a refusal parks the export.
      return ok(`${c.accessToken} resolves (TikTok checks it on the first send; a refusal parks the export in reauthorization_required)`);
    },
  };
}

function storageCheck(c: EventsDestinationConfig): DoctorCheck {
  return {
    name: 'storage',
    async run() {
      const uri = c.storage.workdir ?? DEFAULT_WORKDIR;
      const store = openBlobStore(uri);
      const key = `${PROBE_PREFIX}events-probe-${Date.now()}-${randomBytes(4).toString('hex')}.txt`;
      try {
        await store.write(key, 'ttsync doctor probe\n', { contentType: 'text/plain' });
        await store.readBuffer(key);
        await store.delete(key);
        for await (const entry of store.list(PROBE_PREFIX)) void entry;
      } catch (err) {
        return fail(`the workdir ${uri} cannot be used: ${(err as Error).message}`, 'runs keep their batches and ledger there: fix its permissions or credentials, or change storage.workdir');
      }
      if (!c.storage.workdir) return info(`the default workdir ${uri} can be read and written here`, 'storage.workdir is unset: set it to a gs:// folder when the data and events workers run on several machines (both read the run folder)');
      return ok(`the workdir ${uri} can be written, read and listed`);
    },
  };
}

function inputCheck(uri: string, what: string): DoctorCheck {
  return {
    name: 'input',
    async run() {
      const { store, key } = openBlob(uri);
      const st = await store.stat(key).catch((err: unknown) => err as Error);
      if (st instanceof Error) {
        if (isStorageError(st, 'not_found')) return warn(`${what} ${uri} does not exist (yet)`, 'a scheduled export of it ends in error until it lands');
        return fail(`${what} ${uri} cannot be read: ${st.message}`, 'give the workers read access to it, or fix the config');
      }
      return ok(`${what} ${uri}: ${st.size} bytes, created ${st.created.toISOString()}`);
    },
  };
}

export const eventsExportDoctor: DoctorSource<EventsDestinationConfig> = {
  lifecycle: 'events-export',
  load: async (path) => (await loadEventsConfigs(path)).map((l) => l.config),
  subjectOf: (c) => c.destinationId,
  deploymentChecks: (_configs, ctx) => [eventsPollerCheck(ctx)],
  checks(c, ctx) {
    const defaultInput = c.input.kind === 'files' ? c.input.uri : c.input.snapshot;
    return [
      tokenCheck(c),
      storageCheck(c),
      ...(defaultInput ? [inputCheck(defaultInput, c.input.kind === 'files' ? 'input.uri' : 'input.snapshot')] : []),
      scheduleCheck(ctx, {
        scheduleId: ScheduleIds.eventsExport(c.destinationId),
        workflowType: EventsExportWorkflowType.tick,
        taskQueue: ctx.queues.control,
        applyCommand: `ttsync schedules apply --lifecycle events-export --config <events configs> --task-queue ${ctx.queues.control}`,
      }),
    ];
  },
};
