import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll } from 'vitest';
import { createGcsClient } from '../../src/storage';
import { spawnTied } from '../../src/process/spawnTied';
import { freePort } from '../../src/temporal/devServer';
import { resolveFakeGcs } from '../../src/temporal/toolchain';

export interface FakeGcs {
  endpoint: string;
  port: number;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
// A crashed test file must not leave servers behind on a shared 2-core machine: exit kills
// them at once, and spawnTied's watchdog covers deaths where no exit handler runs.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts a real fake-gcs-server (memory backend) on a free loopback port and waits until
 * it answers. `-external-url` must match, or resumable uploads get a wrong session URL.
 */
export async function startFakeGcs(): Promise<FakeGcs> {
  const bin = resolveFakeGcs();
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const child = spawnTied(
      bin,
      ['-backend', 'memory', '-scheme', 'http', '-host', '127.0.0.1', '-port', String(port), '-external-url', endpoint, '-public-host', `127.0.0.1:${port}`, '-log-level', 'error'],
      { output: 'pipe' },
    );
    running.add(child);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      running.delete(child);
    };
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${endpoint}/storage/v1/b`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) return { endpoint, port, stop };
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop();
    // The port may have been taken between probing and binding: try another one.
    if (attempt >= 3) throw new Error(`fake-gcs-server (${bin}) did not start on ${endpoint}: ${stderr.trim() || 'no output'}`);
  }
}

export interface RecordingProxy {
  endpoint: string;
  /** "METHOD path?query" of every request that passed, in order. */
  requests: string[];
  stop(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of fake-gcs-server that records each request line, so a
 * test can see which upload protocol (uploadType=multipart or resumable) the client chose.
 */
export async function startRecordingProxy(
  target: string,
  options: {
    /** Forward the first matching request, let the server apply it, then cut the connection instead of answering. */
    loseResponseOnce?: (requestLine: string) => boolean;
    /** Answer matching requests itself (e.g. 403, 503) without forwarding them. */
    answer?: (requestLine: string) => { status: number; body: unknown } | undefined;
  } = {},
): Promise<RecordingProxy> {
  const { createServer: createHttpServer, request } = await import('node:http');
  const requests: string[] = [];
  const upstream = new URL(target);
  let lost = false;
  const server = createHttpServer((req, res) => {
    const line = `${req.method} ${req.url}`;
    requests.push(line);
    const canned = options.answer?.(line);
    if (canned) {
      req.resume();
      res.writeHead(canned.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(canned.body));
      return;
    }
    const lose = !lost && (options.loseResponseOnce?.(line) ?? false);
    if (lose) lost = true;
    const fwd = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        if (lose) {
          up.resume();
          up.once('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(fwd);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A fake-gcs-server for the calling test file, holding `bucket`: started before its tests,
 * stopped after them. Read `endpoint` inside tests.
 */
export function fakeGcsWithBucket(bucket: string): { readonly endpoint: string } {
  let gcs: FakeGcs | undefined;
  beforeAll(async () => {
    gcs = await startFakeGcs();
    await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(bucket);
  });
  afterAll(async () => {
    await gcs?.stop();
  });
  return {
    get endpoint(): string {
      if (!gcs) throw new Error('fake-gcs-server has not started: read endpoint inside a test');
      return gcs.endpoint;
    },
  };
}
