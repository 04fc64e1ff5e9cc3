import { ApiError, paramError, type Ctx } from './context';
import type { EventRec, EventSourceStats, EmulatorState } from './state';

const SOURCES = ['web', 'app', 'offline', 'crm'] as const;
/** Standard web/offline/CRM events (digest §5, BUB enum) plus legacy names peers still send. */
const STANDARD_EVENTS = new Set([
  'AddPaymentInfo', 'AddToCart', 'AddToWishlist', 'ApplicationApproval', 'CompleteRegistration', 'Contact',
  'CustomizeProduct', 'Download', 'FindLocation', 'InitiateCheckout', 'Lead', 'Purchase', 'Schedule', 'Search',
  'StartTrial', 'SubmitApplication', 'Subscribe', 'ViewContent', 'CompletePayment', 'PlaceAnOrder', 'ClickButton',
  'SubmitForm', 'PageView',
]);
const SHA256 = /^[0-9a-f]{64}$/;
const HASHED_USER_FIELDS = ['email', 'phone', 'external_id'] as const;
export const MAX_EVENTS = 1000;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function validateEvent(ctx: Ctx, source: string, e: unknown, i: number): void {
  const at = `data.${i}`;
  if (!isObj(e)) throw paramError(`${at}: Not a valid object.`);
  if (typeof e.event !== 'string' || !e.event) throw paramError(`${at}.event: Missing data for required field.`);
  if (source === 'offline' && !STANDARD_EVENTS.has(e.event)) {
    throw paramError(`${at}.event: offline event sets accept standard events only.`);
  }
  if (typeof e.event_time !== 'number' || !Number.isInteger(e.event_time)) {
    throw paramError(`${at}.event_time: Not a valid integer.`);
  }
  // Milliseconds are the classic mistake: 1.6e12 would be the year 52,000.
  if (e.event_time > 1e11) throw paramError(`${at}.event_time: must be a Unix timestamp in seconds.`);
  const ageMs = ctx.now - e.event_time * 1000;
  const maxAge = source === 'offline' ? ctx.opts.offlineEventMaxAge : ctx.opts.eventMaxAge;
  if (ageMs > maxAge) throw paramError(`${at}.event_time: is older than the accepted window of ${Math.round(maxAge / 86_400_000)} days.`);
  if (ageMs < -10 * 60_000) throw paramError(`${at}.event_time: is in the future.`);
  if (e.event_id !== undefined && (typeof e.event_id !== 'string' || !e.event_id)) {
    throw paramError(`${at}.event_id: Not a valid string.`);
  }
  if (e.user !== undefined) {
    if (!isObj(e.user)) throw paramError(`${at}.user: Not a valid object.`);
    for (const f of HASHED_USER_FIELDS) {
      const v = e.user[f];
      if (v === undefined) continue;
      const list = Array.isArray(v) ? v : [v];
      list.forEach((x, j) => {
        if (typeof x !== 'string' || !SHA256.test(x)) {
          throw paramError(`${at}.user.${f}${Array.isArray(v) ? `.${j}` : ''}: must be a lowercase SHA-256 hex digest.`);
        }
      });
    }
    for (const f of ['ip', 'user_agent', 'ttclid', 'ttp', 'locale'] as const) {
      if (e.user[f] !== undefined && typeof e.user[f] !== 'string') throw paramError(`${at}.user.${f}: Not a valid string.`);
    }
  }
  if (e.properties !== undefined) {
    const p = e.properties;
    if (!isObj(p)) throw paramError(`${at}.properties: Not a valid object.`);
    if (p.currency !== undefined && (typeof p.currency !== 'string' || !/^[A-Z]{3}$/.test(p.currency))) {
      throw paramError(`${at}.properties.currency: must be an ISO 4217 code.`);
    }
    if (p.value !== undefined && (typeof p.value !== 'number' || !Number.isFinite(p.value))) {
      throw paramError(`${at}.properties.value: Not a valid number.`);
    }
    if (p.content_type !== undefined && p.content_type !== 'product' && p.content_type !== 'product_group') {
      throw paramError(`${at}.properties.content_type: Must be one of product, product_group.`);
    }
    if (p.contents !== undefined) {
      if (!Array.isArray(p.contents)) throw paramError(`${at}.properties.contents: Not a valid list.`);
      p.contents.forEach((c, j) => {
        const cat = `${at}.properties.contents.${j}`;
        if (!isObj(c)) throw paramError(`${cat}: Not a valid object.`);
        if (c.content_id !== undefined && typeof c.content_id !== 'string') throw paramError(`${cat}.content_id: Not a valid string`);
        if (c.price !== undefined && typeof c.price !== 'number') throw paramError(`${cat}.price: Not a valid number.`);
        if (c.quantity !== undefined && !Number.isInteger(c.quantity)) throw paramError(`${cat}.quantity: Not a valid integer.`);
      });
    }
  }
  if (source === 'crm' && !(isObj(e.lead) && typeof e.lead.lead_id === 'string')) {
    throw paramError(`${at}.lead.lead_id: Missing data for required field.`);
  }
}

export function sourceStats(state: EmulatorState, sourceId: string): EventSourceStats {
  let s = state.eventSourceStats.get(sourceId);
  if (!s) {
    s = { received: 0, deduplicated: 0, rejected: 0, rejectedRequests: 0 };
    state.eventSourceStats.set(sourceId, s);
  }
  return s;
}

export function trackEvents(ctx: Ctx): unknown {
  const b = ctx.body;
  const source = b.event_source ?? 'web';
  if (typeof source !== 'string' || !(SOURCES as readonly string[]).includes(source)) {
    throw paramError(`event_source: Must be one of ${SOURCES.join(', ')}.`);
  }
  const sourceId = b.event_source_id;
  if (typeof sourceId !== 'string' || !sourceId) throw paramError('event_source_id: Missing data for required field.');
  // Event sources belong to an advertiser; an unseen one is adopted by the token's first advertiser.
  // An event source's own token (Events Manager, offline event set) works for that source only.
  const scoped = ctx.token!.eventSourceIds;
  if (scoped && !scoped.includes(sourceId)) {
    throw new ApiError(40001, `No permission to operate event source: ${sourceId}. The access token belongs to another event source.`);
  }
  const owner = ctx.state.eventSources.get(sourceId);
  if (owner !== undefined && !ctx.token!.advertiserIds.includes(owner)) {
    throw new ApiError(
      40001,
      `No permission to operate pixel code: ${sourceId}. You must be an admin or operator of this advertiser account.`,
    );
  }
  if (!Array.isArray(b.data) || b.data.length === 0) throw paramError('data: Missing data for required field.');
  if (b.data.length > MAX_EVENTS) throw paramError(`data: Length must be between 1 and ${MAX_EVENTS}.`);
  if (b.test_event_code !== undefined && typeof b.test_event_code !== 'string') {
    throw paramError('test_event_code: Not a valid string.');
  }
  try {
    b.data.forEach((e, i) => validateEvent(ctx, source, e, i));
  } catch (err) {
    // Validation is all-or-nothing: every event of the request is refused.
    const stats = sourceStats(ctx.state, sourceId);
    stats.rejectedRequests++;
    stats.rejected += b.data.length;
    ctx.markDirty();
    throw err;
  }
  if (owner === undefined && ctx.token!.advertiserIds[0]) ctx.state.eventSources.set(sourceId, ctx.token!.advertiserIds[0]);

  const st = ctx.state;
  const stats = sourceStats(st, sourceId);
  for (const raw of b.data as Array<Record<string, unknown>>) {
    const eventId = typeof raw.event_id === 'string' ? raw.event_id : null;
    let dedup = false;
    if (eventId !== null) {
      const key = `${sourceId}\u0000${eventId}\u0000${String(raw.event)}`;
      // TikTok keeps the first event and drops an identical one within the window after it.
      const first = st.eventDedup.get(key);
      dedup = first !== undefined && ctx.now - first < ctx.opts.eventDedupWindow;
      if (!dedup) st.eventDedup.set(key, ctx.now);
    }
    st.counters.eventsReceived++;
    stats.received++;
    if (dedup) {
      st.counters.eventsDeduplicated++;
      stats.deduplicated++;
    }
    const rec: EventRec = {
      receivedAt: ctx.now,
      eventSource: source,
      eventSourceId: sourceId,
      event: String(raw.event),
      eventTime: Number(raw.event_time),
      eventId,
      testEventCode: typeof b.test_event_code === 'string' ? b.test_event_code : null,
      deduplicated: dedup,
      payload: raw,
    };
    st.events.push(rec);
  }
  if (st.events.length > ctx.opts.eventLogLimit) st.events.splice(0, st.events.length - ctx.opts.eventLogLimit);
  ctx.markDirty();
  return {};
}
