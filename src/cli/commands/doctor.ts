import type { Client } from '@temporalio/client';
import { Command, Option } from 'commander';
import { addQueueOptions } from '../../audience-sync/cli';
import { audienceSyncDoctor } from '../../audience-sync/doctor';
import { retentionDoctor } from '../../retention/doctor';
import { eventsExportDoctor } from '../../events-export/doctor';
import { sanMigrationDoctor } from '../../san-migration/doctor';
import { durationMs } from '../../config/duration';
import { durationTextFlag } from '../../config/durationFlag';
import { ConfigError, UsageError } from '../../config/errors';
import { connectClient, loadTemporalSettings, type TemporalSettings } from '../../temporal/connection';
import { noticesCheck } from '../../notices/doctor';
import { fail, ok, payloadEncryptionCheck, pollersCheck, searchAttributesCheck, type CheckOutcome, type CheckStatus, type DoctorCheck, type DoctorContext, type DoctorSource } from '../../temporal/doctor';
import { ALL_TASK_QUEUE_ROLES, EVENTS_TASK_QUEUE, type TaskQueueRole } from '../../temporal/taskQueues';

/*
 * `ttsync doctor`: every check of the deployment (Temporal connection, namespace search
 * attributes, a worker on each queue) and of each config of a lifecycle (the checks its
 * DoctorSource plugs in), each under a timeout; a check that throws or hangs is reported as
 * FAIL with its message, never past the runner. One line per check, or one JSON object.
 * Exit 0 when nothing failed (warnings and infos allowed), 1 when a check failed, 2 when the
 * configs are invalid (nothing checked).
 */

/** Each lifecycle's checks, by its name. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each source has its own config type; the runner only passes them through
const SOURCES: Record<string, DoctorSource<any>> = {
  [audienceSyncDoctor.lifecycle]: audienceSyncDoctor,
  [eventsExportDoctor.lifecycle]: eventsExportDoctor,
  [sanMigrationDoctor.lifecycle]: sanMigrationDoctor,
  [retentionDoctor.lifecycle]: retentionDoctor,
};

/** The subject of the checks every config shares. */
export const DEPLOYMENT = 'deployment';
const DEFAULT_TIMEOUT = '15s';
/** Configs checked at once: each makes a few TikTok calls, and TikTok counts QPS per app. */
const SUBJECTS_AT_ONCE = 4;

export interface CheckResult {
  subject: string;
  check: string;
  status: CheckStatus;
  message: string;
  advice?: string;
  ms: number;
}

const passed = (r: CheckResult): boolean => r.status === 'ok' || r.status === 'info' || r.status === 'warn';

/** Runs one check under its timeout; whatever happens, a result. */
export async function runCheck(subject: string, check: DoctorCheck, timeoutMs: number): Promise<CheckResult> {
  const t0 = Date.now();
  const ms = check.timeoutMs ?? timeoutMs;
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckOutcome>((resolve) => {
    timer = setTimeout(() => {
      abort.abort();
      resolve(fail(`no answer within ${fmtMs(ms)}`, 'the service it checks is unreachable or too slow from here: check the network path and its address, or raise --timeout'));
    }, ms);
  });
  let outcome: CheckOutcome;
  try {
    outcome = await Promise.race([
      Promise.resolve()
        .then(() => check.run(abort.signal))
        .catch((err: unknown) => fail(`the check failed: ${(err as Error)?.message ?? String(err)}`, 'fix what the message names, then run the doctor again')),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
  return { subject, check: check.name, status: outcome.status, message: oneLine(outcome.message), ...(outcome.advice ? { advice: oneLine(outcome.advice) } : {}), ms: Date.now() - t0 };
}

const oneLine = (s: string): string => s.replace(/\s*\n\s*/g, ' ');
const fmtMs = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

/**
 * Runs a subject's checks, each as soon as the checks it needs (of this subject, else of
 * `outer`) have ended; one whose prerequisite did not pass is skipped. Results in the
 * checks' order.
 */
export async function runChecks(subject: string, checks: readonly DoctorCheck[], timeoutMs: number, outer: ReadonlyMap<string, CheckResult> = new Map()): Promise<CheckResult[]> {
  const started = new Map<string, Promise<CheckResult>>();
  const all = checks.map((check) => {
    const p = (async (): Promise<CheckResult> => {
      for (const need of check.needs ?? []) {
        const dep = started.get(need) ? await started.get(need) : outer.get(need);
        if (!dep) return { subject, check: check.name, status: 'fail', message: `needs the check "${need}", which is not run before it`, advice: 'a bug in the checks: report it', ms: 0 };
        if (!passed(dep)) return { subject, check: check.name, status: 'skip', message: `not run: ${dep.subject === subject ? '' : `${dep.subject} `}${dep.check} did not pass`, ms: 0 };
      }
      return runCheck(subject, check, timeoutMs);
    })();
    started.set(check.name, p);
    return p;
  });
  return Promise.all(all);
}

/** Runs `fn` over `items` with at most `limit` at once, results in order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return out;
}

/** The address, and the profile it came from when one did. */
const where = (s: TemporalSettings): string => (s.source === 'environment' ? s.address : `${s.address} (${s.source})`);

export interface DoctorRun {
  ok: boolean;
  counts: Record<CheckStatus, number>;
  results: CheckResult[];
}

export interface DoctorOptions {
  queues: Record<TaskQueueRole, string>;
  eventsQueue?: string;
  expectSchedules: boolean;
  registry?: string;
  timeoutMs: number;
  /** Connects to Temporal (default: from the environment, as every command). */
  connect?: () => Promise<Client>;
  /** The workers' environment the notices and encryption checks read (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** The deployment's checks, then each config's; closes what it opened. */
export async function runDoctor<Config>(source: DoctorSource<Config>, configs: readonly Config[], opts: DoctorOptions): Promise<DoctorRun> {
  let temporal: { client: Client; namespace: string } | undefined;
  const ctx: DoctorContext = {
    temporal: () => {
      if (!temporal) throw new Error('not connected to Temporal');
      return temporal;
    },
    queues: opts.queues,
    ...(opts.eventsQueue ? { eventsQueue: opts.eventsQueue } : {}),
    expectSchedules: opts.expectSchedules,
    ...(opts.registry ? { registry: opts.registry } : {}),
  };
  const connectCheck: DoctorCheck = {
    name: 'temporal',
    async run() {
      let settings: TemporalSettings;
      try {
        settings = loadTemporalSettings();
      } catch (err) {
        return fail((err as Error).message, 'fix the Temporal profile (temporal config) or the TEMPORAL_* variables; the workers read the same ones');
      }
      let client: Client;
      try {
        client = await (opts.connect ?? (() => connectClient(settings)))();
      } catch (err) {
        return fail(
          `cannot reach Temporal at ${where(settings)}: ${(err as Error).message}`,
          'check TEMPORAL_ADDRESS (or the profile\'s address), the TLS settings (TEMPORAL_TLS_*, TEMPORAL_API_KEY) and the network path; the workers read the same settings',
        );
      }
      temporal = { client, namespace: client.options.namespace };
      return ok(`connected to ${where(settings)}, namespace "${temporal.namespace}"`);
    },
  };
  try {
    const deploymentChecks = [
      connectCheck,
      searchAttributesCheck(ctx),
      ...ALL_TASK_QUEUE_ROLES.map((role) => pollersCheck(ctx, role)),
      noticesCheck(opts.env),
      payloadEncryptionCheck(opts.env),
      ...(source.deploymentChecks?.(configs, ctx) ?? []),
    ];
    const deployment = await runChecks(DEPLOYMENT, deploymentChecks, opts.timeoutMs);
    const outer = new Map(deployment.map((r) => [r.check, r]));
    const perConfig = await mapLimited(configs, SUBJECTS_AT_ONCE, (config) => {
      const subject = source.subjectOf(config);
      let checks: DoctorCheck[];
      try {
        checks = source.checks(config, ctx);
      } catch (err) {
        return Promise.resolve([{ subject, check: 'checks', status: 'fail' as const, message: `cannot build the checks: ${(err as Error).message}`, advice: 'a bug in the checks: report it', ms: 0 }]);
      }
      return runChecks(subject, checks, opts.timeoutMs, outer);
    });
    const results = [...deployment, ...perConfig.flat()];
    const counts: Record<CheckStatus, number> = { ok: 0, info: 0, warn: 0, fail: 0, skip: 0 };
    for (const r of results) counts[r.status] += 1;
    return { ok: counts.fail === 0, counts, results };
  } finally {
    await temporal?.client.connection.close().catch(() => undefined);
  }
}

const LABEL: Record<CheckStatus, string> = { ok: 'ok', info: 'info', warn: 'warn', fail: 'FAIL', skip: 'skip' };

/** One line per check: subject, check, status, what was found, and the advice. */
export function formatDoctor(run: DoctorRun): string {
  const ws = Math.max(...run.results.map((r) => r.subject.length));
  const wc = Math.max(...run.results.map((r) => r.check.length));
  const lines = run.results.map(
    (r) => `${r.subject.padEnd(ws)}  ${r.check.padEnd(wc)}  ${LABEL[r.status].padEnd(4)}  ${r.message}${r.advice && r.status !== 'ok' ? `  => ${r.advice}` : ''}`,
  );
  const c = run.counts;
  const subjects = new Set(run.results.map((r) => r.subject)).size - 1;
  lines.push(
    `${run.ok ? 'no problem found' : `${c.fail} problem${c.fail === 1 ? '' : 's'} found`}: ${subjects} config${subjects === 1 ? '' : 's'}, ${run.results.length} checks: ${c.ok} ok, ${c.info} info, ${c.warn} warn, ${c.fail} FAIL, ${c.skip} skipped`,
  );
  return lines.join('\n') + '\n';
}

interface DoctorOpts {
  config: string;
  lifecycle: string;
  json?: boolean;
  expectSchedules?: boolean;
  registry?: string;
  timeout: string;
  taskQueue: string;
  dataQueue: string;
  tiktokQueue: string;
  eventsQueue: string;
}

export function registerDoctorCommand(program: Command, summary: string): void {
  addQueueOptions(
    program
      .command('doctor')
      .description(`${summary}. Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 on invalid configs.`)
      .requiredOption('--config <file-or-dir>', 'config file, or a folder of them')
      .addOption(new Option('--lifecycle <name>', 'which lifecycle the configs are for').choices(Object.keys(SOURCES)).default(audienceSyncDoctor.lifecycle))
      .option('--json', 'print the results as one JSON object')
      .option('--expect-schedules', "a config without its Schedule is a failure (default: info; for deployments that run `schedules apply`)")
      .option('--registry <uri>', 'the registry folder every worker shares (default: TTSYNC_SEGMENT_REGISTRY, else the local default workdir)')
      .option('--timeout <duration>', 'how long each check may take', durationTextFlag, DEFAULT_TIMEOUT)
      .option('--events-queue <name>', 'task queue of the Events API activities (events-export)', EVENTS_TASK_QUEUE),
  ).action(async (opts: DoctorOpts) => {
    const source = SOURCES[opts.lifecycle]!;
    let configs: unknown[];
    try {
      configs = await source.load(opts.config);
    } catch (err) {
      if (err instanceof ConfigError) throw new UsageError(`${err.message}\nnothing was checked`);
      throw err;
    }
    const timeoutMs = durationMs(opts.timeout) ?? 15_000;
    if (timeoutMs <= 0) throw new UsageError('--timeout must be longer than 0');
    const run = await runDoctor(source, configs, {
      queues: { control: opts.taskQueue, data: opts.dataQueue, tiktok: opts.tiktokQueue },
      eventsQueue: opts.eventsQueue,
      expectSchedules: Boolean(opts.expectSchedules),
      ...(opts.registry ? { registry: opts.registry } : {}),
      timeoutMs,
    });
    process.stdout.write(opts.json ? JSON.stringify(run) + '\n' : formatDoctor(run));
    if (!run.ok) throw new Error(`doctor: ${run.counts.fail} check${run.counts.fail === 1 ? '' : 's'} failed`);
  });
}
