/*
 * The few calls the demo and the sync benchmark make to the TikTok emulator's /_emulator/
 * control API (src/emulator/README.md): seed an advertiser and a token, read an audience's
 * size. Plain JSON over loopback HTTP; the emulator is the only thing ever addressed.
 */

export interface EmulatorAudience {
  audience_id: string;
  name: string;
  /** Ids in the audience's set (the emulator's own count). */
  size: number;
  cover_num: number;
  is_valid: boolean;
  /** Hex digests, when asked for with ids. */
  ids?: string[];
}

async function call<T>(baseUrl: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const url = `${baseUrl.replace(/\/+$/, '')}/_emulator/${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (err) {
    throw new Error(`the TikTok emulator at ${baseUrl} does not answer (${(err as Error).message}); is the dev stack running (ttsync dev)?`);
  }
  const text = await res.text();
  if (!res.ok) throw new Error(`TikTok emulator ${method} /_emulator/${path}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as T;
}

/** Makes sure the advertiser exists and issues a fresh token for it; returns the token. */
export async function seedAdvertiserToken(baseUrl: string, advertiserId: string, name: string): Promise<string> {
  await call(baseUrl, 'POST', 'advertisers', { advertiser_id: advertiserId, name });
  const { access_token } = await call<{ access_token: string }>(baseUrl, 'POST', 'tokens', { advertiser_ids: [advertiserId] });
  return access_token;
}

export function emulatorAudience(baseUrl: string, audienceId: string, withIds = false): Promise<EmulatorAudience> {
  return call<EmulatorAudience>(baseUrl, 'GET', `audiences/${encodeURIComponent(audienceId)}?ids=${withIds}`);
}

