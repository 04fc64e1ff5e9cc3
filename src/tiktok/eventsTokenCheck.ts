import { randomBytes } from 'node:crypto';
import type { TikTokClient } from './client';
import type { EventSource } from './types';

/*
 * Checks an Events API token (an Events Manager token for a pixel or app, or an offline
 * event set's token; digest §2.3) the only way TikTok offers: by sending an event. The event
 * ALWAYS carries a test_event_code (digest §14: test events stay out of optimisation and
 * reporting), so a check can never send a real conversion: without a code there is no call.
 */

export type EventsTokenKind = 'events-manager' | 'offline';

export interface EventsTokenCheck {
  kind: EventsTokenKind;
  /** Pixel code or app id (events-manager), offline event set id (offline). */
  eventSourceId: string;
  /** For events-manager tokens: web (pixel) or app. Offline tokens are always `offline`. */
  eventSource?: Extract<EventSource, 'web' | 'app'>;
  /** From Events Manager → Test events. Required: the check never sends a real event. */
  testEventCode: string;
}

export interface EventsTokenCheckResult {
  eventSource: EventSource;
  eventSourceId: string;
  event: string;
  eventId: string;
  testEventCode: string;
  requestId: string | null;
}

export class MissingTestEventCode extends Error {
  override name = 'MissingTestEventCode';
}

/** Sends one test event with the token's client; resolves when TikTok accepted it. */
export async function checkEventsToken(client: TikTokClient, check: EventsTokenCheck): Promise<EventsTokenCheckResult> {
  const testEventCode = check.testEventCode.trim();
  if (!testEventCode) throw new MissingTestEventCode('a test_event_code is required: the token check sends a test event, never a real one');
  const eventSource: EventSource = check.kind === 'offline' ? 'offline' : (check.eventSource ?? 'web');
  // Standard events that every source accepts (offline takes standard events only); app's own name for app.
  const event = eventSource === 'app' ? 'LaunchAPP' : 'ViewContent';
  const eventId = `ttsync-token-check-${randomBytes(6).toString('hex')}`;
  const r = await client.trackEvents({
    eventSource,
    eventSourceId: check.eventSourceId,
    testEventCode,
    data: [{ event, event_time: Math.floor(Date.now() / 1000), event_id: eventId }],
  });
  return { eventSource, eventSourceId: check.eventSourceId, event, eventId, testEventCode, requestId: r.requestId };
}
