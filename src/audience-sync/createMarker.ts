import { createHash } from 'node:crypto';

/*
 * TikTok's audience create has no idempotency key, and a create can take effect after the
 * client gave up on it (a timeout, a connection cut after the request was handled). So every
 * create ttsync sends carries a marker in the audience name, derived from the destination and
 * a token the workflow recorded before the first attempt: the audiences a destination's
 * creates made, late ones included, are the ones whose name ends with its marker. Only those
 * are adopted, and only those are ever deleted as strays; an audience somebody named by hand
 * never carries it. The marker is a digest: no personal data, nothing to read back.
 */

/** TikTok's limit on custom_audience_name (tiktok-api.md §3.2). */
const TIKTOK_NAME_MAX = 128;

/** `ttsync-` and 12 hex digits of sha256(destinationId, token): letters, digits and "-", like the names the config allows. */
export function createMarker(destinationId: string, token: string): string {
  return `ttsync-${createHash('sha256').update(`${destinationId}\n${token}`).digest('hex').slice(0, 12)}`;
}

/** The name the create sends: the configured (or rendered) name, a space, the marker. */
export function nameWithMarker(name: string, marker: string): string {
  const room = TIKTOK_NAME_MAX - marker.length - 1;
  const base = [...name].slice(0, room).join('').trimEnd();
  return `${base} ${marker}`;
}

export function hasMarker(name: string, marker: string): boolean {
  return name.endsWith(` ${marker}`);
}

const ANY_MARKER = / ttsync-[0-9a-f]{12}$/;

/** The name without a create's marker, whichever destination's: what the config named (names from before markers have none). */
export function nameWithoutMarker(name: string): string {
  return name.replace(ANY_MARKER, '');
}

/**
 * The audience to keep among several that carry the same marker: the lowest id (TikTok's
 * ids are decimal strings, compared as numbers), whatever order a listing gave them in, so
 * every attempt and every worker picks the same one.
 */
export function pickAudience(ids: readonly string[]): string | undefined {
  return [...new Set(ids)].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))[0];
}
