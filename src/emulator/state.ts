import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DigestSet } from './digestSet';

export interface TokenRec {
  token: string;
  appId: string;
  advertiserIds: string[];
  /** Scope ids (digest §2.2); empty = every scope. */
  scope: string[];
  revoked: boolean;
  createdAt: number;
  /**
   * Set for an event source's own token (Events Manager token of a pixel or app, the token of
   * an offline event set): it may send events to these sources only.
   */
  eventSourceIds?: string[];
}

/** What one event source received: accepted events, duplicates among them, and refused ones. */
export interface EventSourceStats {
  received: number;
  deduplicated: number;
  /** Events in requests refused by validation (all-or-nothing: the whole request's events). */
  rejected: number;
  rejectedRequests: number;
}

export interface AuthCodeRec {
  code: string;
  appId: string;
  advertiserIds: string[];
  scope: string[];
  expiresAt: number;
  used: boolean;
}

export interface AdvertiserRec {
  id: string;
  name: string;
  currency: string;
  timezone: string;
  createdAt: number;
}

export interface FileRec {
  path: string;
  advertiserId: string;
  calculateType: string;
  ids: DigestSet;
  rows: number;
  invalidRows: number;
  bytes: number;
  createdAt: number;
  expiresAt: number;
}

/** A campaign's switch as its advertiser sets it (campaign/get shows DELETE as DISABLE + CAMPAIGN_STATUS_DELETE). */
export type OperationStatus = 'ENABLE' | 'DISABLE' | 'DELETE';

/** One call of a status-changing endpoint (adStructure.ts), kept with its body. */
export interface StatusChangeRec {
  at: string;
  path: string;
  body: Record<string, unknown>;
}

/**
 * An ad group a test seeded (POST /_emulator/adgroups) with its targeting, under a campaign of
 * its own; synthetic campaigns keep their two untargeted ad groups beside it.
 */
export interface SeededAdgroupRec {
  advertiserId: string;
  campaignId: string;
  campaignName: string;
  adgroupId: string;
  adgroupName: string;
  audienceIds: string[];
  excludedAudienceIds: string[];
}

export interface HistoryEntry {
  opt_time: string;
  action: string;
  action_detail: string;
  editor: string;
  msg: string | null;
}

export interface AudienceRec {
  id: string;
  advertiserId: string;
  name: string;
  /** "Customer File Audience" (dmp) or "Partner" (segment API). */
  type: string;
  subType: string;
  calculateType: string;
  ids: DigestSet;
  createdAt: number;
  modifiedAt: number;
  retentionDays: number | null;
  processingUntil: number;
  /** cover_num shown now, and the one that becomes visible when processing ends. */
  coverNum: number;
  pendingCoverNum: number;
  history: HistoryEntry[];
  lastMsg: string | null;
}

export interface EventRec {
  receivedAt: number;
  eventSource: string;
  eventSourceId: string;
  event: string;
  eventTime: number;
  eventId: string | null;
  testEventCode: string | null;
  deduplicated: boolean;
  payload: unknown;
}

export type CallOutcome =
  | 'ok'
  | 'error'
  | 'rate_limited'
  | 'injected_throttle'
  | 'injected_error'
  | 'injected_rule'
  | 'injected_http503'
  | 'injected_drop'
  | 'injected_drop_after'
  | 'not_found';

export interface CallRec {
  seq: number;
  at: string;
  method: string;
  path: string;
  appId: string | null;
  httpStatus: number | null;
  code: number | null;
  outcome: CallOutcome;
  latencyMs: number;
  requestId: string | null;
  /** Injected delay, if any. */
  addedLatencyMs: number;
}

/** GMT "YYYY-MM-DD HH:MM:SS", TikTok's timestamp format. */
export function tiktokTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}

/**
 * Everything the emulator knows. Plain maps; id sets are DigestSets. Persisted (optional)
 * as a JSON header plus the packed id sets, so a dry run survives a restart.
 */
export class EmulatorState {
  advertisers = new Map<string, AdvertiserRec>();
  tokens = new Map<string, TokenRec>();
  authCodes = new Map<string, AuthCodeRec>();
  files = new Map<string, FileRec>();
  audiences = new Map<string, AudienceRec>();
  /** event_source_id → owning advertiser. */
  eventSources = new Map<string, string>();
  /** (event_source_id, event_id, event) → when TikTok first received it (ms): the dedup window runs from there. */
  eventDedup = new Map<string, number>();
  eventSourceStats = new Map<string, EventSourceStats>();
  events: EventRec[] = [];
  calls: CallRec[] = [];
  /** Statuses tests set on synthetic campaigns (`<advertiserId>/<campaignId>`); ENABLE when absent. */
  campaignStatus = new Map<string, OperationStatus>();
  /** Every call of a status-changing endpoint, with its body: a migration must make none. */
  statusChanges: StatusChangeRec[] = [];
  /** Seeded ad groups by `<advertiserId>/<adgroupId>`, in seeding order. */
  seededAdgroups = new Map<string, SeededAdgroupRec>();
  counters = {
    calls: 0,
    byOutcome: {} as Partial<Record<CallOutcome, number>>,
    eventsReceived: 0,
    eventsDeduplicated: 0,
    /** API requests answered late on purpose (faults.latency), whatever the answer. */
    slowAnswers: 0,
  };
  nextAudienceSeq = 1;
  nextFileSeq = 1;
  nextCallSeq = 1;
  private readonly instanceSalt = randomBytes(8).toString('hex');

  reset(): void {
    this.advertisers.clear();
    this.tokens.clear();
    this.authCodes.clear();
    this.files.clear();
    this.audiences.clear();
    this.eventSources.clear();
    this.eventDedup.clear();
    this.eventSourceStats.clear();
    this.events = [];
    this.calls = [];
    this.campaignStatus.clear();
    this.statusChanges = [];
    this.seededAdgroups.clear();
    this.counters = { calls: 0, byOutcome: {}, eventsReceived: 0, eventsDeduplicated: 0, slowAnswers: 0 };
    this.nextAudienceSeq = 1;
    this.nextFileSeq = 1;
    this.nextCallSeq = 1;
  }

  ensureAdvertiser(id: string, name?: string): AdvertiserRec {
    let a = this.advertisers.get(id);
    if (!a) {
      a = { id, name: name ?? `Emulated advertiser ${id}`, currency: 'USD', timezone: 'Etc/GMT', createdAt: Date.now() };
      this.advertisers.set(id, a);
    } else if (name) a.name = name;
    return a;
  }

  newAudienceId(): string {
    // Numeric-looking like TikTok's, beyond 2^53 so clients must keep them as strings.
    return (7_100_000_000_000_000_000n + BigInt(this.nextAudienceSeq++)).toString();
  }

  newFilePath(): string {
    return createHash('md5').update(`${this.instanceSalt}:${this.nextFileSeq++}`).digest('hex').slice(0, 16);
  }

  // ------------------------------------------------------------------ persistence

  save(file: string): void {
    const blobs: Buffer[] = [];
    const blob = (s: DigestSet) => {
      blobs.push(s.pack());
      return blobs.length - 1;
    };
    const meta = {
      version: 1,
      advertisers: [...this.advertisers.values()],
      tokens: [...this.tokens.values()],
      authCodes: [...this.authCodes.values()],
      files: [...this.files.values()].map((f) => ({ ...f, ids: blob(f.ids) })),
      audiences: [...this.audiences.values()].map((a) => ({ ...a, ids: blob(a.ids) })),
      eventSources: [...this.eventSources],
      eventDedup: [...this.eventDedup],
      eventSourceStats: [...this.eventSourceStats],
      events: this.events,
      campaignStatus: [...this.campaignStatus],
      statusChanges: this.statusChanges,
      seededAdgroups: [...this.seededAdgroups.values()],
      counters: this.counters,
      nextAudienceSeq: this.nextAudienceSeq,
      nextFileSeq: this.nextFileSeq,
      nextCallSeq: this.nextCallSeq,
      blobSizes: [] as number[],
    };
    meta.blobSizes = blobs.map((b) => b.length);
    const json = Buffer.from(JSON.stringify(meta));
    const head = Buffer.from(`TTSYNC-EMULATOR-STATE 1 ${json.length}\n`);
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, Buffer.concat([head, json, ...blobs]));
    renameSync(tmp, file);
  }

  load(file: string): boolean {
    if (!existsSync(file)) return false;
    const buf = readFileSync(file);
    const nl = buf.indexOf(0x0a);
    const m = /^TTSYNC-EMULATOR-STATE 1 (\d+)$/.exec(buf.subarray(0, nl).toString('utf8'));
    if (!m) throw new Error(`${file} is not an emulator state file`);
    const jsonEnd = nl + 1 + Number(m[1]);
    const meta = JSON.parse(buf.subarray(nl + 1, jsonEnd).toString('utf8')) as {
      advertisers: AdvertiserRec[];
      tokens: TokenRec[];
      authCodes: AuthCodeRec[];
      files: Array<Omit<FileRec, 'ids'> & { ids: number }>;
      audiences: Array<Omit<AudienceRec, 'ids'> & { ids: number }>;
      eventSources: Array<[string, string]>;
      /** [key, first received ms]; files of older emulators hold keys only. */
      eventDedup: Array<string | [string, number]>;
      eventSourceStats?: Array<[string, EventSourceStats]>;
      events: EventRec[];
      campaignStatus?: Array<[string, OperationStatus]>;
      statusChanges?: StatusChangeRec[];
      seededAdgroups?: SeededAdgroupRec[];
      counters: Omit<EmulatorState['counters'], 'slowAnswers'> & { slowAnswers?: number };
      nextAudienceSeq: number;
      nextFileSeq: number;
      nextCallSeq: number;
      blobSizes: number[];
    };
    const sets: DigestSet[] = [];
    let off = jsonEnd;
    for (const n of meta.blobSizes) {
      sets.push(DigestSet.unpack(buf.subarray(off, off + n)));
      off += n;
    }
    const set = (i: number) => sets[i] ?? new DigestSet();
    this.reset();
    for (const a of meta.advertisers) this.advertisers.set(a.id, a);
    for (const t of meta.tokens) this.tokens.set(t.token, t);
    for (const c of meta.authCodes) this.authCodes.set(c.code, c);
    for (const f of meta.files) this.files.set(f.path, { ...f, ids: set(f.ids) });
    for (const a of meta.audiences) this.audiences.set(a.id, { ...a, ids: set(a.ids) });
    this.eventSources = new Map(meta.eventSources);
    const loadedAt = Date.now();
    this.eventDedup = new Map(meta.eventDedup.map((e) => (typeof e === 'string' ? [e, loadedAt] : e)));
    this.eventSourceStats = new Map(meta.eventSourceStats ?? []);
    this.events = meta.events;
    this.campaignStatus = new Map(meta.campaignStatus ?? []);
    this.statusChanges = meta.statusChanges ?? [];
    for (const a of meta.seededAdgroups ?? []) this.seededAdgroups.set(`${a.advertiserId}/${a.adgroupId}`, a);
    // State files of older emulators lack the newer counters.
    this.counters = { ...meta.counters, slowAnswers: meta.counters.slowAnswers ?? 0 };
    this.nextAudienceSeq = meta.nextAudienceSeq;
    this.nextFileSeq = meta.nextFileSeq;
    this.nextCallSeq = meta.nextCallSeq;
    return true;
  }
}
