import type { ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../src/paths';
import { spawnTied } from '../../src/process/spawnTied';
import { freePort, startDevServer, stopChild, type DevServer } from '../../src/temporal/devServer';
import { resolveFakeGcs, resolveMailpit, resolveTemporalCli } from '../../src/temporal/toolchain';

/*
 * The processes a chaos or load run starts and kills: the Temporal dev server on a database
 * file, fake-gcs-server and ttsync worker processes. Each runs under spawnTied's watchdog (it
 * dies with this process); a SIGKILL goes to the program itself, not to the watchdog, which
 * would only pass on polite signals.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The pid of the program a spawnTied watchdog runs (its child that is not the stdin reader). */
export async function tiedProgramPid(watchdog: ChildProcess, program: string, timeoutMs = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = watchdog.pid;
    if (pid !== undefined) {
      let children: number[] = [];
      try {
        children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
      } catch {
        // The watchdog is gone or /proc is not readable yet.
      }
      for (const c of children) {
        try {
          const argv0 = readFileSync(`/proc/${c}/cmdline`, 'utf8').split('\0')[0] ?? '';
          if (argv0 === program || argv0.endsWith(`/${program}`)) return c;
        } catch {
          // Exited meanwhile.
        }
      }
    }
    if (Date.now() > deadline) throw new Error(`no ${program} process under watchdog ${watchdog.pid}`);
    await sleep(20);
  }
}

/** SIGKILL the program under a watchdog, then let the watchdog go (EOF on its stdin); resolves once it exited. */
export async function killTied(watchdog: ChildProcess, program: string): Promise<void> {
  if (watchdog.exitCode !== null || watchdog.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => watchdog.once('exit', () => resolve()));
  try {
    process.kill(await tiedProgramPid(watchdog, program, 2_000), 'SIGKILL');
  } catch {
    watchdog.kill('SIGKILL');
  }
  watchdog.stdin?.end();
  await exited;
}

export interface FakeGcsProcess {
  endpoint: string;
  stop(): Promise<void>;
}

/** fake-gcs-server, memory backend, on a free loopback port; resolves once it answers. */
export async function startFakeGcsProcess(logFile: string): Promise<FakeGcsProcess> {
  const bin = resolveFakeGcs();
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const fd = openSync(logFile, 'a');
  const child = spawnTied(
    bin,
    ['-backend', 'memory', '-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-external-url', endpoint, '-public-host', `127.0.0.1:${port}`, '-log-level', 'error'],
    { output: fd },
  );
  closeSync(fd);
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${endpoint}/storage/v1/b`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 200 || child.exitCode !== null) throw new Error(`fake-gcs-server (${bin}) did not start; see ${logFile}`);
    await sleep(50);
  }
  return { endpoint, stop: () => stopChild(child, 3_000) };
}

/** Creates a bucket on fake-gcs-server (directly, not through any fault proxy). */
export async function createBucket(endpoint: string, bucket: string): Promise<void> {
  const res = await fetch(`${endpoint}/storage/v1/b?project=ttsync-chaos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: bucket }),
  });
  if (!res.ok && res.status !== 409) throw new Error(`creating bucket ${bucket}: HTTP ${res.status} ${await res.text()}`);
}

/** Writes an object on fake-gcs-server (directly): how an exporter lands a file. */
export async function putObject(endpoint: string, bucket: string, name: string, body: string | Buffer): Promise<void> {
  const res = await fetch(`${endpoint}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body,
  });
  if (!res.ok) throw new Error(`writing gs://${bucket}/${name}: HTTP ${res.status} ${await res.text()}`);
}

/**
 * The Temporal dev server on a SQLite file, on a fixed port, that can be SIGKILLed and
 * started again on the same file: workflows that were running go on where they were.
 */
export class RestartableTemporal {
  private server: DevServer | undefined;
  address = '';
  kills = 0;

  constructor(
    private readonly dbFile: string,
    private readonly logFile: string,
  ) {}

  async start(port?: number): Promise<void> {
    const p = port ?? (this.address ? Number(this.address.split(':').pop()) : await freePort());
    this.server = await startDevServer({ cliPath: resolveTemporalCli(), port: p, dbFile: this.dbFile, logFile: this.logFile, readyTimeoutMs: 120_000 });
    this.address = this.server.address;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  /** SIGKILL: no shutdown, no flush beyond what SQLite already wrote. */
  async kill(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await killTied(s.child, 'temporal');
    this.kills++;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    await s?.stop();
  }
}

export interface WorkerProcess {
  readonly id: number;
  readonly child: ChildProcess;
  readonly logFile: string;
}

/**
 * `ttsync worker` processes (the real command, from dist/, on the prebuilt workflow bundle),
 * each with every role unless told otherwise, that can be SIGKILLed and replaced.
 */
export class WorkerPool {
  private readonly live = new Map<number, WorkerProcess>();
  private next = 1;
  kills = 0;
  starts = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly logDir: string,
    private readonly args: string[] = [],
  ) {}

  get size(): number {
    return this.live.size;
  }

  ids(): number[] {
    return [...this.live.keys()];
  }

  start(): WorkerProcess {
    const id = this.next++;
    const logFile = join(this.logDir, `worker-${id}.log`);
    const fd = openSync(logFile, 'a');
    const child = spawnTied(process.execPath, [join(PROJECT_ROOT, 'bin', 'ttsync.js'), 'worker', '--shutdown-grace', '2s', ...this.args], {
      output: fd,
      env: { ...process.env, ...this.env },
      cwd: this.logDir,
    });
    closeSync(fd);
    const w = { id, child, logFile };
    this.live.set(id, w);
    this.starts++;
    child.once('exit', () => {
      if (this.live.get(id) === w) this.live.delete(id);
    });
    return w;
  }

  /** SIGKILL one worker process (the node program, not its watchdog). */
  async kill(id: number): Promise<void> {
    const w = this.live.get(id);
    if (!w) return;
    this.live.delete(id);
    await killTied(w.child, 'node');
    this.kills++;
  }

  async stopAll(): Promise<void> {
    const all = [...this.live.values()];
    this.live.clear();
    await Promise.all(all.map((w) => stopChild(w.child, 10_000)));
  }
}

export interface MailpitProcess {
  smtpUrl: string;
  apiUrl: string;
  /** Every message received (summaries), oldest first. */
  messages(): Promise<MailSummary[]>;
  /** One part of a message (an attachment's bytes). */
  part(id: string, partId: string): Promise<Buffer>;
  message(id: string): Promise<{ Attachments: { PartID: string; FileName: string }[] }>;
  stop(): Promise<void>;
}

export interface MailSummary {
  ID: string;
  /** Without angle brackets. */
  MessageID: string;
  Subject: string;
  To: { Address: string }[];
}

/** Mailpit (scripts/bootstrap builds it) on free loopback ports, its database in `dir`: the SMTP server notices go to, and an API that lists what arrived. */
export async function startMailpitProcess(dir: string, logFile: string): Promise<MailpitProcess> {
  const [smtpPort, httpPort] = [await freePort(), await freePort()];
  const apiUrl = `http://127.0.0.1:${httpPort}`;
  const fd = openSync(logFile, 'a');
  const child = spawnTied(
    resolveMailpit(),
    ['--smtp', `127.0.0.1:${smtpPort}`, '--listen', `127.0.0.1:${httpPort}`, '--database', join(dir, 'mailpit.db'), '--disable-version-check', '--smtp-auth-accept-any', '--smtp-auth-allow-insecure', '--smtp-disable-rdns', '--quiet'],
    { output: fd },
  );
  closeSync(fd);
  const api = async <T>(path: string): Promise<T> => {
    const res = await fetch(`${apiUrl}${path}`, { signal: AbortSignal.timeout(15_000) });
    if (!res.ok) throw new Error(`Mailpit GET ${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${apiUrl}/api/v1/messages`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // not listening yet
    }
    if (i > 300 || child.exitCode !== null) throw new Error(`Mailpit did not start; see ${logFile}`);
    await sleep(50);
  }
  return {
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    apiUrl,
    async messages() {
      const all: MailSummary[] = [];
      for (;;) {
        const page = await api<{ messages: MailSummary[]; total: number }>(`/api/v1/messages?start=${all.length}&limit=500`);
        all.push(...page.messages);
        if (page.messages.length === 0 || all.length >= page.total) return all.reverse();
      }
    },
    message: (id) => api(`/api/v1/message/${id}`),
    async part(id, partId) {
      const r = await fetch(`${apiUrl}/api/v1/message/${id}/part/${partId}`, { signal: AbortSignal.timeout(15_000) });
      if (!r.ok) throw new Error(`Mailpit part ${id}/${partId}: HTTP ${r.status}`);
      return Buffer.from(await r.arrayBuffer());
    },
    stop: () => stopChild(child, 3_000),
  };
}

/** An object's bytes read straight from fake-gcs-server (not through any fault proxy), or null when absent. */
export async function getObject(endpoint: string, bucket: string, name: string): Promise<Buffer | null> {
  const res = await fetch(`${endpoint}/storage/v1/b/${bucket}/o/${encodeURIComponent(name)}?alt=media`);
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`reading gs://${bucket}/${name}: HTTP ${res.status} ${await res.text()}`);
  return Buffer.from(await res.arrayBuffer());
}

/** Names of the objects under a prefix, straight from fake-gcs-server. */
export async function listObjects(endpoint: string, bucket: string, prefix: string): Promise<string[]> {
  const names: string[] = [];
  let pageToken: string | undefined;
  do {
    const res = await fetch(`${endpoint}/storage/v1/b/${bucket}/o?prefix=${encodeURIComponent(prefix)}${pageToken ? `&pageToken=${encodeURIComponent(pageToken)}` : ''}`);
    if (!res.ok) throw new Error(`listing gs://${bucket}/${prefix}: HTTP ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { items?: { name: string }[]; nextPageToken?: string };
    names.push(...(body.items ?? []).map((i) => i.name));
    pageToken = body.nextPageToken;
  } while (pageToken);
  return names.sort();
}
