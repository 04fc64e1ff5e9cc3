import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request through the proxy, as the test sees it. */
export interface ProxiedRequest {
  /** 1-based, counted over every request through the proxy. */
  n: number;
  method: string;
  /** Path and query as sent (e.g. /open_api/v1.3/dmp/custom_audience/update/). */
  url: string;
  body: Buffer;
  /** Upstream's answer, when it was forwarded. */
  upstream?: { status: number; body: string };
}

/**
 * What to do with a request: forward it; hold it without forwarding (TikTok never saw it); or
 * forward it and hold the answer (TikTok applied it, the caller never learns). A held request
 * stays open until the caller goes away, e.g. because the test killed the worker.
 */
export type ProxyDecision = 'forward' | 'hold' | 'forward-then-hold';

export interface HoldingProxy {
  /** The proxy's URL with the upstream's path, e.g. http://127.0.0.1:PORT/open_api/v1.3. */
  baseUrl: string;
  /** Every request so far, in arrival order. */
  requests: ProxiedRequest[];
  /**
   * Holds the first request from now on that `match` accepts; resolves once it is held
   * (after the upstream answered, for forward-then-hold).
   */
  holdNext(match: (r: ProxiedRequest) => boolean, mode: 'hold' | 'forward-then-hold'): Promise<ProxiedRequest>;
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

/** A pass-through HTTP proxy in front of the TikTok emulator that can hold chosen requests. */
export async function startHoldingProxy(upstreamApiBaseUrl: string): Promise<HoldingProxy> {
  const upstream = new URL(upstreamApiBaseUrl);
  const requests: ProxiedRequest[] = [];
  let hold: { match: (r: ProxiedRequest) => boolean; mode: 'hold' | 'forward-then-hold'; held: (r: ProxiedRequest) => void } | undefined;

  const server: Server = createServer((req, res) => {
    void (async () => {
      const r: ProxiedRequest = { n: requests.length + 1, method: req.method ?? 'GET', url: req.url ?? '/', body: await bodyOf(req) };
      requests.push(r);
      let decision: ProxyDecision = 'forward';
      const h = hold;
      if (h && h.match(r)) {
        hold = undefined;
        decision = h.mode;
      }
      const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
      if (decision === 'hold') {
        h!.held(r);
        return closed;
      }
      const headers: Record<string, string> = {};
      for (const name of ['content-type', 'access-token']) {
        const v = req.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
      const up = await fetch(`${upstream.origin}${r.url}`, { method: r.method, headers, ...(r.body.length ? { body: r.body } : {}) });
      const text = await up.text();
      r.upstream = { status: up.status, body: text };
      if (decision === 'forward-then-hold') {
        h!.held(r);
        return closed;
      }
      res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' });
      res.end(text);
    })().catch((err: unknown) => {
      if (res.headersSent) return res.destroy();
      res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    baseUrl: `http://127.0.0.1:${port}${upstream.pathname.replace(/\/+$/, '')}`,
    requests,
    holdNext: (match, mode) => new Promise((held) => (hold = { match, mode, held })),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
