import { hash } from 'node:crypto';
import { IdentifierNormalizer, normalizeCountryCell, splitMultiValueCell, isMultiValueCell, type Outcome } from '../identifiers';
import type { TrackedEvent } from '../tiktok/types';
import { maxEventAgeMs, standardEventsOf, type EventsDestinationConfig } from './config';
import type { EventRejectReason } from './failures';

/*
 * One row → one Events API 2.0 event, or one reject naming the field and the reason. Every
 * value is validated and normalized here, before anything is sent: identifiers hashed in the
 * events context of identifiers.md by the kernel's engine (a phone is E.164 with its "+"),
 * event_time in Unix seconds inside the accepted window, currency ISO 4217, value a number,
 * and a deterministic event_id.
 */

export interface EventReject {
  /** The config field (a TikTok field name such as user.email, or event_time) the problem is in. */
  field: string;
  /** The column it was read from, when there is one. */
  column: string | null;
  reason: EventRejectReason;
  /** What is wrong, without quoting the value. */
  detail: string;
  /** The raw value as found (for the rejects file only, on the user's own storage). */
  value: string;
}

export type BuildResult = { event: TrackedEvent } | { reject: EventReject };

/** What a row is, beyond its cells: a line of an event file, or a change of an audience trigger. */
export type RowOrigin =
  | { kind: 'file'; rowDigest: string }
  | {
      kind: 'change';
      change: 'enter' | 'exit';
      key: string;
      /** Content digests of the snapshot diffed against ('' for a baseline) and of the new one. */
      previousDigest: string;
      currentDigest: string;
      /** When the change was found (ms): the event time of rows without the time column. */
      detectedAtMs: number;
    };

/** A clock reading shared by every row of a run. */
export interface BuildClock {
  nowMs: number;
}

/** How far ahead of the worker's clock an event may be (clock skew between us and TikTok). */
export const FUTURE_TOLERANCE_MS = 60_000;

/** ISO 4217 codes, from ICU (Node's Intl): no hand-written list. */
const CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));

const ID_PREFIX = 'ttsync-event-id/v1';

/**
 * The event_id of a file row: the same row content for the same event source always gives
 * the same id, wherever the file lives, so a re-sent row is deduplicated by TikTok.
 */
export function fileEventId(eventSourceId: string, rowDigest: string): string {
  return hash('sha256', `${ID_PREFIX}\u0000file\u0000${eventSourceId}\u0000${rowDigest}`, 'hex').slice(0, 32);
}

/**
 * The event_id of a change: the same change (the snapshot pair, the key, enter or exit)
 * always gives the same id; a person who leaves and comes back is a change between other
 * snapshots, hence a new id.
 */
export function changeEventId(eventSourceId: string, previousDigest: string, currentDigest: string, key: string, change: 'enter' | 'exit'): string {
  return hash('sha256', `${ID_PREFIX}\u0000change\u0000${eventSourceId}\u0000${previousDigest}\u0000${currentDigest}\u0000${change}\u0000${key}`, 'hex').slice(0, 32);
}

const asText = (v: unknown): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
};

const present = (v: unknown): boolean => {
  const t = asText(v);
  return t !== undefined && t.trim() !== '';
};

type IdField = 'email' | 'phone' | 'external_id' | 'idfa' | 'gaid';
const ID_FIELDS: readonly IdField[] = ['email', 'phone', 'external_id', 'idfa', 'gaid'];
/** TikTok takes these as a list (several emails of one person); idfa and gaid are one value. */
const LIST_FIELDS: ReadonlySet<IdField> = new Set(['email', 'phone', 'external_id']);

export class EventBuilder {
  private readonly normalizers: Map<IdField, IdentifierNormalizer>;
  private readonly maxAgeMs: number;
  private readonly standard: ReadonlySet<string>;

  constructor(private readonly config: EventsDestinationConfig) {
    const opts = { context: 'events' as const, ...(config.defaultCountry ? { defaultCountry: config.defaultCountry } : {}) };
    this.normalizers = new Map([
      ['email', new IdentifierNormalizer({ kind: 'email', hash: 'sha256' }, opts)],
      ['phone', new IdentifierNormalizer({ kind: 'phone', hash: 'sha256' }, opts)],
      ['external_id', new IdentifierNormalizer({ kind: 'external_id', hash: 'sha256' }, opts)],
      ['idfa', new IdentifierNormalizer({ kind: 'maid', hash: 'sha256' }, opts)],
      ['gaid', new IdentifierNormalizer({ kind: 'maid', hash: 'sha256' }, opts)],
    ]);
    this.maxAgeMs = maxEventAgeMs(config);
    this.standard = new Set(standardEventsOf(config.source));
  }

  /** The columns the mapping reads (they pick a CSV's delimiter). */
  columns(): string[] {
    const c = this.config;
    const cols = [
      c.eventTimeField,
      c.eventIdField,
      c.leadIdField,
      'field' in c.event ? c.event.field : undefined,
      ...Object.values(c.identifiers),
      ...Object.values(c.properties),
      ...Object.values(c.web ?? {}),
      c.app?.appVersionField,
      c.app?.ipField,
      c.app?.userAgentField,
      c.input.kind === 'audienceTrigger' ? c.input.keyColumn : undefined,
    ];
    return [...new Set(cols.filter((x): x is string => typeof x === 'string'))];
  }

  build(cells: Record<string, unknown>, origin: RowOrigin, clock: BuildClock): BuildResult {
    const c = this.config;
    const reject = (field: string, column: string | null, reason: EventRejectReason, detail: string, value: unknown = ''): BuildResult => ({
      reject: { field, column, reason, detail, value: asText(value) ?? '' },
    });

    // Event name.
    let eventName: string;
    if ('field' in c.event) {
      const raw = asText(cells[c.event.field])?.trim();
      if (!raw) return reject('event', c.event.field, 'missing_event_name', 'the event name column is empty');
      if (c.source === 'offline' && !this.standard.has(raw))
        return reject('event', c.event.field, 'invalid_event_name', 'offline event sets accept standard events only', raw);
      if (raw.length > 100) return reject('event', c.event.field, 'invalid_event_name', 'the event name is longer than 100 characters', raw);
      eventName = raw;
    } else eventName = 'standard' in c.event ? c.event.standard : c.event.custom;

    // Event time, in whole Unix seconds, inside the window.
    let timeMs: number;
    const timeCol = c.eventTimeField;
    const rawTime = timeCol ? cells[timeCol] : undefined;
    if (!present(rawTime)) {
      if (origin.kind === 'change') timeMs = origin.detectedAtMs;
      else return reject('event_time', timeCol ?? null, 'missing_event_time', 'the event time column is empty');
    } else {
      const t = parseEventTime(rawTime, c.eventTimeFormat);
      if (t === null) return reject('event_time', timeCol ?? null, 'invalid_event_time', `not a time in the format ${c.eventTimeFormat}`, rawTime);
      timeMs = t;
    }
    if (clock.nowMs - timeMs > this.maxAgeMs)
      return reject('event_time', timeCol ?? null, 'event_too_old', `older than the accepted window of ${Math.round(this.maxAgeMs / 86_400_000)} days`, rawTime);
    if (timeMs - clock.nowMs > FUTURE_TOLERANCE_MS) return reject('event_time', timeCol ?? null, 'event_in_future', 'the event time is in the future', rawTime);
    const eventTime = Math.floor(timeMs / 1000);

    // Identifiers.
    const user: Record<string, unknown> = {};
    const country = c.identifiers.country ? normalizeCountryCell(asText(cells[c.identifiers.country]) ?? '') : undefined;
    for (const f of ID_FIELDS) {
      const col = c.identifiers[f];
      if (!col) continue;
      const raw = cells[col];
      if (!present(raw)) continue;
      const text = asText(raw)!;
      const values = Array.isArray(raw) ? raw.map((v) => asText(v) ?? '') : isMultiValueCell(text) ? splitMultiValueCell(text) : [text];
      const n = this.normalizers.get(f)!;
      const digests: string[] = [];
      for (const v of values) {
        const outcome: Outcome = n.process(v, country);
        if (outcome === 'empty') continue;
        if (outcome !== 'hashed' && outcome !== 'prehashed') return reject(`user.${f}`, col, outcome, `not a valid ${f} (${outcome})`, v);
        if (!digests.includes(n.digest)) digests.push(n.digest);
      }
      if (digests.length === 0) continue;
      if (LIST_FIELDS.has(f)) user[f] = digests;
      else user[f] = digests[0];
    }
    const str = (col: string | undefined): string | undefined => {
      if (!col) return undefined;
      const t = asText(cells[col])?.trim();
      return t ? t : undefined;
    };
    const web = c.web;
    if (web) {
      const ip = str(web.ipField);
      const ua = str(web.userAgentField);
      const ttclid = str(web.ttclidField);
      const ttp = str(web.ttpField);
      const locale = str(web.localeField);
      if (ttclid) user.ttclid = ttclid;
      if (ttp) user.ttp = ttp;
      if (ip) user.ip = ip;
      if (ua) user.user_agent = ua;
      if (locale) user.locale = locale;
    }
    if (c.app) {
      const ip = str(c.app.ipField);
      const ua = str(c.app.userAgentField);
      if (ip) user.ip = ip;
      if (ua) user.user_agent = ua;
    }
    const matchKeys = ['email', 'phone', 'external_id', 'idfa', 'gaid', 'ttclid', 'ttp', 'ip'];
    if (!matchKeys.some((k) => user[k] !== undefined)) return reject('user', null, 'no_match_key', 'the row has none of the mapped identifiers');

    // Properties.
    const properties: Record<string, unknown> = {};
    const p = c.properties;
    if (p.value && present(cells[p.value])) {
      const v = toNumber(cells[p.value]);
      if (v === null || v < 0) return reject('properties.value', p.value, 'invalid_value', 'value must be a non-negative number without symbols', cells[p.value]);
      properties.value = v;
    }
    if (p.currency && present(cells[p.currency])) {
      const cur = asText(cells[p.currency])!.trim().toUpperCase();
      if (!CURRENCIES.has(cur)) return reject('properties.currency', p.currency, 'invalid_currency', 'not an ISO 4217 currency code', cells[p.currency]);
      properties.currency = cur;
    }
    if (p.content_ids && present(cells[p.content_ids])) {
      const raw = cells[p.content_ids];
      const ids = Array.isArray(raw) ? raw.map((x) => asText(x) ?? '') : splitMultiValueCell(asText(raw)!);
      const clean = ids.map((s) => s.trim()).filter(Boolean);
      if (clean.length) properties.content_ids = clean;
    }
    if (p.contents && present(cells[p.contents])) {
      const contents = parseContents(cells[p.contents]);
      if (contents === null) return reject('properties.contents', p.contents, 'invalid_contents', 'contents must be a JSON array of objects with content_id (string), price (number), quantity (whole number)', cells[p.contents]);
      properties.contents = contents;
    }
    if (p.num_items && present(cells[p.num_items])) {
      const n = toNumber(cells[p.num_items]);
      if (n === null || !Number.isInteger(n) || n < 0) return reject('properties.num_items', p.num_items, 'invalid_number', 'num_items must be a whole number', cells[p.num_items]);
      properties.num_items = n;
    }
    if (p.content_type && present(cells[p.content_type])) {
      const t = asText(cells[p.content_type])!.trim();
      if (t !== 'product' && t !== 'product_group') return reject('properties.content_type', p.content_type, 'invalid_contents', 'content_type must be product or product_group', t);
      properties.content_type = t;
    }
    for (const k of ['order_id', 'shop_id', 'search_string', 'description', 'content_name', 'content_category'] as const) {
      const v = str(p[k]);
      if (v) properties[k] = v;
    }

    // event_id: a column, or derived from the row / the change.
    let eventId: string;
    if (c.eventIdField) {
      const v = str(c.eventIdField);
      if (!v) return reject('event_id', c.eventIdField, 'invalid_event_id', 'the event id column is empty');
      if (v.length > 128) return reject('event_id', c.eventIdField, 'invalid_event_id', 'the event id is longer than 128 characters', v);
      eventId = v;
    } else
      eventId =
        origin.kind === 'file'
          ? fileEventId(c.eventSourceId, origin.rowDigest)
          : changeEventId(c.eventSourceId, origin.previousDigest, origin.currentDigest, origin.key, origin.change);

    const event: TrackedEvent = { event: eventName, event_time: eventTime, event_id: eventId, user };
    if (Object.keys(properties).length) event.properties = properties;
    if (web) {
      const url = str(web.pageUrlField);
      const referrer = str(web.referrerField);
      if (url || referrer) event.page = { ...(url ? { url } : {}), ...(referrer ? { referrer } : {}) };
    }
    if (c.source === 'app') {
      const version = str(c.app?.appVersionField);
      event.app = { app_id: c.eventSourceId, ...(c.app?.appName ? { app_name: c.app.appName } : {}), ...(version ? { app_version: version } : {}) };
    }
    if (c.source === 'crm') {
      const lead = str(c.leadIdField);
      if (!lead) return reject('lead.lead_id', c.leadIdField ?? null, 'missing_lead_id', 'CRM events need lead.lead_id and the column is empty');
      event.lead = { lead_id: lead };
    }
    if (c.limitedDataUse) event.limited_data_use = true;
    return { event };
  }
}

/** Milliseconds since the epoch, or null. ISO 8601 needs a date and, with a time, a zone. */
export function parseEventTime(raw: unknown, format: 'iso' | 'unix_s' | 'unix_ms'): number | null {
  if (format === 'iso') {
    const s = asText(raw)?.trim() ?? '';
    // A time without a zone would be read in the worker's zone: refuse it rather than guess.
    if (!/^\d{4}-\d{2}-\d{2}(?:$|[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})$)/i.test(s)) return null;
    const t = Date.parse(s.replace(' ', 'T'));
    return Number.isFinite(t) ? t : null;
  }
  const n = toNumber(raw);
  if (n === null || !Number.isFinite(n) || n <= 0) return null;
  return format === 'unix_s' ? n * 1000 : n;
}

function toNumber(raw: unknown): number | null {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : null;
  if (typeof raw !== 'string') return null;
  const s = raw.trim();
  if (!/^-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(s)) return null;
  const n = Number(s);
  return Number.isFinite(n) ? n : null;
}

function parseContents(raw: unknown): Record<string, unknown>[] | null {
  let v: unknown = raw;
  if (typeof raw === 'string') {
    try {
      v = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!Array.isArray(v)) return null;
  const out: Record<string, unknown>[] = [];
  for (const item of v as unknown[]) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return null;
    const o = item as Record<string, unknown>;
    const c: Record<string, unknown> = {};
    if (o.content_id !== undefined) {
      if (typeof o.content_id !== 'string' && typeof o.content_id !== 'number') return null;
      c.content_id = String(o.content_id);
    }
    for (const k of ['content_name', 'content_category', 'brand'] as const) if (typeof o[k] === 'string') c[k] = o[k];
    if (o.price !== undefined) {
      const n = toNumber(o.price);
      if (n === null) return null;
      c.price = n;
    }
    if (o.quantity !== undefined) {
      const n = toNumber(o.quantity);
      if (n === null || !Number.isInteger(n)) return null;
      c.quantity = n;
    }
    out.push(c);
  }
  return out;
}
