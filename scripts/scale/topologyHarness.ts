import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { topologyDown, topologyUp, type TopologyState } from '../../src/cli/topology/cluster';
import { startCountingProxy, type CountingProxy } from './countingProxy';

/*
 * The production topology (ttsync cluster up) in a folder of its own, for a scale run or a
 * benchmark: started here, driven over its client environment, and always stopped again.
 * Also the figures both runs read from Temporal: workflow and activity task latency from
 * history timestamps, and history sizes from visibility.
 */

export interface TopologyRun {
  dir: string;
  state: TopologyState;
  client: Client;
  /** The storage traffic proxy the workers use, when asked for. */
  storage?: CountingProxy;
  emulator<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** A token for these advertisers, in a file every worker can read (they started before it). */
  tokenFile(advertiserIds: string[]): Promise<string>;
  /** Lands an object in the bucket as an exporter would; returns its gs:// URI and creation time. */
  putObject(name: string, body: string | Buffer): Promise<{ uri: string; timeCreated: string }>;
  down(): Promise<void>;
}

export async function startTopology(opts: { workers: number; qps: number; maxActivities?: number; countStorage?: boolean; log: (l: string) => void; dir?: string }): Promise<TopologyRun> {
  // Searchable by others: PostgreSQL runs as its own user below it when run as root.
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'ttsync-scale-'));
  chmodSync(dir, 0o711);
  let storage: CountingProxy | undefined;
  const state = await topologyUp({
    dir,
    workers: opts.workers,
    port: 0,
    bucket: 'ttsync',
    emulator: true,
    emulatorPort: 0,
    tiktokQps: opts.qps,
    ...(opts.maxActivities ? { maxActivities: opts.maxActivities } : {}),
    ...(opts.countStorage ? { workerStorageEndpoint: async (gcs: string) => (storage = await startCountingProxy(gcs)).endpoint } : {}),
    log: (l) => opts.log(`[cluster] ${l}`),
  }).catch(async (err: unknown) => {
    await storage?.close();
    throw err;
  });
  const connection = await Connection.connect({ address: state.temporal.address });
  const client = new Client({ connection, namespace: state.temporal.namespace });
  const emuUrl = state.emulator!.url;
  const emulator = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${emuUrl}/_emulator/${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
    if (!res.ok) throw new Error(`emulator ${method} ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  let tokens = 0;
  // Its processes are daemons: stopped or interrupted, this run stops them before it goes.
  const onSignal = (): void => {
    void run.down().finally(() => process.exit(130));
  };
  const run: TopologyRun = {
    dir,
    state,
    client,
    ...(storage ? { storage } : {}),
    emulator,
    async tokenFile(advertiserIds) {
      const { access_token } = await emulator<{ access_token: string }>('POST', 'tokens', { advertiser_ids: advertiserIds });
      const file = join(dir, 'secrets', `tiktok-token-${++tokens}`);
      writeFileSync(file, access_token, { mode: 0o600 });
      return file;
    },
    async putObject(name, body) {
      const { endpoint, bucket } = state.gcs;
      const res = await fetch(`${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
      if (!res.ok) throw new Error(`writing gs://${bucket}/${name}: HTTP ${res.status} ${await res.text()}`);
      const meta = (await res.json()) as { timeCreated?: string; updated?: string };
      return { uri: `gs://${bucket}/${name}`, timeCreated: meta.timeCreated ?? meta.updated ?? new Date().toISOString() };
    },
    async down() {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      await connection.close().catch(() => undefined);
      await topologyDown(dir, (l) => opts.log(`[cluster] ${l}`)).catch((err: unknown) => opts.log(`[cluster] down failed: ${(err as Error).message}`));
      await storage?.close();
      if (!opts.dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return run;
}

/** Runs f over items, at most `limit` at once, results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, f: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await f(items[i]!, i);
      }
    }),
  );
  return out;
}

export function percentile(xs: readonly number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

const tsMs = (t: temporal.api.history.v1.IHistoryEvent['eventTime']): number => Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

/**
 * Schedule-to-start of every workflow task and activity task of a history, in ms: the time
 * a task waited on its queue for a worker (WorkflowTaskScheduled → Started, ActivityTaskScheduled → Started).
 */
export function taskLatencies(history: temporal.api.history.v1.IHistory): { workflowTask: number[]; activityTask: number[] } {
  const scheduled = new Map<string, number>();
  const workflowTask: number[] = [];
  const activityTask: number[] = [];
  for (const e of history.events ?? []) {
    if (e.workflowTaskScheduledEventAttributes || e.activityTaskScheduledEventAttributes) scheduled.set(String(e.eventId), tsMs(e.eventTime));
    const wft = e.workflowTaskStartedEventAttributes;
    if (wft) {
      const at = scheduled.get(String(wft.scheduledEventId));
      if (at !== undefined) workflowTask.push(tsMs(e.eventTime) - at);
    }
    const act = e.activityTaskStartedEventAttributes;
    if (act) {
      const at = scheduled.get(String(act.scheduledEventId));
      if (at !== undefined) activityTask.push(tsMs(e.eventTime) - at);
    }
  }
  return { workflowTask, activityTask };
}

/** Every execution (all runs) the query lists. */
export async function listRuns(client: Client, query: string): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  for await (const w of client.workflow.list({ query })) out.push(w);
  return out;
}

/** Picks up to n items spread evenly over the list. */
export function spread<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)]!);
}

export const ms1 = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
export const num = (x: number): string => x.toLocaleString('en-US');
