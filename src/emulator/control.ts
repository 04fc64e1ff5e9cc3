import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { issueAuthCode, issueToken } from './auth';
import { audienceView } from './audiences';
import { EmulatorDurationSchema, FaultsSchema, RateLimitSchema, type Faults, type FaultsInput } from './options';
import type { FaultInjector } from './faults';
import type { EmulatorOptions } from './options';
import type { Population } from './population';
import type { RateLimits } from './rateLimits';
import type { AudienceRec, EmulatorState } from './state';

/** What the control endpoints steer: the server's state and knobs (the server implements it). */
export interface ControlledServer {
  readonly state: EmulatorState;
  readonly opts: EmulatorOptions;
  readonly population: Population;
  readonly limits: RateLimits;
  readonly faults: FaultInjector;
  markDirty(): void;
}

/** Fingerprint instead of the token itself: enough to tell tokens apart in the state view. */
const fingerprint = (t: string) => `${t.slice(0, 4)}…(${t.length})`;

const SeedAuthSchema = z.object({
  app_id: z.string().min(1).optional(),
  advertiser_ids: z.array(z.string().min(1)).min(1),
  scope: z.array(z.union([z.string(), z.number()]).transform(String)).default([]),
  access_token: z.string().min(8).optional(),
});

const ConfigSchema = z.object({
  processingDelay: EmulatorDurationSchema.optional(),
  matchRate: z.number().min(0).max(1).optional(),
  populationSeed: z.number().int().optional(),
  minAudienceSize: z.number().int().nonnegative().optional(),
  rateLimits: z
    .object({ default: RateLimitSchema.optional(), events: RateLimitSchema.optional(), segment: RateLimitSchema.optional() })
    .optional(),
  sparseAnswers: z.boolean().optional(),
});

const SparseAnswersSchema = z.object({ enabled: z.boolean() });

const digitsId = z.union([z.string().regex(/^\d{1,30}$/), z.number().int().nonnegative()]).transform(String);
/** Campaigns and ad groups a test seeds, with targeting; the same ad group again replaces its fields. */
const SeedAdgroupsSchema = z.object({
  advertiser_id: z.string().min(1),
  adgroups: z
    .array(
      z.object({
        campaign_id: digitsId,
        campaign_name: z.string().min(1).optional(),
        adgroup_id: digitsId,
        adgroup_name: z.string().min(1).optional(),
        audience_ids: z.array(digitsId).default([]),
        excluded_audience_ids: z.array(digitsId).default([]),
      }),
    )
    .min(1),
});

const AppSchema = z.object({
  app_id: z.string().min(1),
  secret: z.string().min(1).optional(),
  redirect_uris: z.array(z.url()).max(10).optional(),
});
const PortalSchema = z.object({ advertiser_ids: z.array(z.string().min(1)) });
/** A role per ad account; null takes the ad account out of the Business Center. */
const RolesSchema = z.object({ roles: z.record(z.string().min(1), z.string().min(1).nullable()) });

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Inspection and seeding, both in-process (tests, `ttsync dev`) and over HTTP under
 * /_emulator/ (see README). Nothing here is part of TikTok's API.
 */
export class EmulatorControl {
  constructor(private readonly s: ControlledServer) {}

  private get state() {
    return this.s.state;
  }

  private defaultApp(): string {
    const first = Object.keys(this.s.opts.apps)[0];
    if (!first) throw new ControlError(400, 'no app configured');
    return first;
  }

  issueAuthCode(advertiserIds: string[], opts: { appId?: string; scope?: string[] } = {}): string {
    const code = issueAuthCode(this.state, opts.appId ?? this.defaultApp(), advertiserIds, this.s.opts.authCodeTtl, opts.scope);
    this.s.markDirty();
    return code;
  }

  issueToken(advertiserIds: string[], opts: { appId?: string; scope?: string[]; token?: string } = {}): string {
    const t = issueToken(this.state, opts.appId ?? this.defaultApp(), advertiserIds, opts.scope, opts.token);
    this.s.markDirty();
    return t.token;
  }

  revokeToken(token: string): boolean {
    const t = this.state.tokens.get(token);
    if (!t) return false;
    t.revoked = true;
    this.s.markDirty();
    return true;
  }

  /** Registers an app (or updates its secret and redirect URIs). */
  registerApp(appId: string, opts: { secret?: string; redirectUris?: string[] } = {}): void {
    const o = this.s.opts;
    if (opts.secret !== undefined || o.apps[appId] === undefined) o.apps[appId] = opts.secret ?? o.apps[appId] ?? `${appId}-secret`;
    if (opts.redirectUris) o.redirectUris[appId] = [...opts.redirectUris];
  }

  /** The ad accounts the authorization page grants (empty: every advertiser the emulator knows). */
  setPortalAdvertisers(advertiserIds: string[]): void {
    for (const id of advertiserIds) this.state.ensureAdvertiser(id);
    this.s.opts.portalAdvertisers = [...advertiserIds];
    this.s.markDirty();
  }

  /** Merges roles into the emulated Business Center; null removes the ad account from it. */
  setRoles(roles: Record<string, string | null>): Record<string, string> {
    const next = { ...this.s.opts.advertiserRoles };
    for (const [id, role] of Object.entries(roles)) {
      if (role === null) delete next[id];
      else next[id] = role;
    }
    this.s.opts.advertiserRoles = next;
    return next;
  }

  setFaults(input: FaultsInput): Faults {
    const f = FaultsSchema.parse({ ...this.s.faults.config, ...input });
    this.s.faults.configure(f);
    this.s.opts.faults = f;
    return f;
  }

  configure(input: z.input<typeof ConfigSchema>): void {
    const c = ConfigSchema.parse(input);
    const o = this.s.opts;
    if (c.processingDelay !== undefined) o.processingDelay = c.processingDelay;
    if (c.matchRate !== undefined) o.matchRate = c.matchRate;
    if (c.populationSeed !== undefined) o.populationSeed = c.populationSeed;
    if (c.minAudienceSize !== undefined) o.minAudienceSize = c.minAudienceSize;
    if (c.sparseAnswers !== undefined) o.sparseAnswers = c.sparseAnswers;
    if (c.rateLimits) {
      o.rateLimits = { ...o.rateLimits, ...c.rateLimits } as typeof o.rateLimits;
      this.s.limits.configure(o.rateLimits);
    }
    this.s.population.configure(o.matchRate, o.populationSeed);
  }

  /** Sparse answers on or off (see sparse.ts); takes effect with the next request. */
  setSparseAnswers(enabled: boolean): { enabled: boolean } {
    this.s.opts.sparseAnswers = enabled;
    return { enabled };
  }

  /** Ends an audience's processing now (the next edit is accepted). */
  finishProcessing(audienceId: string): boolean {
    const a = this.state.audiences.get(audienceId);
    if (!a) return false;
    a.processingUntil = Math.min(a.processingUntil, Date.now());
    a.coverNum = a.pendingCoverNum;
    this.s.markDirty();
    return true;
  }

  reset(): void {
    this.state.reset();
    this.s.markDirty();
  }

  audience(id: string, withIds = true) {
    const a = this.state.audiences.get(id);
    return a ? this.audienceJson(a, withIds) : undefined;
  }

  private audienceJson(a: AudienceRec, withIds: boolean) {
    return {
      ...audienceView(a, Date.now(), true),
      advertiser_id: a.advertiserId,
      size: a.ids.size,
      processing_until: new Date(a.processingUntil).toISOString(),
      history: a.history,
      ...(withIds ? { ids: [...a.ids.hexes()] } : {}),
    };
  }

  stats() {
    return { ...this.state.counters, audiences: this.state.audiences.size, files: this.state.files.size };
  }

  snapshot(withIds = false) {
    const st = this.state;
    return {
      options: { ...this.s.opts, apps: Object.keys(this.s.opts.apps) },
      advertisers: [...st.advertisers.values()],
      tokens: [...st.tokens.values()].map((t) => ({ ...t, token: fingerprint(t.token) })),
      files: [...st.files.values()].map((f) => ({ ...f, ids: f.ids.size })),
      audiences: [...st.audiences.values()].map((a) => this.audienceJson(a, withIds)),
      eventSources: Object.fromEntries(st.eventSources),
      events: { received: st.counters.eventsReceived, deduplicated: st.counters.eventsDeduplicated, stored: st.events.length },
      stats: this.stats(),
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const send = (status: number, body: unknown) => {
      const s = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
      res.end(s);
    };
    try {
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      if (text) {
        try {
          body = JSON.parse(text) as Record<string, unknown>;
        } catch {
          throw new ControlError(400, 'body is not JSON');
        }
      }
      const p = url.pathname.replace(/^\/_emulator/, '').replace(/\/+$/, '');
      const q = url.searchParams;
      const key = `${req.method} ${p}`;
      const sourceMatch = /^\/event-sources\/([^/]+)$/.exec(p);
      if (sourceMatch && req.method === 'GET') {
        // One source's inspection: what it received, deduplicated and refused, and its stored events.
        const id = decodeURIComponent(sourceMatch[1]!);
        const st = this.state.eventSourceStats.get(id) ?? { received: 0, deduplicated: 0, rejected: 0, rejectedRequests: 0 };
        const limit = Number(q.get('limit') ?? 100_000);
        const events = this.state.events.filter((e) => e.eventSourceId === id).slice(-limit);
        return send(200, { event_source_id: id, advertiser_id: this.state.eventSources.get(id) ?? null, ...st, events });
      }
      const audienceMatch = /^\/audiences\/([^/]+)(\/finish-processing)?$/.exec(p);
      if (audienceMatch) {
        const id = audienceMatch[1]!;
        if (audienceMatch[2] && req.method === 'POST') {
          if (!this.finishProcessing(id)) throw new ControlError(404, `no audience ${id}`);
          return send(200, { ok: true });
        }
        const a = this.audience(id, q.get('ids') !== 'false');
        if (!a) throw new ControlError(404, `no audience ${id}`);
        return send(200, a);
      }
      switch (key) {
        case 'GET /health':
          return send(200, { ok: true, emulator: 'ttsync-tiktok' });
        case 'GET /state':
          return send(200, this.snapshot(q.get('ids') === 'true'));
        case 'GET /stats':
          return send(200, this.stats());
        case 'GET /calls': {
          const since = Number(q.get('since') ?? 0);
          return send(200, { calls: this.state.calls.filter((c) => c.seq > since), stats: this.stats() });
        }
        case 'GET /events': {
          const limit = Number(q.get('limit') ?? 1000);
          return send(200, { events: this.state.events.slice(-limit), ...this.stats() });
        }
        case 'POST /reset':
          this.reset();
          return send(200, { ok: true });
        case 'POST /advertisers': {
          const id = z.string().min(1).parse(body.advertiser_id);
          return send(200, this.state.ensureAdvertiser(id, typeof body.name === 'string' ? body.name : undefined));
        }
        case 'POST /auth-codes': {
          const b = SeedAuthSchema.parse(body);
          return send(200, { auth_code: this.issueAuthCode(b.advertiser_ids, { appId: b.app_id, scope: b.scope }) });
        }
        case 'POST /tokens': {
          const b = SeedAuthSchema.parse(body);
          const token = this.issueToken(b.advertiser_ids, { appId: b.app_id, scope: b.scope, token: b.access_token });
          return send(200, { access_token: token });
        }
        case 'POST /tokens/revoke': {
          const t = z.string().min(1).parse(body.access_token);
          if (!this.revokeToken(t)) throw new ControlError(404, 'no such token');
          return send(200, { ok: true });
        }
        case 'GET /event-sources':
          return send(200, { sources: Object.fromEntries([...this.state.eventSourceStats].map(([id, st]) => [id, { advertiser_id: this.state.eventSources.get(id) ?? null, ...st }])) });
        case 'POST /event-source-tokens': {
          // The token of one event source (Events Manager token, or an offline event set's own token).
          const b = z
            .object({ event_source_id: z.string().min(1), advertiser_id: z.string().min(1), app_id: z.string().min(1).optional(), access_token: z.string().min(8).optional() })
            .parse(body);
          const token = this.issueToken([b.advertiser_id], { appId: b.app_id, scope: ['7224195155857866754'], token: b.access_token });
          const rec = this.state.tokens.get(token);
          if (rec) rec.eventSourceIds = [b.event_source_id];
          this.state.eventSources.set(b.event_source_id, b.advertiser_id);
          this.s.markDirty();
          return send(200, { access_token: token });
        }
        case 'POST /event-sources': {
          const src = z.object({ event_source_id: z.string().min(1), advertiser_id: z.string().min(1) }).parse(body);
          this.state.eventSources.set(src.event_source_id, src.advertiser_id);
          this.s.markDirty();
          return send(200, { ok: true });
        }
        case 'POST /campaigns': {
          // A test pauses (or deletes) a synthetic campaign, as its advertiser would in Ads Manager.
          const b = z.object({ advertiser_id: z.string().min(1), campaign_id: z.string().min(1), operation_status: z.enum(['ENABLE', 'DISABLE', 'DELETE']) }).parse(body);
          this.state.campaignStatus.set(`${b.advertiser_id}/${b.campaign_id}`, b.operation_status);
          this.s.markDirty();
          return send(200, { ok: true });
        }
        case 'POST /adgroups': {
          const b = SeedAdgroupsSchema.parse(body);
          this.state.ensureAdvertiser(b.advertiser_id);
          for (const a of b.adgroups) {
            const key = `${b.advertiser_id}/${a.adgroup_id}`;
            const prev = this.state.seededAdgroups.get(key);
            const sibling = [...this.state.seededAdgroups.values()].find((x) => x.advertiserId === b.advertiser_id && x.campaignId === a.campaign_id);
            const campaignName = a.campaign_name ?? sibling?.campaignName ?? `Seeded campaign ${a.campaign_id.slice(-4)}`;
            // A campaign has one name: naming it through one ad group names it for all.
            for (const x of this.state.seededAdgroups.values()) if (x.advertiserId === b.advertiser_id && x.campaignId === a.campaign_id) x.campaignName = campaignName;
            this.state.seededAdgroups.set(key, {
              advertiserId: b.advertiser_id,
              campaignId: a.campaign_id,
              campaignName,
              adgroupId: a.adgroup_id,
              adgroupName: a.adgroup_name ?? prev?.adgroupName ?? `Seeded ad group ${a.adgroup_id.slice(-4)}`,
              audienceIds: a.audience_ids,
              excludedAudienceIds: a.excluded_audience_ids,
            });
          }
          this.s.markDirty();
          return send(200, { adgroups: [...this.state.seededAdgroups.values()].filter((a) => a.advertiserId === b.advertiser_id) });
        }
        case 'GET /status-changes':
          return send(200, { statusChanges: this.state.statusChanges });
        case 'POST /apps': {
          const b = AppSchema.parse(body);
          this.registerApp(b.app_id, { secret: b.secret, redirectUris: b.redirect_uris });
          return send(200, { app_id: b.app_id, redirect_uris: this.s.opts.redirectUris[b.app_id] ?? [] });
        }
        case 'POST /portal': {
          const b = PortalSchema.parse(body);
          this.setPortalAdvertisers(b.advertiser_ids);
          return send(200, { advertiser_ids: this.s.opts.portalAdvertisers });
        }
        case 'GET /roles':
          return send(200, { roles: this.s.opts.advertiserRoles });
        case 'POST /roles':
          return send(200, { roles: this.setRoles(RolesSchema.parse(body).roles) });
        case 'GET /rates':
          // Requests per app and bucket as they arrived, refused ones included (load tests).
          return send(200, { apps: this.s.limits.observed() });
        case 'POST /rates/reset':
          this.s.limits.resetObserved();
          return send(200, { ok: true });
        case 'GET /faults':
          return send(200, this.s.faults.config);
        case 'POST /faults':
          return send(200, this.setFaults(body as FaultsInput));
        case 'GET /sparse-answers':
          return send(200, { enabled: this.s.opts.sparseAnswers });
        case 'POST /sparse-answers':
          return send(200, this.setSparseAnswers(SparseAnswersSchema.parse(body).enabled));
        case 'GET /config':
          return send(200, { ...this.s.opts, apps: Object.keys(this.s.opts.apps) });
        case 'POST /config':
          this.configure(body as z.input<typeof ConfigSchema>);
          return send(200, { ...this.s.opts, apps: Object.keys(this.s.opts.apps) });
        default:
          throw new ControlError(404, `unknown control endpoint ${req.method} ${url.pathname}`);
      }
    } catch (err) {
      if (err instanceof ControlError) return send(err.status, { error: err.message });
      if (err instanceof z.ZodError) return send(400, { error: err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
      throw err;
    }
  }
}
