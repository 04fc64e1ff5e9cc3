import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A pass-through HTTP proxy that counts the bytes of request and response bodies: put in
 * front of fake-gcs-server (the workers' STORAGE_EMULATOR_HOST names it), it measures the
 * storage traffic of a sync, written (uploads) and read (downloads), as a bucket bills it.
 */

export interface TrafficCounts {
  requests: number;
  /** Bytes the clients sent (object writes). */
  bytesUp: number;
  /** Bytes the clients received (object reads, listings, metadata). */
  bytesDown: number;
}

export interface CountingProxy {
  endpoint: string;
  counts(): TrafficCounts;
  close(): Promise<void>;
}

export async function startCountingProxy(upstreamUrl: string): Promise<CountingProxy> {
  const upstream = new URL(upstreamUrl);
  const c: TrafficCounts = { requests: 0, bytesUp: 0, bytesDown: 0 };
  let self = '';
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    c.requests++;
    const fwd = request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } }, (up) => {
      // A resumable upload's session URL names the upstream: its chunks must come back here too.
      const headers = { ...up.headers };
      if (typeof headers.location === 'string') headers.location = headers.location.replace(upstream.origin, self);
      res.writeHead(up.statusCode ?? 502, headers);
      up.on('data', (chunk: Buffer) => (c.bytesDown += chunk.length));
      up.pipe(res);
    });
    fwd.on('error', () => res.destroy());
    req.on('data', (chunk: Buffer) => (c.bytesUp += chunk.length));
    req.pipe(fwd);
  };
  const server = createServer(handle);
  // Resumable uploads and long downloads: no server-side timeouts.
  server.requestTimeout = 0;
  server.headersTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  self = `http://127.0.0.1:${port}`;
  return {
    endpoint: self,
    counts: () => ({ ...c }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
