import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mulberry32 } from '../../src/util/prng';

/*
 * An HTTP proxy that breaks a share of the requests it passes to its upstream, the way a
 * flaky network or an overloaded storage front end does. The chaos run puts it in front of
 * fake-gcs-server (STORAGE_EMULATOR_HOST names the proxy); it works for any HTTP upstream.
 */

/** What happens to one request: passed through, or one of the faults. */
export type ProxyFaultKind = 'http503' | 'dropBefore' | 'dropAfter';

/** Shares of requests (0..1, adding up to at most 1). */
export interface ProxyFaults {
  /** Answered 503 by the proxy; the upstream never sees the request. */
  http503: number;
  /** The connection is cut before the request is forwarded: nothing happened upstream. */
  dropBefore: number;
  /** Forwarded and answered by the upstream (a write took effect), then the connection is cut. */
  dropAfter: number;
}

export const NO_PROXY_FAULTS: ProxyFaults = { http503: 0, dropBefore: 0, dropAfter: 0 };

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  endpoint: string;
  /** Requests passed through untouched, and faults injected by kind, since the start. */
  readonly counts: { passed: number } & Record<ProxyFaultKind, number>;
  setFaults(f: ProxyFaults): void;
  close(): Promise<void>;
}

/** Only requests whose "METHOD path" this accepts may be broken (default: all). */
export type ProxyScope = (method: string, path: string) => boolean;

export async function startFaultProxy(upstreamUrl: string, opts: { seed?: number; scope?: ProxyScope } = {}): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const rand = mulberry32(opts.seed ?? 1);
  let faults: ProxyFaults = { ...NO_PROXY_FAULTS };
  const counts = { passed: 0, http503: 0, dropBefore: 0, dropAfter: 0 };

  const decide = (req: IncomingMessage): ProxyFaultKind | null => {
    // One draw per request, always, so a seed gives the same sequence for the same traffic.
    const r = rand();
    if (opts.scope && !opts.scope(req.method ?? 'GET', req.url ?? '/')) return null;
    let edge = faults.http503;
    if (r < edge) return 'http503';
    if (r < (edge += faults.dropBefore)) return 'dropBefore';
    if (r < (edge += faults.dropAfter)) return 'dropAfter';
    return null;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const kind = decide(req);
    if (kind) counts[kind]++;
    else counts.passed++;
    if (kind === 'http503') {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 503, message: 'Service Unavailable (injected by the fault proxy)' } }));
      return;
    }
    if (kind === 'dropBefore') {
      req.resume();
      req.socket.destroy();
      return;
    }
    const fwd = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (up) => {
        if (kind === 'dropAfter') {
          // Read the whole answer first: the upstream has finished the request.
          up.resume();
          up.once('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    fwd.on('error', (err) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`fault proxy: upstream ${upstream.host}: ${err.message}`);
    });
    req.pipe(fwd);
  };

  const server: Server = createServer(handle);
  server.requestTimeout = 0;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    counts,
    setFaults(f) {
      if (f.http503 + f.dropBefore + f.dropAfter > 1) throw new RangeError('fault proxy shares must add up to at most 1');
      faults = { ...f };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
