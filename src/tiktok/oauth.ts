import { randomBytes, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

/*
 * The browser half of TikTok's Marketing API OAuth (digest §13): the authorization URL the
 * user opens, and the one-shot HTTP server on the app's registered redirect URI that receives
 * TikTok's redirect with `auth_code` and `state`. The exchange itself is the client's
 * exchangeAuthCode.
 */

/**
 * TikTok's authorization page for an API base: `https://business-api.tiktok.com/portal/auth`
 * for the production API, the emulator's own page for the emulator.
 */
export function defaultAuthorizeBase(apiBaseUrl: string): string {
  return `${new URL(apiBaseUrl).origin}/portal/auth`;
}

export function authorizeUrl(base: string, req: { appId: string; state: string; redirectUri: string }): string {
  const u = new URL(base);
  u.searchParams.set('app_id', req.appId);
  u.searchParams.set('state', req.state);
  u.searchParams.set('redirect_uri', req.redirectUri);
  return u.toString();
}

/** An unguessable state for one authorization: the redirect must carry it back (CSRF). */
export const newOAuthState = (): string => randomBytes(24).toString('base64url');

export class OAuthError extends Error {
  override name = 'OAuthError';
  constructor(
    readonly reason: 'denied' | 'wrong_state' | 'no_code' | 'timeout' | 'port_busy' | 'listen_failed',
    message: string,
  ) {
    super(message);
  }
}

export interface RedirectTarget {
  /** http://host:port/path as registered for the app. */
  uri: URL;
  port: number;
  /** Whether the host is this machine's loopback (the code never crosses a network). */
  loopback: boolean;
}

const LOOPBACK = /^(localhost|127(?:\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** Reads a redirect URI the callback server can serve; a problem in words otherwise. */
export function parseRedirectUri(text: string): RedirectTarget | string {
  let uri: URL;
  try {
    uri = new URL(text);
  } catch {
    return `--redirect-uri "${text}" is not a URL`;
  }
  if (uri.protocol === 'https:')
    return `--redirect-uri ${text}: ttsync's callback server speaks plain HTTP on this machine; register an http://127.0.0.1:<port>/<path> (or localhost) redirect URI for the app and give that`;
  if (uri.protocol !== 'http:') return `--redirect-uri ${text}: must be an http:// URL registered for the app`;
  if (uri.username || uri.password) return `--redirect-uri ${text}: must not carry credentials`;
  if (uri.hash) return `--redirect-uri ${text}: must not have a #fragment (TikTok appends the code to the query)`;
  const port = uri.port ? Number(uri.port) : 80;
  return { uri, port, loopback: LOOPBACK.test(uri.hostname) };
}

export interface RedirectParams {
  authCode: string;
}

export interface PendingRedirect {
  /** The authorization URL's redirect target is listening: resolves with the code once TikTok redirects. */
  code: Promise<RedirectParams>;
  /** Answers the browser that brought the code (the result page), then stops listening. */
  finish(page: { ok: boolean; title: string; text: string }): Promise<void>;
  /** Stops listening without an answer (errors, Ctrl-C). */
  close(): Promise<void>;
}

const html = (title: string, text: string, ok: boolean) => {
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1 id="result" data-ok="${ok}">${esc(title)}</h1><p id="detail">${esc(text)}</p></body></html>\n`;
};

function send(res: ServerResponse, status: number, title: string, text: string, ok = false): void {
  const body = html(title, text, ok);
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    // The page sits on a URL with the code in it: never cache it, never send it on as a referrer.
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
  });
  res.end(body);
}

const sameState = (a: string, b: string): boolean => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

/**
 * Listens on the redirect URI's host and port (every address the host name resolves to) and
 * waits for TikTok's redirect to its path. Other paths get a 404 and the wait goes on (a
 * browser asks for /favicon.ico). The first redirect decides: a wrong `state` (a forged or
 * stale redirect) or a denial ends the wait with an OAuthError, and no code is exchanged.
 */
export async function listenForRedirect(target: RedirectTarget, state: string, timeoutMs: number): Promise<PendingRedirect> {
  const hostname = target.uri.hostname.replace(/^\[|\]$/g, '');
  const addresses = [...new Set((await lookup(hostname, { all: true })).map((a) => a.address))];
  let settle: { resolve: (p: RedirectParams) => void; reject: (e: Error) => void } | undefined;
  const code = new Promise<RedirectParams>((resolve, reject) => (settle = { resolve, reject }));
  // The caller may fail before awaiting the code; the rejection is theirs to read, not unhandled.
  code.catch(() => undefined);
  let decided = false;
  let held: ServerResponse | undefined;

  const decide = (fn: () => void) => {
    if (decided) return;
    decided = true;
    clearTimeout(timer);
    fn();
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://callback');
    if (url.pathname !== target.uri.pathname) return send(res, 404, 'Not found', `This server only answers ${target.uri.pathname}.`);
    if (decided) return send(res, 409, 'Already handled', 'ttsync has already received a redirect for this authorization; start ttsync auth connect again for another.');
    const q = url.searchParams;
    const gotState = q.get('state') ?? '';
    if (!sameState(gotState, state)) {
      send(res, 400, 'Authorization refused by ttsync', 'The redirect does not carry the state of this authorization (a stale tab, or a forged link). Nothing was exchanged.');
      return decide(() =>
        settle!.reject(
          new OAuthError('wrong_state', 'the redirect carried a state that does not match this authorization (a stale browser tab or a forged link): nothing was exchanged; run ttsync auth connect again and use the URL it prints'),
        ),
      );
    }
    const authCode = q.get('auth_code') || q.get('code');
    if (!authCode) {
      const error = q.get('error') ?? q.get('error_type');
      const description = q.get('error_description') ?? q.get('error_msg');
      send(res, 200, 'Authorization not granted', 'TikTok did not grant access; nothing was stored. You can close this tab.');
      return decide(() =>
        settle!.reject(
          error || description
            ? new OAuthError('denied', `the authorization was not granted in the browser (${[error, description].filter(Boolean).join(': ')}); nothing was stored`)
            : new OAuthError('no_code', 'TikTok redirected without an auth_code; nothing was stored'),
        ),
      );
    }
    held = res;
    decide(() => settle!.resolve({ authCode }));
  };

  const servers: Server[] = [];
  const closeAll = async () => {
    clearTimeout(timer);
    await Promise.all(
      servers.map(
        (s) =>
          new Promise<void>((r) => {
            s.close(() => r());
            s.closeAllConnections();
          }),
      ),
    );
  };
  const timer = setTimeout(
    () =>
      decide(() =>
        settle!.reject(new OAuthError('timeout', `no redirect from TikTok within ${Math.round(timeoutMs / 1000)} s: open the printed URL, confirm, and let the browser come back to ${target.uri.href}; or run again with a longer --timeout`)),
      ),
    timeoutMs,
  );
  timer.unref();
  try {
    for (const address of addresses) {
      const s = createServer(handle);
      try {
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(target.port, address, () => {
            s.off('error', reject);
            resolve();
          });
        });
        servers.push(s);
      } catch (err) {
        // `localhost` may name an IPv6 address this machine cannot bind; the others serve.
        const code = (err as NodeJS.ErrnoException).code;
        if (addresses.length > 1 && (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT')) continue;
        throw err;
      }
    }
    if (!servers.length) throw Object.assign(new Error('no address to listen on'), { code: 'EADDRNOTAVAIL' });
  } catch (err) {
    await closeAll();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE')
      throw new OAuthError('port_busy', `port ${target.port} on ${hostname} is in use by another program: stop it, or register another redirect URI for the app (another port) and give that as --redirect-uri`);
    if (e.code === 'EACCES')
      throw new OAuthError('listen_failed', `not allowed to listen on port ${target.port} of ${hostname} (ports below 1024 need privileges): register a redirect URI with a higher port`);
    throw new OAuthError('listen_failed', `cannot listen on ${hostname}:${target.port} (${e.code ?? e.message}): the redirect URI's host must be an address of this machine`);
  }

  return {
    code,
    finish: async (page) => {
      if (held && !held.writableEnded) send(held, 200, page.title, page.text, page.ok);
      await closeAll();
    },
    close: async () => {
      decide(() => settle!.reject(new OAuthError('timeout', 'stopped before TikTok redirected')));
      if (held && !held.writableEnded) send(held, 500, 'Stopped', 'ttsync stopped before finishing; nothing was stored.');
      await closeAll();
    },
  };
}
