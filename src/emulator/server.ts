import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getAdgroups, getCampaigns, STATUS_CHANGING_PATHS, statusChange } from './adStructure';
import { checkScope, accessToken, advertiserInfo, authorizedAdvertisers, revokeToken, userInfo } from './auth';
import {
  createAudience,
  deleteAudiences,
  getAudiences,
  listAudiences,
  segmentAudience,
  segmentMapping,
  updateAudience,
  uploadFile,
} from './audiences';
import { ApiError, type Body, type Ctx } from './context';
import { EmulatorControl } from './control';
import { bcAssets, businessCenters } from './businessCenter';
import { trackEvents } from './events';
import { PORTAL_PATH, handlePortal } from './portal';
import { FaultInjector } from './faults';
import type { EmulatorOptions } from './options';
import { Population } from './population';
import { RateLimits, type Bucket } from './rateLimits';
import { integratedReport } from './report';
import { sparseAnswer } from './sparse';
import type { CallOutcome, EmulatorState } from './state';

export const API_PREFIX = '/open_api/v1.3/';

interface Route {
  method: 'GET' | 'POST';
  auth: boolean;
  bucket: Bucket;
  multipart?: boolean;
  handler: (ctx: Ctx) => unknown;
}

const MAX_JSON_BYTES = 20 * 1024 * 1024;

export function requestId(now: number): string {
  const t = new Date(now).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${t}${randomBytes(5).toString('hex').toUpperCase()}`;
}

async function readBody(req: IncomingMessage): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_JSON_BYTES) return 'too-large';
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The HTTP face of the emulator: routes under /open_api/v1.3/ (trailing slash, as TikTok),
 * per-app rate limits, fault injection, auth, and /_emulator/ for inspection and control.
 */
export class EmulatorServer {
  readonly http: Server;
  readonly population: Population;
  readonly limits: RateLimits;
  readonly faults: FaultInjector;
  readonly control: EmulatorControl;
  private readonly routes: Map<string, Route>;
  private saveTimer: NodeJS.Timeout | undefined;
  private dirty = false;

  constructor(
    readonly state: EmulatorState,
    readonly opts: EmulatorOptions,
  ) {
    this.population = new Population(opts.matchRate, opts.populationSeed);
    this.limits = new RateLimits(opts.rateLimits);
    this.faults = new FaultInjector(opts.faults);
    this.control = new EmulatorControl(this);
    const pop = this.population;
    const r = (method: Route['method'], auth: boolean, handler: Route['handler'], extra: Partial<Route> = {}): Route => ({
      method,
      auth,
      bucket: 'default',
      handler,
      ...extra,
    });
    this.routes = new Map<string, Route>([
      ['oauth2/access_token/', r('POST', false, accessToken)],
      ['oauth2/revoke_token/', r('POST', false, revokeToken)],
      ['oauth2/advertiser/get/', r('GET', true, authorizedAdvertisers)],
      ['advertiser/info/', r('GET', true, advertiserInfo)],
      ['user/info/', r('GET', true, userInfo)],
      ['bc/get/', r('GET', true, businessCenters)],
      ['bc/asset/get/', r('GET', true, bcAssets)],
      ['dmp/custom_audience/file/upload/', r('POST', true, uploadFile, { multipart: true })],
      ['dmp/custom_audience/create/', r('POST', true, (c) => createAudience(c, pop))],
      ['dmp/custom_audience/update/', r('POST', true, (c) => updateAudience(c, pop))],
      ['dmp/custom_audience/list/', r('GET', true, listAudiences)],
      ['dmp/custom_audience/get/', r('GET', true, getAudiences)],
      ['dmp/custom_audience/delete/', r('POST', true, deleteAudiences)],
      ['segment/audience/', r('POST', true, segmentAudience, { bucket: 'segment' })],
      ['segment/mapping/', r('POST', true, (c) => segmentMapping(c, pop), { bucket: 'segment' })],
      ['event/track/', r('POST', true, trackEvents, { bucket: 'events' })],
      ['report/integrated/get/', r('GET', true, integratedReport)],
      ['campaign/get/', r('GET', true, getCampaigns)],
      ['adgroup/get/', r('GET', true, getAdgroups)],
      ...STATUS_CHANGING_PATHS.map((p): [string, Route] => [p, r('POST', true, statusChange(p))]),
    ]);
    this.http = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`emulator error: ${(err as Error).message}`);
        } else res.destroy();
      });
    });
    // Uploads of 50 MB over a slow loopback must not be cut by the default timeouts.
    this.http.requestTimeout = 0;
  }

  markDirty = (): void => {
    if (!this.opts.stateFile) return;
    this.dirty = true;
    this.saveTimer ??= setTimeout(() => {
      this.saveTimer = undefined;
      try {
        this.saveNow();
      } catch (err) {
        // A full disk must not take the emulator down mid dry run; the next change retries.
        this.dirty = true;
        process.stderr.write(`[emulator] could not save state to ${this.opts.stateFile}: ${(err as Error).message}\n`);
      }
    }, 500);
  };

  saveNow(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.opts.stateFile || !this.dirty) return;
    this.dirty = false;
    this.state.save(this.opts.stateFile);
  }

  private log(
    method: string,
    path: string,
    appId: string | null,
    t0: number,
    outcome: CallOutcome,
    httpStatus: number | null,
    code: number | null,
    rid: string | null,
    addedLatencyMs = 0,
  ): void {
    const st = this.state;
    st.counters.calls++;
    st.counters.byOutcome[outcome] = (st.counters.byOutcome[outcome] ?? 0) + 1;
    st.calls.push({
      seq: st.nextCallSeq++,
      at: new Date().toISOString(),
      method,
      path,
      appId,
      httpStatus,
      code,
      outcome,
      latencyMs: Math.round(performance.now() - t0),
      requestId: rid,
      addedLatencyMs,
    });
    if (st.calls.length > this.opts.callLogLimit) st.calls.splice(0, st.calls.length - this.opts.callLogLimit);
  }

  private envelope(res: ServerResponse, rel: string, code: number, message: string, data: unknown, rid: string): void {
    const answer = { code, message, request_id: rid, data: data ?? {} };
    const body = JSON.stringify(this.opts.sparseAnswers ? sparseAnswer(rel, answer) : answer);
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    // When the request arrived, before its body is read: what the rate limit counts.
    const arrived = Date.now();
    const url = new URL(req.url ?? '/', 'http://emulator');
    if (url.pathname.startsWith('/_emulator/')) return this.control.handle(req, res, url);
    if (url.pathname === PORTAL_PATH) return handlePortal(this, req, res, url);

    const method = req.method ?? 'GET';
    const rel = url.pathname.startsWith(API_PREFIX) ? url.pathname.slice(API_PREFIX.length) : undefined;
    const route = rel !== undefined ? this.routes.get(rel) : undefined;
    if (!route || rel === undefined) {
      req.resume();
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('404 page not found');
      this.log(method, url.pathname, null, t0, 'not_found', 404, null, null);
      return;
    }
    if (method !== route.method) {
      req.resume();
      res.writeHead(405, { 'content-type': 'text/plain', allow: route.method });
      res.end('405 method not allowed');
      this.log(method, rel, null, t0, 'not_found', 405, null, null);
      return;
    }

    const now = Date.now();
    const rid = requestId(now);
    let body: Body = {};
    let badJson = false;
    if (method === 'POST' && !route.multipart) {
      const raw = await readBody(req);
      if (raw === 'too-large') badJson = true;
      else if (raw.length) {
        try {
          const parsed = JSON.parse(raw.toString('utf8')) as unknown;
          if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Body;
          else badJson = true;
        } catch {
          badJson = true;
        }
      }
    }
    const header = req.headers['access-token'];
    const tokenValue = Array.isArray(header) ? header[0] : header;
    const token = tokenValue ? this.state.tokens.get(tokenValue) : undefined;
    const appId =
      token?.appId ??
      (typeof body.app_id === 'string' ? body.app_id : undefined) ??
      url.searchParams.get('app_id') ??
      null;

    let dropAnswer = false;
    const finish = (code: number, message: string, data: unknown, outcome: CallOutcome, added = 0) => {
      if (route.multipart) req.resume();
      if (dropAnswer) {
        // The request was handled (an edit took effect); the caller never learns it.
        this.log(method, rel, appId, t0, 'injected_drop_after', null, code, rid, added);
        req.socket.destroy();
        return;
      }
      this.envelope(res, rel, code, message, data, rid);
      this.log(method, rel, appId, t0, outcome, 200, code, rid, added);
    };

    const hit = this.limits.admit(appId ?? 'anonymous', route.bucket, arrived);
    if (hit) {
      return finish(
        40100,
        hit === 'QPS' ? 'App reaches the QPS limit.' : 'App reaches the QPM limit. Please retry in some time.',
        {},
        'rate_limited',
      );
    }
    const fault = this.faults.draw(rel);
    if (fault.latencyMs) {
      this.state.counters.slowAnswers++;
      await sleep(fault.latencyMs);
    }
    switch (fault.kind) {
      case 'throttle':
        return finish(40100, 'Too many requests. Please retry in some time.', {}, 'injected_throttle', fault.latencyMs);
      case 'error':
        return finish(50000, 'System error, please try again later.', {}, 'injected_error', fault.latencyMs);
      case 'http503': {
        if (route.multipart) req.resume();
        const b = JSON.stringify({ error: { message: 'Service Unavailable' } });
        res.writeHead(503, { 'content-type': 'application/json' });
        res.end(b);
        this.log(method, rel, appId, t0, 'injected_http503', 503, null, null, fault.latencyMs);
        return;
      }
      case 'drop':
        this.log(method, rel, appId, t0, 'injected_drop', null, null, null, fault.latencyMs);
        req.socket.destroy();
        return;
      case 'dropAfter':
        dropAnswer = true;
        break;
      case null:
        break;
    }
    const rule = this.faults.ruleFor(rel, body);
    let added = fault.latencyMs;
    if (rule?.latency) {
      this.state.counters.slowAnswers++;
      added += rule.latency;
      await sleep(rule.latency);
    }
    if (rule?.dropAfter) dropAnswer = true;
    if (rule?.code !== undefined) return finish(rule.code, rule.message, {}, 'injected_rule', added);

    if (route.auth) {
      if (!tokenValue) {
        return finish(
          40104,
          'Access token is null, you should set it in http header with key Access-Token.',
          {},
          'error',
          added,
        );
      }
      if (!token || token.revoked) {
        return finish(40105, 'Access token is incorrect or has been revoked.', {}, 'error', added);
      }
    }
    if (badJson) return finish(40002, 'Parameter error: the request body is not a JSON object.', {}, 'error', added);

    const ctx: Ctx = {
      now,
      req,
      query: url.searchParams,
      body,
      token,
      state: this.state,
      opts: this.opts,
      markDirty: this.markDirty,
    };
    try {
      checkScope(ctx, rel);
      const data = await route.handler(ctx);
      finish(0, 'OK', data, 'ok', added);
    } catch (err) {
      if (err instanceof ApiError) return finish(err.code, err.message, {}, 'error', added);
      throw err;
    }
  }
}
