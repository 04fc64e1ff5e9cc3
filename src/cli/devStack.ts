import { join } from 'node:path';
import { connectClient, localTemporalSettings } from '../temporal/connection';
import { startDevServer, temporalAnswers, portOpen, stopChild, type DevServer } from '../temporal/devServer';
import { ensureSearchAttributes } from '../temporal/ensureSearchAttributes';
import { resolveTemporalCli } from '../temporal/toolchain';
import { createWorkers, type RunningWorkers } from '../worker';
import { TaskQueues } from '../temporal/taskQueues';
import { healthCheck } from '../../workflows/index';
import { ensureEmulator, type EnsuredEmulator } from '../emulator/ensure';
import type { ChildProcess } from 'node:child_process';
import { ensureDevPayloadKey, PAYLOAD_KEYS_VARIABLE, payloadCodecFromEnv } from '../temporal/payloadCodec';
import { startCodecServer, type RunningCodecServer } from '../temporal/codecServer';

export interface DevStackOptions {
  ip: string;
  port: number;
  uiPort: number;
  dataDir: string;
  worker: boolean;
  /** Start one healthCheck workflow so the UI shows a finished run straight away. */
  healthCheck: boolean;
  /** Run (or reuse) the TikTok API emulator on 127.0.0.1:emulatorPort. */
  emulator?: boolean;
  emulatorPort?: number;
  /** How long the emulator keeps an edited audience processing (real TikTok: hours; default 2s). */
  emulatorProcessingDelay?: number;
  /**
   * Encrypt payloads with the dev key (kept under dataDir/codec, made on first use) unless
   * TTSYNC_PAYLOAD_KEYS names keys, and serve the codec on 127.0.0.1:codecPort (a free port
   * when taken) for the Web UI (--ui-codec-endpoint).
   */
  codec?: boolean;
  codecPort?: number;
  log: (line: string) => void;
}

export interface DevStack {
  address: string;
  uiUrl: string;
  startedServer: boolean;
  /** The emulator's API base when it runs (TIKTOK_API_BASE_URL defaults to it). */
  tiktokApiBaseUrl?: string;
  stop(): Promise<void>;
}

/**
 * The local stack behind `ttsync dev` and scripts/start: Temporal dev server (SQLite under
 * dataDir, UI), a worker, and later the TikTok emulator. Anything already answering on its
 * port is reused rather than started twice.
 */
export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const address = `${opts.ip}:${opts.port}`;
  const uiUrl = `http://${opts.ip}:${opts.uiPort}`;
  let server: DevServer | undefined;
  let workers: RunningWorkers | undefined;
  const children: ChildProcess[] = [];

  // Never leave a child behind, even if the process exits by an unexpected path.
  const killChildren = () => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'));
  process.once('exit', killChildren);

  let codecServer: RunningCodecServer | undefined;
  if (opts.codec) {
    const key = ensureDevPayloadKey(opts.dataDir);
    // This process (worker, demo, health check) and its children read the same variable as production.
    process.env[PAYLOAD_KEYS_VARIABLE] ??= `${key.id}=${key.ref}`;
    const codec = (await payloadCodecFromEnv())!;
    const origins = [uiUrl, `http://localhost:${opts.uiPort}`];
    const serve = (port: number) => startCodecServer({ codec, host: '127.0.0.1', port, origins, log: opts.log });
    codecServer = await serve(opts.codecPort ?? 0).catch(() => serve(0));
    opts.log(
      `codec: payloads encrypted with key ${codec.encryptingKeyId} (${key.created ? 'new dev key' : 'dev key'} ${key.path}); codec server ${codecServer.url} for the UI; other ttsync commands on this stack need ${PAYLOAD_KEYS_VARIABLE}=${process.env[PAYLOAD_KEYS_VARIABLE]}`,
    );
  }

  if (await temporalAnswers(address)) {
    if (codecServer) opts.log(`codec: the UI of a reused server decodes only if that server was started with --ui-codec-endpoint ${codecServer.url}`);
    opts.log(`temporal: reusing the server already on ${address}`);
  } else {
    if (await portOpen(opts.ip, opts.uiPort)) {
      throw new Error(`port ${opts.uiPort} (UI) is taken by something that is not ttsync's Temporal; free it or pass --ui-port`);
    }
    const dbFile = join(opts.dataDir, 'temporal.sqlite');
    const logFile = join(opts.dataDir, 'temporal.log');
    const t0 = Date.now();
    server = await startDevServer({
      cliPath: resolveTemporalCli(process.env, 'newer'),
      ip: opts.ip,
      port: opts.port,
      uiPort: opts.uiPort,
      dbFile,
      logFile,
      detached: true,
      ...(codecServer ? { extraArgs: ['--ui-codec-endpoint', codecServer.url] } : {}),
    });
    children.push(server.child);
    opts.log(`temporal: dev server on ${address} (pid ${server.child.pid}, ${Date.now() - t0} ms), db ${dbFile}, log ${logFile}`);
  }

  // Its own server only: never a profile or TEMPORAL_* variable, which may name a real cluster.
  const temporal = localTemporalSettings(address);
  const client = await connectClient(temporal);
  const added = await ensureSearchAttributes(client, temporal.namespace);
  if (added.length) opts.log(`temporal: registered search attributes ${added.join(', ')}`);
  opts.log(`temporal: UI ${uiUrl}`);

  let emulator: EnsuredEmulator | undefined;
  if (opts.emulator && opts.emulatorPort !== undefined) {
    // Loopback only, whatever --ip says: the emulator accepts any token it was seeded with.
    emulator = await ensureEmulator({
      host: '127.0.0.1',
      port: opts.emulatorPort,
      stateFile: join(opts.dataDir, 'tiktok-emulator.state'),
      ...(opts.emulatorProcessingDelay !== undefined ? { processingDelay: opts.emulatorProcessingDelay } : {}),
    });
    opts.log(`tiktok emulator: ${emulator.started ? 'started' : 'reusing the one already'} on ${emulator.url} (control: ${emulator.url}/_emulator/state)`);
    // Workers of this dry-run stack talk to the emulator unless told otherwise.
    process.env.TIKTOK_API_BASE_URL ??= emulator.apiBaseUrl;
  }

  if (opts.worker) {
    workers = await createWorkers({ temporal });
    opts.log(`worker: polling ${workers.workers.map((w) => w.options.taskQueue).join(', ')}`);
    workers.done.catch((err: unknown) => opts.log(`worker: stopped with error ${(err as Error).message}`));
  }

  if (opts.healthCheck && opts.worker) {
    const workflowId = `health-check-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    const handle = await client.workflow.start(healthCheck, {
      taskQueue: TaskQueues.control,
      workflowId,
      args: [{ timer: '1s' }],
    });
    const r = await handle.result();
    opts.log(`health: workflow ${workflowId} ${r.phase}; activity ran on ${r.lastPing?.worker}`);
  }

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (workers) {
        opts.log('worker: draining');
        workers.shutdown();
        await workers.done.catch(() => undefined);
      }
      await client.connection.close().catch(() => undefined);
      if (emulator?.started) opts.log('tiktok emulator: stopping');
      await emulator?.stop();
      if (server) {
        opts.log('temporal: stopping dev server');
        await stopChild(server.child, 10_000);
      }
      await codecServer?.close();
      process.removeListener('exit', killChildren);
    })());
  return { address, uiUrl, startedServer: Boolean(server), tiktokApiBaseUrl: emulator?.apiBaseUrl, stop };
}
