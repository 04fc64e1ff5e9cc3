import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningEmulator } from '../../../src/emulator';
import { BIN, ROOT } from '../../helpers/cli';
import { clientFor, emulatorFor } from './helpers';

/*
 * `ttsync auth connect` and `ttsync auth events-token` as a user runs them: the compiled CLI
 * in a child process against the emulator over HTTP, and TikTok's authorization page clicked
 * in headless Chromium (Debian's package, driven by playwright-core, which never downloads a
 * browser). Expected roles and tokens come from the emulator's own controls, never from the
 * code under test.
 */

const CHROMIUM = process.env.TTSYNC_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const WAIT_MS = 90_000;
const APP = 'auth-test-app';
const SECRET = 'auth-test-app-secret-0001';
const REQUIREMENT = /Ad Account Operator or Ad Account Admin/;

let emu: RunningEmulator;
let context: BrowserContext;
let profileDir: string;
const dir = mkdtempSync(join(tmpdir(), 'ttsync-auth-'));
let advertiserSeq = 0;
const newAdvertiser = () => `74${String(Date.now()).slice(-9)}${String(++advertiserSeq).padStart(6, '0')}`;

beforeAll(async () => {
  emu = await emulatorFor({ apps: { [APP]: SECRET } });
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap, which installs Debian's chromium`);
  profileDir = mkdtempSync(join(tmpdir(), 'ttsync-auth-chromium-'));
  context = await chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  context.setDefaultTimeout(WAIT_MS);
  context.setDefaultNavigationTimeout(WAIT_MS);
}, 180_000);
afterAll(async () => {
  await context?.close();
  await emu?.close();
  rmSync(profileDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

interface Run {
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
  kill: () => void;
}

/** The compiled CLI, without blocking this process (the emulator answers from here). */
function ttsync(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, TIKTOK_API_BASE_URL: emu.apiBaseUrl, TIKTOK_QPS: '1000', APP_SECRET: SECRET, ...opts.env },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.end(opts.input ?? '');
  const exit = new Promise<number | null>((res) => child.once('close', res));
  const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
  void exit.then(() => clearTimeout(timer));
  return { stdout: () => out, stderr: () => err, exit, kill: () => child.kill('SIGKILL') };
}

async function printedUrl(run: Run): Promise<string> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const m = /(http:\/\/\S+\/portal\/auth\?\S+)/.exec(run.stderr());
    if (m) return m[1]!;
    const settled = await Promise.race([run.exit.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);
    if (settled || Date.now() > deadline) throw new Error(`no authorization URL printed:\n${run.stdout()}\n${run.stderr()}`);
  }
}

/** A redirect URI on a free loopback port, registered for the app like a user does in TikTok's portal. */
async function registeredRedirect(): Promise<string> {
  const uri = `http://127.0.0.1:${await freePort()}/callback`;
  emu.control.registerApp(APP, { redirectUris: [uri] });
  return uri;
}

const connectArgs = (redirectUri: string, tokenFile: string, extra: string[] = []) => [
  'auth',
  'connect',
  '--app-id',
  APP,
  '--app-secret-ref',
  'env:APP_SECRET',
  '--redirect-uri',
  redirectUri,
  '--token-ref',
  `file:${tokenFile}`,
  '--timeout',
  '2m',
  ...extra,
];

/** Opens the printed URL, clicks `button` on TikTok's (emulated) page, and returns the text of the page the browser lands on. */
async function clickThrough(url: string, button: 'Confirm' | 'Deny'): Promise<string> {
  const page = await context.newPage();
  try {
    await page.goto(url);
    await page.getByRole('button', { name: button }).click();
    await page.locator('#result').waitFor();
    return await page.locator('body').innerText();
  } finally {
    await page.close();
  }
}

const tokenIssuedLast = (): string => {
  const all = [...emu.state.tokens.values()].filter((t) => t.appId === APP);
  return all.sort((a, b) => a.createdAt - b.createdAt).at(-1)!.token;
};

describe('ttsync auth connect', () => {
  it('Confirm in the browser stores a working token (0600, never printed); a role read as Admin is ok, an ad account outside any Business Center is "role unverified" with the requirement', async () => {
    const admin = newAdvertiser();
    const outside = newAdvertiser();
    emu.control.setPortalAdvertisers([admin, outside]);
    emu.control.setRoles({ [admin]: 'ADMIN' });
    const redirectUri = await registeredRedirect();
    const tokenFile = join(dir, 'confirm', 'tiktok-token');
    const run = ttsync([...connectArgs(redirectUri, tokenFile), '--json']);
    const url = await printedUrl(run);
    expect(url.startsWith(`${emu.url}/portal/auth?`)).toBe(true);
    const q = new URL(url).searchParams;
    expect(q.get('app_id')).toBe(APP);
    expect(q.get('redirect_uri')).toBe(redirectUri);
    expect(q.get('state')!.length).toBeGreaterThanOrEqual(20);

    const landed = await clickThrough(url, 'Confirm');
    expect(landed).toContain('ttsync is connected to TikTok');
    expect(await run.exit, run.stderr()).toBe(0);

    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toBe(tokenIssuedLast());
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    for (const text of [run.stdout(), run.stderr(), landed]) expect(text).not.toContain(token);
    // The token works: TikTok (the emulator) accepts it for both ad accounts.
    const info = await clientFor(emu, token).getAdvertiserInfo([admin, outside]);
    expect(info.map((a) => a.advertiser_id).sort()).toEqual([admin, outside].sort());

    const result = JSON.parse(run.stdout().trim()) as { ok: boolean; tokenStored: boolean; advertisers: Array<{ advertiserId: string; role: string | null; verdict: string; message: string }> };
    expect(result).toMatchObject({ ok: true, tokenStored: true });
    const byId = new Map(result.advertisers.map((a) => [a.advertiserId, a]));
    expect(byId.get(admin)).toMatchObject({ role: 'ADMIN', verdict: 'ok' });
    expect(byId.get(outside)).toMatchObject({ role: null, verdict: 'unverified' });
    expect(byId.get(outside)!.message).toMatch(/^role unverified/);
  }, 240_000);

  it('the human summary names the unverified role with the requirement', async () => {
    const outside = newAdvertiser();
    emu.control.setPortalAdvertisers([outside]);
    const redirectUri = await registeredRedirect();
    const tokenFile = join(dir, 'human', 'tiktok-token');
    const run = ttsync(connectArgs(redirectUri, tokenFile));
    await clickThrough(await printedUrl(run), 'Confirm');
    expect(await run.exit, run.stderr()).toBe(0);
    const line = run.stdout().split('\n').find((l) => l.includes(outside))!;
    expect(line).toMatch(/role unverified/);
    expect(line).toMatch(REQUIREMENT);
    expect(run.stdout()).toContain(`token stored in ${tokenFile} (mode 0600)`);
  }, 240_000);

  it('a role read as Analyst is refused with the advice; nothing is stored', async () => {
    const operator = newAdvertiser();
    const analyst = newAdvertiser();
    emu.control.setPortalAdvertisers([operator, analyst]);
    emu.control.setRoles({ [operator]: 'OPERATOR', [analyst]: 'ANALYST' });
    const redirectUri = await registeredRedirect();
    const tokenFile = join(dir, 'analyst', 'tiktok-token');
    const run = ttsync(connectArgs(redirectUri, tokenFile));
    const landed = await clickThrough(await printedUrl(run), 'Confirm');
    expect(landed).toContain('ttsync refused the authorization');
    expect(await run.exit).toBe(1);
    expect(existsSync(tokenFile)).toBe(false);
    const out = run.stdout();
    expect(out.split('\n').find((l) => l.includes(operator))).toMatch(/role Ad Account Operator .*: ok$/);
    expect(out.split('\n').find((l) => l.includes(analyst))).toMatch(/role Ad Account Analyst .*REFUSED/);
    expect(out).toMatch(/^advice: .*signed in as a TikTok user who holds Ad Account Operator or Ad Account Admin/m);
    expect(run.stderr()).toMatch(/authorization refused: advertiser \d+ has role Ad Account Analyst/);
    expect(run.stdout() + run.stderr()).not.toContain(tokenIssuedLast());
  }, 240_000);

  it('--advertiser limits the check to the ad accounts ttsync will use: the analyst one left out, the token is stored', async () => {
    const operator = newAdvertiser();
    const analyst = newAdvertiser();
    emu.control.setPortalAdvertisers([operator, analyst]);
    emu.control.setRoles({ [operator]: 'OPERATOR', [analyst]: 'ANALYST' });
    const redirectUri = await registeredRedirect();
    const tokenFile = join(dir, 'limited', 'tiktok-token');
    const run = ttsync([...connectArgs(redirectUri, tokenFile, ['--advertiser', operator]), '--json']);
    await clickThrough(await printedUrl(run), 'Confirm');
    expect(await run.exit, run.stderr()).toBe(0);
    const result = JSON.parse(run.stdout().trim()) as { advertisers: Array<{ advertiserId: string; verdict: string }> };
    expect(result.advertisers).toEqual([expect.objectContaining({ advertiserId: operator, verdict: 'ok' })]);
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(tokenIssuedLast());
  }, 240_000);

  it('Deny in the browser: exit 1, nothing exchanged or stored', async () => {
    emu.control.setPortalAdvertisers([newAdvertiser()]);
    const redirectUri = await registeredRedirect();
    const tokenFile = join(dir, 'deny', 'tiktok-token');
    const tokensBefore = emu.state.tokens.size;
    const run = ttsync(connectArgs(redirectUri, tokenFile));
    const landed = await clickThrough(await printedUrl(run), 'Deny');
    expect(landed).toContain('Authorization not granted');
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/the authorization was not granted in the browser \(access_denied/);
    expect(existsSync(tokenFile)).toBe(false);
    expect(emu.state.tokens.size).toBe(tokensBefore);
  }, 240_000);

  it('a redirect with another state (CSRF, stale tab) is refused before any exchange', async () => {
    const advertiser = newAdvertiser();
    emu.control.setPortalAdvertisers([advertiser]);
    const redirectUri = await registeredRedirect();
    const tokenFile = join(dir, 'state', 'tiktok-token');
    const run = ttsync(connectArgs(redirectUri, tokenFile));
    await printedUrl(run);
    // A valid code, delivered with a state this run did not make.
    const code = emu.control.issueAuthCode([advertiser], { appId: APP });
    const res = await fetch(`${redirectUri}?auth_code=${code}&code=${code}&state=forged-state-value`);
    expect(res.status).toBe(400);
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/state that does not match this authorization/);
    expect(existsSync(tokenFile)).toBe(false);
    expect(emu.state.authCodes.get(code)!.used).toBe(false);
  }, 240_000);

  it('the authorization page refuses a redirect URI not registered for the app, and never redirects', async () => {
    await registeredRedirect();
    const res = await fetch(`${emu.url}/portal/auth?app_id=${APP}&state=s&redirect_uri=${encodeURIComponent('http://127.0.0.1:1/elsewhere')}`, { redirect: 'manual' });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('is not registered for app');
    const post = await fetch(`${emu.url}/portal/auth`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ app_id: APP, state: 's', redirect_uri: 'http://127.0.0.1:1/elsewhere', decision: 'confirm' }).toString(),
    });
    expect(post.status).toBe(400);
    expect(post.headers.get('location')).toBeNull();
  });

  const lanAddress = Object.values(networkInterfaces())
    .flat()
    .find((a) => a && a.family === 'IPv4' && !a.internal)?.address;
  it.skipIf(!lanAddress)('a redirect URI on a non-loopback address: a warning, and the server listens there', async () => {
    const redirectUri = `http://${lanAddress}:${await freePort()}/callback`;
    emu.control.registerApp(APP, { redirectUris: [redirectUri] });
    const run = ttsync(connectArgs(redirectUri, join(dir, 'lan', 't')));
    await printedUrl(run);
    expect(run.stderr()).toContain(`warning: ${lanAddress} is not a loopback address`);
    // The server answers on that address; a forged redirect ends the run.
    expect((await fetch(`${redirectUri}?auth_code=x&state=forged`)).status).toBe(400);
    expect(await run.exit).toBe(1);
  }, 60_000);

  it('port in use: a clear error naming the port, exit 1', async () => {
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const run = ttsync(connectArgs(`http://127.0.0.1:${port}/callback`, join(dir, 'busy', 't')));
      expect(await run.exit).toBe(1);
      expect(run.stderr()).toContain(`port ${port} on 127.0.0.1 is in use by another program`);
    } finally {
      await new Promise((r) => busy.close(r));
    }
  }, 60_000);

  it('bad references and URIs are usage errors (exit 2) that never echo a pasted secret', async () => {
    const pasted = 'sk-this-looks-like-a-real-secret-123';
    const a = ttsync(['auth', 'connect', '--app-id', APP, '--app-secret-ref', pasted, '--redirect-uri', 'http://127.0.0.1:8788/cb', '--token-ref', 'file:/tmp/x']);
    expect(await a.exit).toBe(2);
    expect(a.stderr()).toContain('--app-secret-ref must be a reference');
    expect(a.stderr()).not.toContain(pasted);
    const b = ttsync(connectArgs('https://127.0.0.1:8788/cb', join(dir, 'x')));
    expect(await b.exit).toBe(2);
    expect(b.stderr()).toContain('plain HTTP');
    const c = ttsync(['auth', 'connect', '--app-id', APP, '--app-secret-ref', 'env:APP_SECRET', '--redirect-uri', 'http://127.0.0.1:8788/cb', '--token-ref', 'env:TOKEN']);
    expect(await c.exit).toBe(2);
    expect(c.stderr()).toContain('--token-ref must be file:');
  }, 60_000);
});

describe('ttsync auth events-token', () => {
  const eventsOf = async (sourceId: string) => {
    const r = (await (await fetch(`${emu.url}/_emulator/events?limit=100000`)).json()) as { events: Array<{ eventSource: string; eventSourceId: string; testEventCode: string | null; eventId: string | null }> };
    return r.events.filter((e) => e.eventSourceId === sourceId);
  };

  it('an Events Manager token and an offline event set token: each proved by one test event carrying the code, stored 0600, never printed', async () => {
    const advertiser = newAdvertiser();
    const cases = [
      { args: ['--kind', 'events-manager', '--event-source-id', `PIXEL${advertiser}`], source: 'web', id: `PIXEL${advertiser}` },
      { args: ['--kind', 'offline', '--event-set-id', `SET${advertiser}`], source: 'offline', id: `SET${advertiser}` },
    ];
    for (const c of cases) {
      const token = emu.control.issueToken([advertiser], { appId: APP });
      const tokenFile = join(dir, 'events', `${c.source}-token`);
      const run = ttsync(['auth', 'events-token', ...c.args, '--test-event-code', 'TEST42', '--token-ref', `file:${tokenFile}`, '--json'], { input: `${token}\n` });
      expect(await run.exit, run.stderr()).toBe(0);
      expect(readFileSync(tokenFile, 'utf8').trim()).toBe(token);
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      expect(run.stdout() + run.stderr()).not.toContain(token);
      const events = await eventsOf(c.id);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ eventSource: c.source, testEventCode: 'TEST42' });
      expect(JSON.parse(run.stdout().trim())).toMatchObject({ ok: true, eventSourceId: c.id, testEvent: { testEventCode: 'TEST42', eventId: events[0]!.eventId } });
    }
  }, 120_000);

  it('a token TikTok refuses is not stored, and no event without a test code is ever sent', async () => {
    const advertiser = newAdvertiser();
    const token = emu.control.issueToken([advertiser], { appId: APP });
    emu.control.revokeToken(token);
    const tokenFile = join(dir, 'events', 'revoked-token');
    const run = ttsync(['auth', 'events-token', '--kind', 'events-manager', '--event-source-id', `PX${advertiser}`, '--test-event-code', 'TEST7', '--token-ref', `file:${tokenFile}`], {
      input: token,
    });
    expect(await run.exit).toBe(1);
    expect(run.stderr()).toMatch(/TikTok refused the test event, so the token was not stored: .*code 40105/);
    expect(run.stderr()).not.toContain(token);
    expect(existsSync(tokenFile)).toBe(false);
    const missingCode = ttsync(['auth', 'events-token', '--kind', 'offline', '--event-set-id', 'S1', '--token-ref', `file:${tokenFile}`], { input: token });
    expect(await missingCode.exit).toBe(2);
    // Every event this file's checks sent carries a test code.
    const all = (await (await fetch(`${emu.url}/_emulator/events?limit=100000`)).json()) as { events: Array<{ testEventCode: string | null }> };
    expect(all.events.filter((e) => !e.testEventCode)).toEqual([]);
  }, 120_000);
});
