import type { IncomingMessage, ServerResponse } from 'node:http';
import { issueAuthCode } from './auth';
import type { EmulatorOptions } from './options';
import type { EmulatorState } from './state';

/*
 * TikTok's authorization page (`/portal/auth?app_id&state&redirect_uri`, digest §13.1), as
 * the emulator's signed-in user sees it: the app, the ad accounts it would reach, and
 * Confirm / Deny. Confirm redirects to the redirect URI with `auth_code` (and `code`) and
 * `state`; Deny with `error=access_denied` and `state` (TikTok's denial parameters are
 * unconfirmed; a client must not count on them). The redirect URI must be one registered for
 * the app, exactly; otherwise the page refuses and never redirects, as an authorization
 * server must not send a code to an address the app did not register.
 */

export const PORTAL_PATH = '/portal/auth';

export interface PortalServer {
  readonly state: EmulatorState;
  readonly opts: EmulatorOptions;
  markDirty(): void;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(res: ServerResponse, status: number, title: string, body: string): void {
  const doc = `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title></head><body><h1>${esc(title)}</h1>${body}</body></html>\n`;
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(doc), 'cache-control': 'no-store' });
  res.end(doc);
}

interface AuthRequest {
  appId: string;
  state: string;
  redirectUri: string;
}

/** The request's problem in words, or null when the app and its redirect URI are registered. */
function problemOf(s: PortalServer, r: Partial<AuthRequest>): string | null {
  if (!r.appId) return 'app_id is missing.';
  if (s.opts.apps[r.appId] === undefined) return `app_id ${r.appId} is not a registered app.`;
  if (!r.redirectUri) return 'redirect_uri is missing.';
  const registered = s.opts.redirectUris[r.appId] ?? [];
  if (!registered.includes(r.redirectUri))
    return `redirect_uri ${r.redirectUri} is not registered for app ${r.appId} (registered: ${registered.join(', ') || 'none'}).`;
  return null;
}

const grantedAdvertisers = (s: PortalServer): string[] =>
  s.opts.portalAdvertisers.length ? s.opts.portalAdvertisers : [...s.state.advertisers.keys()];

function redirect(res: ServerResponse, to: string, params: Record<string, string>): void {
  const u = new URL(to);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  res.writeHead(302, { location: u.toString(), 'cache-control': 'no-store' });
  res.end();
}

async function formBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > 64 * 1024) break;
    chunks.push(c);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function handlePortal(s: PortalServer, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method === 'GET') {
    const q = url.searchParams;
    const r: Partial<AuthRequest> = { appId: q.get('app_id') ?? undefined, state: q.get('state') ?? '', redirectUri: q.get('redirect_uri') ?? undefined };
    const problem = problemOf(s, r);
    if (problem) return page(res, 400, 'Authorization error', `<p id="error">${esc(problem)}</p>`);
    const ads = grantedAdvertisers(s);
    const list = ads.length
      ? `<ul id="advertisers">${ads.map((id) => `<li>${esc(id)} ${esc(s.state.advertisers.get(id)?.name ?? '')}</li>`).join('')}</ul>`
      : '<p id="advertisers">No ad accounts to authorize.</p>';
    const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${esc(value)}">`;
    return page(
      res,
      200,
      `Authorize ${r.appId}`,
      `<p>The app <b>${esc(r.appId!)}</b> asks to manage these ad accounts of the emulated TikTok for Business user:</p>${list}` +
        `<form method="post" action="${PORTAL_PATH}">${hidden('app_id', r.appId!)}${hidden('state', r.state!)}${hidden('redirect_uri', r.redirectUri!)}` +
        `<button type="submit" name="decision" value="confirm">Confirm</button> <button type="submit" name="decision" value="deny">Deny</button></form>`,
    );
  }
  if (req.method === 'POST') {
    const f = await formBody(req);
    const r: Partial<AuthRequest> = { appId: f.get('app_id') ?? undefined, state: f.get('state') ?? '', redirectUri: f.get('redirect_uri') ?? undefined };
    const problem = problemOf(s, r);
    if (problem) return page(res, 400, 'Authorization error', `<p id="error">${esc(problem)}</p>`);
    const state = r.state ?? '';
    if (f.get('decision') !== 'confirm')
      return redirect(res, r.redirectUri!, { error: 'access_denied', error_description: 'The user denied the authorization.', state });
    const code = issueAuthCode(s.state, r.appId!, grantedAdvertisers(s), s.opts.authCodeTtl);
    s.markDirty();
    return redirect(res, r.redirectUri!, { auth_code: code, code, state });
  }
  req.resume();
  res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, POST' });
  res.end('405 method not allowed');
}
