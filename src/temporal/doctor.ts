import { ScheduleNotFoundError, type Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { PAYLOAD_KEYS_VARIABLE, payloadCodecFromEnv } from './payloadCodec';
import { SEARCH_ATTRIBUTE_NAMES } from './searchAttributes';
import { TaskQueues, type TaskQueueRole } from './taskQueues';

/*
 * `ttsync doctor` for every lifecycle: the vendors' troubleshooting lists, automated. The
 * command runs the deployment's checks (the Temporal namespace and its workers, here) and
 * the checks each lifecycle plugs in through a DoctorSource (per config, and once per
 * deployment), each with a timeout; a check answers ok, info, warn or fail with advice and
 * never writes anything a workflow reads. Like ScheduleSource, this contract lives in the
 * kernel so a lifecycle can implement it without importing the app layer.
 */

export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail' | 'skip';

/** What one check found. `skip` is the runner's: a check whose prerequisite failed is not run. */
export interface CheckOutcome {
  status: Exclude<CheckStatus, 'skip'>;
  /** What was found, one line: ids, counts and URIs, never a token. */
  message: string;
  /** What to do about a warn or a fail. */
  advice?: string;
}

export interface DoctorCheck {
  /** Short name, unique within its subject (e.g. `token`, `poller-control`). */
  name: string;
  /**
   * Checks that must have passed (ok, info or warn) before this one runs, by name: of the
   * same subject first, else of the deployment (e.g. `temporal`, the connection). Otherwise
   * it is skipped, so one root cause is reported once.
   */
  needs?: readonly string[];
  /** Overrides the runner's per-check timeout. */
  timeoutMs?: number;
  /** Aborted when the check times out. Throwing is allowed: the runner reports it as a fail. */
  run(signal: AbortSignal): Promise<CheckOutcome>;
}

/** What the deployment gives a lifecycle's checks. */
export interface DoctorContext {
  /** The Temporal client; only checks that need `temporal` (the connection) may call it. */
  temporal(): { client: Client; namespace: string };
  /** The queues the deployment's workers poll (--task-queue, --data-queue, --tiktok-queue). */
  queues: Record<TaskQueueRole, string>;
  /** The Events API queue (--events-queue), polled by the tiktok role's workers; default ttsync-events. */
  eventsQueue?: string;
  /** A config whose Schedule is missing is a fail, not info (--expect-schedules). */
  expectSchedules: boolean;
  /** The deployment's registry folder URI when given on the command line (a lifecycle has its default). */
  registry?: string;
}

/** What a lifecycle plugs into `ttsync doctor`. */
export interface DoctorSource<Config> {
  /** The lifecycle's name (the --lifecycle value). */
  lifecycle: string;
  /** Every config of a file or folder, validated as a set; throws a readable ConfigError listing every problem. */
  load(path: string): Promise<Config[]>;
  /** The name a config's checks are reported under (a destination id). */
  subjectOf(config: Config): string;
  /** Checks of what the lifecycle shares across its configs (a registry), run once. */
  deploymentChecks?(configs: readonly Config[], ctx: DoctorContext): DoctorCheck[];
  /** The checks of one config, in the order they are reported. */
  checks(config: Config, ctx: DoctorContext): DoctorCheck[];
}

export const ok = (message: string): CheckOutcome => ({ status: 'ok', message });
export const info = (message: string, advice?: string): CheckOutcome => ({ status: 'info', message, ...(advice ? { advice } : {}) });
export const warn = (message: string, advice: string): CheckOutcome => ({ status: 'warn', message, advice });
export const fail = (message: string, advice: string): CheckOutcome => ({ status: 'fail', message, advice });

/** gRPC NOT_FOUND (status 5), as the client's service errors carry it. */
const isNotFound = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 5;

// ---------------------------------------------------------------------------------------
// The deployment's Temporal checks (read-only: nothing is registered or created)

/**
 * Payload encryption as this process would apply it: the keys named by TTSYNC_PAYLOAD_KEYS
 * resolve and a payload round-trips. Off is info, not a warning: ttsync keeps only ids, URIs,
 * counts and digests in history, so encryption is a second wall, not the first.
 */
export function payloadEncryptionCheck(env: NodeJS.ProcessEnv = process.env): DoctorCheck {
  return {
    name: 'encryption',
    async run() {
      let codec: Awaited<ReturnType<typeof payloadCodecFromEnv>>;
      try {
        codec = await payloadCodecFromEnv(env);
      } catch (err) {
        return fail(
          (err as Error).message,
          `fix ${PAYLOAD_KEYS_VARIABLE} (id=secret reference pairs, newest first): workers, CLI and codec server must all read the same keys, or nothing they start can be read`,
        );
      }
      if (!codec)
        return info(
          `payload encryption off (${PAYLOAD_KEYS_VARIABLE} unset): Temporal stores inputs, results and heartbeats as plaintext`,
          `to encrypt them, give workers, CLI and codec server the same ${PAYLOAD_KEYS_VARIABLE}; payloads written before stay readable`,
        );
      const probe = { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('"doctor"') };
      const [sealed] = await codec.encode([probe]);
      const [opened] = await codec.decode([sealed!]);
      if (new TextDecoder().decode(opened!.data) !== '"doctor"')
        return fail(`payload key ${codec.encryptingKeyId} does not round-trip a payload`, 'a bug or a broken crypto library: report it');
      const others = codec.keyIds.filter((id) => id !== codec.encryptingKeyId);
      return ok(
        `payloads encrypted with AES-256-GCM under key ${codec.encryptingKeyId}` +
          (others.length ? `; older keys kept for reading: ${others.join(', ')}` : '; no older key'),
      );
    },
  };
}

/** The namespace exists and has every ttsync search attribute, each of type Keyword. */
export function searchAttributesCheck(ctx: DoctorContext): DoctorCheck {
  return {
    name: 'search-attributes',
    needs: ['temporal'],
    async run() {
      const { client, namespace } = ctx.temporal();
      let custom: Record<string, unknown>;
      try {
        custom = (await client.connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
      } catch (err) {
        if (isNotFound(err))
          return fail(`namespace "${namespace}" does not exist on this cluster`, `create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE to the namespace the workers use`);
        throw err;
      }
      const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
      const missing = SEARCH_ATTRIBUTE_NAMES.filter((n) => !(n in custom));
      const wrongType = SEARCH_ATTRIBUTE_NAMES.filter((n) => n in custom && custom[n] !== keyword && custom[n] !== 'INDEXED_VALUE_TYPE_KEYWORD');
      if (missing.length)
        return fail(
          `namespace "${namespace}" lacks the search attributes ${missing.join(', ')}; workers refuse to start and workflows cannot record their state`,
          `temporal operator search-attribute create --namespace ${namespace} ${missing.map((n) => `--name ${n} --type Keyword`).join(' ')}`,
        );
      if (wrongType.length)
        return fail(
          `namespace "${namespace}" has ${wrongType.join(', ')} with another type than Keyword`,
          'ttsync filters on exact values: remove them and create them again as Keyword (temporal operator search-attribute remove/create)',
        );
      return ok(`namespace "${namespace}" has ${SEARCH_ATTRIBUTE_NAMES.join(', ')} (Keyword)`);
    },
  };
}

/** Pollers older than this are a worker that stopped: a live one polls again within about a minute. */
const POLLER_FRESH_MS = 3 * 60_000;

type PollKind = 'workflow' | 'activity';

/** Which task types each role's workers take: the control worker runs workflows and the ticks' activities. */
const POLL_KINDS: Record<TaskQueueRole, PollKind[]> = { control: ['workflow', 'activity'], data: ['activity'], tiktok: ['activity'] };

/** A worker polls the role's queue (for each kind of task it serves), seen within the last minutes. */
export function pollersCheck(ctx: DoctorContext, role: TaskQueueRole): DoctorCheck {
  return {
    name: `poller-${role}`,
    needs: ['temporal'],
    async run() {
      const { client, namespace } = ctx.temporal();
      const queue = ctx.queues[role];
      const seen: string[] = [];
      const absent: PollKind[] = [];
      for (const kind of POLL_KINDS[role]) {
        const res = await client.connection.workflowService.describeTaskQueue({
          namespace,
          taskQueue: { name: queue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
          taskQueueType: kind === 'workflow' ? temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
        });
        const now = Date.now();
        const live = (res.pollers ?? []).filter((p) => {
          const s = p.lastAccessTime?.seconds;
          return s === undefined || s === null || now - Number(s) * 1000 < POLLER_FRESH_MS;
        });
        if (live.length) seen.push(`${live.length} ${kind} poller${live.length === 1 ? '' : 's'}`);
        else absent.push(kind);
      }
      const isDefault = queue === TaskQueues[role];
      if (absent.length)
        return fail(
          `no worker polls ${absent.join(' and ')} tasks of the ${role} queue "${queue}": work sent there waits`,
          isDefault
            ? `start a worker for it (ttsync worker --roles ${role}) against namespace "${namespace}", or check the running workers' TEMPORAL_ADDRESS and TEMPORAL_NAMESPACE`
            : `start a worker that polls "${queue}", or pass the queue your workers poll (--${role === 'control' ? 'task' : role}-queue)`,
        );
      return ok(`${role} queue "${queue}": ${seen.join(', ')}`);
    },
  };
}

/** What a lifecycle's Schedule of one config should look like (from its ScheduleSource's plan). */
export interface ExpectedSchedule {
  scheduleId: string;
  workflowType: string;
  /** The control queue the tick must start on. */
  taskQueue: string;
  /** Further checks of the scheduled action's first argument (e.g. its activity queues); a problem per line. */
  argProblems?: (arg: unknown) => string[];
  /** The command that creates or fixes it, for the advice. */
  applyCommand: string;
}

/**
 * The config's Schedule exists and starts the expected workflow on the expected queue. A
 * missing one is info (not every deployment schedules its configs) unless expectSchedules.
 */
export function scheduleCheck(ctx: DoctorContext, expected: ExpectedSchedule): DoctorCheck {
  return {
    name: 'schedule',
    needs: ['temporal'],
    async run() {
      const { client } = ctx.temporal();
      let desc;
      try {
        desc = await client.schedule.getHandle(expected.scheduleId).describe();
      } catch (err) {
        if (!(err instanceof ScheduleNotFoundError) && !isNotFound(err)) throw err;
        const message = `no schedule ${expected.scheduleId}`;
        return ctx.expectSchedules ? fail(message, `create it: ${expected.applyCommand}`) : info(`${message} (fine if nothing schedules this config; --expect-schedules makes it a fail)`);
      }
      const action = desc.action;
      const problems: string[] = [];
      if (action.type !== 'startWorkflow') problems.push(`its action is ${action.type}, not starting ${expected.workflowType}`);
      else {
        if (action.workflowType !== expected.workflowType) problems.push(`it starts ${action.workflowType}, not ${expected.workflowType}`);
        if (action.taskQueue !== expected.taskQueue) problems.push(`it starts on task queue "${action.taskQueue}", not "${expected.taskQueue}"`);
        if (action.workflowType === expected.workflowType) problems.push(...(expected.argProblems?.(action.args?.[0]) ?? []));
      }
      if (problems.length) return fail(`schedule ${expected.scheduleId}: ${problems.join('; ')}`, `apply it again with this deployment's queues: ${expected.applyCommand}`);
      const paused = desc.state.paused;
      const next = desc.info.nextActionTimes[0];
      const when = next ? `, next run ${next.toISOString()}` : '';
      if (paused) return warn(`schedule ${expected.scheduleId} is paused${desc.state.note ? ` (${desc.state.note})` : ''}`, `unpause it when the pause is over: temporal schedule toggle --schedule-id ${expected.scheduleId} --unpause --reason ok`);
      return ok(`schedule ${expected.scheduleId} starts ${expected.workflowType} on "${expected.taskQueue}"${when}`);
    },
  };
}
