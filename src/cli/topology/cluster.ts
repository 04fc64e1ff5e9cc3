import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal as proto } from '@temporalio/proto';
import { freePort, portOpen, temporalAnswers } from '../../temporal/devServer';
import { SEARCH_ATTRIBUTE_NAMES } from '../../temporal/searchAttributes';
import { resolveFakeGcs, resolvePostgresBin, resolveTemporalServer, TEMPORAL_SERVER_VERSION } from '../../temporal/toolchain';
import { alive, startDaemon, stopPid, waitUntil } from './daemon';
import { clusterRunning, initCluster, postgresPassword, POSTGRES_USER, startCluster, stopCluster, type PostgresPaths } from './postgres';
import { SERVER_PORT_NAMES, serverConfigText, TEMPORAL_DB, TEMPORAL_SCHEMAS, temporalServerConfig, TOPOLOGY_NAMESPACE, type ServerPorts } from './serverConfig';
import { PROJECT_ROOT } from '../../paths';

const run = promisify(execFile);

/** Clients and workers of the topology read no `temporal` CLI profile, which may name another cluster. */
const NO_PROFILE_CONFIG_FILE = '/nonexistent/ttsync-topology/temporal.toml';

/*
 * The production topology on one machine, from the project's own programs: PostgreSQL
 * (initdb/pg_ctl), the Temporal server built from its Go module on it (schemas from its SQL
 * tool), the namespace and ttsync's search attributes, fake-gcs-server as the bucket, the
 * TikTok emulator, and N identical `ttsync worker` processes that share nothing but Temporal
 * and the bucket (each has its own data dir). Every process is a daemon known by its pid in
 * <dir>/state.json, so `down` and `status` can be other invocations.
 */

export interface TopologyOptions {
  /** Everything lives under it: database, bucket files, logs, the workers' own data dirs. */
  dir: string;
  workers: number;
  /** Temporal's gRPC port; 0 picks a free one. */
  port: number;
  bucket: string;
  emulator: boolean;
  /** The emulator's port on 127.0.0.1; 0 picks a free one. */
  emulatorPort?: number;
  /** Activities each worker queue runs at once (`ttsync worker --max-activities`). */
  maxActivities?: number;
  /** The app's QPS: the workers' TIKTOK_QPS and the emulator's limit (default: TikTok's Basic tier, 10). */
  tiktokQps?: number;
  /**
   * The bucket endpoint the workers use instead of fake-gcs-server's own (e.g. a proxy that
   * measures storage traffic in front of it), given that endpoint once it answers.
   */
  workerStorageEndpoint?: (gcsEndpoint: string) => Promise<string>;
  log: (line: string) => void;
}

export interface TopologyState {
  dir: string;
  startedAt: string;
  temporal: { address: string; namespace: string; pid: number; version: string; logFile: string; configFile: string };
  postgres: { port: number; dataDir: string; logFile: string };
  gcs: { endpoint: string; bucket: string; pid: number; logFile: string };
  emulator?: { url: string; apiBaseUrl: string; pid: number; logFile: string };
  workers: { identity: string; pid: number; logFile: string; dataDir: string }[];
}

export const stateFile = (dir: string): string => join(dir, 'state.json');

export function readState(dir: string): TopologyState | undefined {
  const f = stateFile(dir);
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as TopologyState) : undefined;
}

function writeState(s: TopologyState): void {
  const f = stateFile(s.dir);
  writeFileSync(`${f}.tmp`, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}

function postgresPaths(dir: string, binDir: string): PostgresPaths {
  return { binDir, dataDir: join(dir, 'postgres', 'data'), logFile: join(dir, 'postgres', 'postgres.log'), passwordFile: join(dir, 'secrets', 'postgres-password') };
}

/**
 * The environment a client of the topology needs (what `cluster env` prints): Temporal's
 * address and namespace with no profile read, the bucket's endpoint, the emulator.
 */
export function clientEnv(s: TopologyState): Record<string, string> {
  return {
    TEMPORAL_ADDRESS: s.temporal.address,
    TEMPORAL_NAMESPACE: s.temporal.namespace,
    TEMPORAL_CONFIG_FILE: NO_PROFILE_CONFIG_FILE,
    STORAGE_EMULATOR_HOST: s.gcs.endpoint,
    GCLOUD_PROJECT: 'ttsync-topology',
    // Whatever workers share lives in the bucket, never in their own folders: the default
    // workdir, the segment claim registry (the two-advertiser rule), the notices outbox, SAN's store.
    TTSYNC_WORKDIR: `gs://${s.gcs.bucket}/work`,
    TTSYNC_SEGMENT_REGISTRY: `gs://${s.gcs.bucket}/registry`,
    TTSYNC_NOTICES: `gs://${s.gcs.bucket}/notices`,
    TTSYNC_SAN_STORE: `gs://${s.gcs.bucket}/san`,
    ...(s.emulator ? { TIKTOK_API_BASE_URL: s.emulator.apiBaseUrl } : {}),
  };
}

/** The workers' environment: the client's (shared stores in the bucket) and a data dir of their own. */
export function workerEnv(s: TopologyState, dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...clientEnv(s),
    NODE_ENV: 'production',
    TTSYNC_DATA_DIR: dataDir,
    // TikTok's per-app limits split over the live workers (src/temporal/workerShare.ts).
    TIKTOK_QPS_WORKERS: 'auto',
    ...extra,
  };
}

async function sqlTool(sqlToolPath: string, pg: { port: number; password: string }, db: string, args: string[]): Promise<string> {
  const base = ['--plugin', TEMPORAL_DB.plugin, '--ep', '127.0.0.1', '-p', String(pg.port), '-u', POSTGRES_USER, '--db', db];
  try {
    // The password through the tool's own variable: an argument would show in every process list.
    const { stdout, stderr } = await run(sqlToolPath, [...base, ...args], { encoding: 'utf8', timeout: 300_000, env: { ...process.env, SQL_PASSWORD: pg.password } });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string; message: string };
    throw new Error(`temporal-sql-tool --db ${db} ${args.join(' ')} failed: ${(e.stderr || e.stdout || e.message).replaceAll(pg.password, '***').trim().slice(-2000)}`);
  }
}

/** Both databases exist and carry the schema this server version needs (idempotent, like compose's temporal-schema). */
async function applySchemas(sqlToolPath: string, pg: { port: number; password: string }, log: (l: string) => void): Promise<void> {
  for (const { database: db, schemaName } of TEMPORAL_SCHEMAS) {
    try {
      await sqlTool(sqlToolPath, pg, db, ['create-database']);
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
    await sqlTool(sqlToolPath, pg, db, ['setup-schema', '-v', '0.0']);
    await sqlTool(sqlToolPath, pg, db, ['update-schema', '--schema-name', schemaName]);
    log(`postgres: database ${db} has the ${schemaName} schema of Temporal ${TEMPORAL_SERVER_VERSION}`);
  }
}

/** The namespace (30 days' retention, as compose makes it) and ttsync's Keyword search attributes. */
async function ensureNamespace(address: string, log: (l: string) => void): Promise<void> {
  const conn = await Connection.connect({ address });
  try {
    const ns = TOPOLOGY_NAMESPACE.name;
    const describe = () => conn.workflowService.describeNamespace({ namespace: ns }).then(() => true);
    if (!(await describe().catch(() => false))) {
      await conn.workflowService
        .registerNamespace({ namespace: ns, workflowExecutionRetentionPeriod: msToTs(`${TOPOLOGY_NAMESPACE.retentionDays}d`) })
        .catch((err: { code?: number }) => {
          if (err.code !== 6 /* ALREADY_EXISTS */) throw err;
        });
      log(`temporal: registered namespace ${ns} (retention ${TOPOLOGY_NAMESPACE.retentionDays}d)`);
    }
    const listed = async () => Object.keys((await conn.operatorService.listSearchAttributes({ namespace: ns })).customAttributes ?? {});
    // The services learn of a new namespace from their registry cache, refreshed every few seconds.
    await waitUntil(`namespace ${ns}`, async () => (await describe()) && (await listed(), true), { timeoutMs: 60_000 });
    const have = await listed();
    const add = SEARCH_ATTRIBUTE_NAMES.filter((n) => !have.includes(n));
    if (add.length) {
      await conn.operatorService.addSearchAttributes({
        namespace: ns,
        searchAttributes: Object.fromEntries(add.map((n) => [n, proto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
      });
      log(`temporal: registered search attributes ${add.join(', ')}`);
    }
    await waitUntil('the search attributes', async () => {
      const now = await listed();
      return SEARCH_ATTRIBUTE_NAMES.every((n) => now.includes(n));
    }, { timeoutMs: 60_000 });
  } finally {
    await conn.close();
  }
}

async function gcsAnswers(endpoint: string): Promise<boolean> {
  const res = await fetch(`${endpoint}/storage/v1/b?project=ttsync-topology`, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

async function ensureBucket(endpoint: string, bucket: string): Promise<void> {
  const got = await fetch(`${endpoint}/storage/v1/b/${encodeURIComponent(bucket)}`, { signal: AbortSignal.timeout(5000) });
  if (got.ok) return;
  const res = await fetch(`${endpoint}/storage/v1/b?project=ttsync-topology`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: bucket }),
    signal: AbortSignal.timeout(5000),
  });
  if (!res.ok && res.status !== 409) throw new Error(`fake-gcs-server refused to create bucket ${bucket}: HTTP ${res.status} ${await res.text()}`);
}

async function choosePort(wanted: number, what: string, flag: string): Promise<number> {
  if (wanted === 0) return freePort();
  if (await portOpen('127.0.0.1', wanted)) throw new Error(`port ${wanted} (${what}) is taken; free it or pass ${flag} (0 picks a free port)`);
  return wanted;
}

const ttsyncBin = (): string => join(PROJECT_ROOT, 'bin', 'ttsync.js');

/** Starts every part; on any failure stops what it started and rethrows. */
export async function topologyUp(opts: TopologyOptions): Promise<TopologyState> {
  const { dir, log } = opts;
  const previous = readState(dir);
  if (previous) {
    const running = livePids(previous);
    if (running.length) throw new Error(`the topology in ${dir} is already running (${running.join(', ')}); run \`ttsync cluster down --dir ${dir}\` first, or \`status\``);
    // The previous run ended without `down` (machine restart): its database may still hold a lock.
  }
  if (!(opts.workers >= 1)) throw new Error('--workers must be at least 1');
  // Find every program first: a missing one stops here, before anything runs.
  const pgBin = resolvePostgresBin();
  const { server, sqlTool: sqlToolPath } = resolveTemporalServer();
  const fakeGcs = resolveFakeGcs();
  const bundle = join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
  if (!existsSync(bundle)) throw new Error(`${bundle} is missing: the workers run the prebuilt workflow bundle (run npm run build, or scripts/bootstrap)`);

  // Searchable by others (not readable): PostgreSQL may run as its own user under it.
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o711);
  for (const sub of ['logs', 'secrets', 'temporal/config', 'gcs', 'workers']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });
  const logs = (name: string) => join(dir, 'logs', `${name}.log`);
  const partial: Partial<TopologyState> & { dir: string; workers: TopologyState['workers'] } = { dir, startedAt: new Date().toISOString(), workers: [] };
  const pgPaths = postgresPaths(dir, pgBin);
  try {
    // --- PostgreSQL -------------------------------------------------------------------
    if (await initCluster(pgPaths)) log(`postgres: new cluster in ${pgPaths.dataDir} (initdb from ${pgBin})`);
    if (await clusterRunning(pgPaths)) await stopCluster(pgPaths);
    const pgPort = await freePort();
    await startCluster(pgPaths, pgPort);
    partial.postgres = { port: pgPort, dataDir: pgPaths.dataDir, logFile: pgPaths.logFile };
    log(`postgres: 127.0.0.1:${pgPort}, log ${pgPaths.logFile}`);
    const pg = { port: pgPort, password: postgresPassword(pgPaths) };
    await applySchemas(sqlToolPath, pg, log);

    // --- Temporal server ----------------------------------------------------------------
    const ports = {} as ServerPorts;
    ports.frontend = await choosePort(opts.port, 'Temporal gRPC', '--port');
    // freePort() picks below 32768, as the membership ports must be (a smallint column).
    for (const name of SERVER_PORT_NAMES) if (name !== 'frontend') ports[name] = await freePort();
    const configDir = join(dir, 'temporal', 'config');
    const configFile = join(configDir, 'topology.yaml');
    writeFileSync(configFile, serverConfigText(temporalServerConfig({ postgres: { host: '127.0.0.1', port: pgPort, user: POSTGRES_USER, password: pg.password }, ports })), { mode: 0o600 });
    const address = `127.0.0.1:${ports.frontend}`;
    const tLog = logs('temporal-server');
    const tPid = startDaemon(server, ['--root', join(dir, 'temporal'), '--config', 'config', '--env', 'topology', '--allow-no-auth', 'start'], { logFile: tLog });
    partial.temporal = { address, namespace: TOPOLOGY_NAMESPACE.name, pid: tPid, version: TEMPORAL_SERVER_VERSION, logFile: tLog, configFile };
    await waitUntil(`Temporal server ${TEMPORAL_SERVER_VERSION} on ${address}`, () => temporalAnswers(address), { timeoutMs: 120_000, pid: tPid, logFile: tLog });
    log(`temporal: server ${TEMPORAL_SERVER_VERSION} on ${address} (pid ${tPid}), config ${configFile}, log ${tLog}`);
    await ensureNamespace(address, log);

    // --- The bucket ---------------------------------------------------------------------
    const gcsPort = await freePort();
    const endpoint = `http://127.0.0.1:${gcsPort}`;
    const gLog = logs('fake-gcs-server');
    const gPid = startDaemon(
      fakeGcs,
      ['-backend', 'filesystem', '-filesystem-root', join(dir, 'gcs'), '-scheme', 'http', '-host', '127.0.0.1', '-port', String(gcsPort), '-external-url', endpoint, '-public-host', `127.0.0.1:${gcsPort}`, '-log-level', 'warn'],
      { logFile: gLog },
    );
    partial.gcs = { endpoint, bucket: opts.bucket, pid: gPid, logFile: gLog };
    await waitUntil(`fake-gcs-server on ${endpoint}`, () => gcsAnswers(endpoint), { timeoutMs: 30_000, pid: gPid, logFile: gLog });
    await ensureBucket(endpoint, opts.bucket);
    log(`storage: fake-gcs-server on ${endpoint} (pid ${gPid}), bucket gs://${opts.bucket}, files in ${join(dir, 'gcs')}`);

    // --- TikTok emulator ----------------------------------------------------------------
    if (opts.emulator) {
      const ePort = await choosePort(opts.emulatorPort ?? 0, 'TikTok emulator', '--emulator-port');
      const eLog = logs('tiktok-emulator');
      const ePid = startDaemon(
        process.execPath,
        [
          ttsyncBin(), 'emulator', '--port', String(ePort), '--state-file', join(dir, 'tiktok-emulator.state'), '--processing-delay', '2s',
          // TikTok's per-minute limit is 60 × the per-second one; left at its default (600) it would cap any QPS above 10.
          ...(opts.tiktokQps ? ['--qps', String(opts.tiktokQps), '--qpm', String(opts.tiktokQps * 60)] : []),
        ],
        { logFile: eLog },
      );
      const url = `http://127.0.0.1:${ePort}`;
      partial.emulator = { url, apiBaseUrl: `${url}/open_api/v1.3`, pid: ePid, logFile: eLog };
      await waitUntil(`TikTok emulator on ${url}`, async () => (await fetch(`${url}/_emulator/state`, { signal: AbortSignal.timeout(2000) })).ok, { timeoutMs: 30_000, pid: ePid, logFile: eLog });
      log(`tiktok emulator: ${url} (pid ${ePid}), log ${eLog}`);
    }

    // --- Workers ------------------------------------------------------------------------
    const state = partial as TopologyState;
    const host = hostname();
    const storageEndpoint = opts.workerStorageEndpoint ? await opts.workerStorageEndpoint(state.gcs.endpoint) : undefined;
    const extraEnv: Record<string, string> = {
      ...(opts.tiktokQps ? { TIKTOK_QPS: String(opts.tiktokQps) } : {}),
      ...(storageEndpoint ? { STORAGE_EMULATOR_HOST: storageEndpoint } : {}),
    };
    for (let i = 1; i <= opts.workers; i++) {
      const identity = `ttsync-worker-${i}@${host}`;
      const dataDir = join(dir, 'workers', `worker-${i}`);
      mkdirSync(dataDir, { recursive: true, mode: 0o700 });
      const wLog = logs(`worker-${i}`);
      const args = [ttsyncBin(), 'worker', '--identity', identity, ...(opts.maxActivities ? ['--max-activities', String(opts.maxActivities)] : [])];
      // Truncated per start: the worker's first line says it is polling.
      writeFileSync(wLog, '');
      const pid = startDaemon(process.execPath, args, { logFile: wLog, env: workerEnv(state, dataDir, extraEnv), cwd: PROJECT_ROOT });
      state.workers.push({ identity, pid, logFile: wLog, dataDir });
    }
    for (const w of state.workers) {
      await waitUntil(`worker ${w.identity}`, async () => /polling/.test(readFileSync(w.logFile, 'utf8')), { timeoutMs: 120_000, pid: w.pid, logFile: w.logFile });
      log(`worker: ${w.identity} (pid ${w.pid}), data dir ${w.dataDir}, log ${w.logFile}`);
    }
    writeState(state);
    return state;
  } catch (err) {
    log(`up failed: ${(err as Error).message}; stopping what started`);
    await stopParts(partial, pgPaths, log).catch(() => undefined);
    throw err;
  }
}

function livePids(s: Partial<TopologyState>): string[] {
  const named: [string, number | undefined][] = [
    ...(s.workers ?? []).map((w): [string, number] => [w.identity, w.pid]),
    ['tiktok emulator', s.emulator?.pid],
    ['temporal server', s.temporal?.pid],
    ['fake-gcs-server', s.gcs?.pid],
  ];
  return named.filter(([, pid]) => alive(pid)).map(([n, pid]) => `${n} pid ${pid}`);
}

/** Workers first (they drain in-flight activities), then what they used, the database last. */
async function stopParts(s: Partial<TopologyState> & { dir: string }, pgPaths: PostgresPaths, log: (l: string) => void): Promise<void> {
  const workers = s.workers ?? [];
  const ended = await Promise.all(workers.map((w) => stopPid(w.pid, 45_000)));
  workers.forEach((w, i) => log(`worker: ${w.identity} ${ended[i]}`));
  // Then the rest at once (the server drains for several seconds); the database after the server.
  await Promise.all([
    s.emulator ? stopPid(s.emulator.pid, 10_000).then((r) => log(`tiktok emulator: ${r}`)) : undefined,
    s.temporal ? stopPid(s.temporal.pid, 30_000).then((r) => log(`temporal: server ${r}`)) : undefined,
    s.gcs ? stopPid(s.gcs.pid, 10_000).then((r) => log(`storage: fake-gcs-server ${r}`)) : undefined,
  ]);
  log(`postgres: ${await stopCluster(pgPaths)}`);
}

export async function topologyDown(dir: string, log: (l: string) => void): Promise<void> {
  const s = readState(dir);
  const pgPaths = postgresPaths(dir, resolvePostgresBin());
  if (!s) {
    log(`no topology state in ${dir}`);
    if (await clusterRunning(pgPaths)) log(`postgres: ${await stopCluster(pgPaths)}`);
    return;
  }
  await stopParts(s, pgPaths, log);
  rmSync(stateFile(dir), { force: true });
}

export interface PartStatus {
  part: string;
  up: boolean;
  detail: string;
}

export async function topologyStatus(dir: string): Promise<{ state: TopologyState | undefined; parts: PartStatus[] }> {
  const s = readState(dir);
  if (!s) return { state: undefined, parts: [] };
  const pgPaths = postgresPaths(dir, resolvePostgresBin());
  const parts: PartStatus[] = [];
  parts.push({ part: 'postgres', up: await clusterRunning(pgPaths), detail: `127.0.0.1:${s.postgres.port}` });
  parts.push({ part: 'temporal', up: alive(s.temporal.pid) && (await temporalAnswers(s.temporal.address)), detail: `${s.temporal.address} server ${s.temporal.version}, namespace ${s.temporal.namespace}, pid ${s.temporal.pid}` });
  parts.push({ part: 'storage', up: alive(s.gcs.pid) && (await gcsAnswers(s.gcs.endpoint).catch(() => false)), detail: `${s.gcs.endpoint} gs://${s.gcs.bucket}, pid ${s.gcs.pid}` });
  if (s.emulator) parts.push({ part: 'tiktok emulator', up: alive(s.emulator.pid), detail: `${s.emulator.url}, pid ${s.emulator.pid}` });
  for (const w of s.workers) parts.push({ part: w.identity, up: alive(w.pid), detail: `pid ${w.pid}, log ${w.logFile}` });
  return { state: s, parts };
}
