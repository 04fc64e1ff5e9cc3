import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { authorizeUrl, defaultAuthorizeBase, listenForRedirect, OAuthError, parseRedirectUri, type RedirectTarget } from '../../../src/tiktok/oauth';

describe('OAuth parts', () => {
  it("the authorization page is /portal/auth on the API's host: TikTok's for production", () => {
    expect(defaultAuthorizeBase('https://business-api.tiktok.com/open_api/v1.3')).toBe('https://business-api.tiktok.com/portal/auth');
    const u = new URL(authorizeUrl('https://business-api.tiktok.com/portal/auth', { appId: '71', state: 's t', redirectUri: 'http://127.0.0.1:8788/cb?x=1' }));
    expect(Object.fromEntries(u.searchParams)).toEqual({ app_id: '71', state: 's t', redirect_uri: 'http://127.0.0.1:8788/cb?x=1' });
  });

  it('redirect URIs: http only, loopback told apart, port 80 by default', () => {
    expect(parseRedirectUri('http://127.0.0.1:8788/callback')).toMatchObject({ port: 8788, loopback: true });
    expect(parseRedirectUri('http://localhost/cb')).toMatchObject({ port: 80, loopback: true });
    expect(parseRedirectUri('http://[::1]:9000/cb')).toMatchObject({ port: 9000, loopback: true });
    expect(parseRedirectUri('http://ttsync.example.com:8788/cb')).toMatchObject({ loopback: false });
    expect(parseRedirectUri('https://127.0.0.1:8788/cb')).toMatch(/plain HTTP/);
    expect(parseRedirectUri('not a url')).toMatch(/is not a URL/);
    expect(parseRedirectUri('http://127.0.0.1:8788/cb#x')).toMatch(/fragment/);
  });

  it('localhost: the redirect is received on the path, other paths get 404, and the browser gets the result page', async () => {
    // A free port of 127.0.0.1 (port 0 would give each address of localhost another port).
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    await new Promise((r) => s.close(r));
    const pending = await listenForRedirect(parseRedirectUri(`http://localhost:${port}/cb`) as RedirectTarget, 'the-state', 60_000);
    expect((await fetch(`http://127.0.0.1:${port}/favicon.ico`)).status).toBe(404);
    const answer = fetch(`http://127.0.0.1:${port}/cb?code=c1&state=the-state`);
    await expect(pending.code).resolves.toEqual({ authCode: 'c1' });
    await pending.finish({ ok: true, title: 'done', text: 'closed' });
    const res = await answer;
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toContain('data-ok="true"');
  });

  it('times out with a readable error', async () => {
    const target = parseRedirectUri('http://127.0.0.1:0/cb') as RedirectTarget;
    const pending = await listenForRedirect(target, 's', 50);
    const e = await pending.code.catch((err: unknown) => err as OAuthError);
    expect(e).toBeInstanceOf(OAuthError);
    expect((e as OAuthError).reason).toBe('timeout');
    await pending.close();
  });
});
