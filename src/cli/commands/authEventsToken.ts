import { UsageError } from '../../config/errors';
import { SecretRefSchema } from '../../config/secretRef';
import { resolveSecret } from '../../config/secrets';
import { storeSecret } from '../../config/secretStore';
import { TikTokClient, TikTokError, checkEventsToken } from '../../tiktok';

/*
 * `ttsync auth events-token`: an Events API token that the user generated in Events Manager
 * (per pixel or app), or the token of one offline event set, is read (stdin without echo,
 * or a secret reference), proved with one test event that carries the user's
 * test_event_code, and stored in a 0600 file. A token TikTok refuses is not stored.
 */

export interface EventsTokenOpts {
  kind: 'events-manager' | 'offline';
  eventSourceId?: string;
  eventSetId?: string;
  eventSource: 'web' | 'app';
  testEventCode: string;
  tokenRef: string;
  tokenFrom: string;
  appId?: string;
  json?: boolean;
}

/** Reads the token from stdin: piped, or typed on a terminal without echo. */
async function readStdinToken(): Promise<string> {
  const stdin = process.stdin;
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of stdin as AsyncIterable<Buffer>) chunks.push(c);
    return Buffer.concat(chunks).toString('utf8').trim();
  }
  process.stderr.write('Paste the token and press Enter (it is not shown): ');
  stdin.setRawMode(true);
  stdin.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let text = '';
      const onData = (b: Buffer) => {
        for (const ch of b.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            stdin.off('data', onData);
            process.stderr.write('\n');
            return resolve(text.trim());
          }
          if (ch === '\u0003') {
            stdin.off('data', onData);
            return reject(new Error('interrupted'));
          }
          if (ch === '\u007f') text = text.slice(0, -1);
          else text += ch;
        }
      };
      stdin.on('data', onData);
    });
  } finally {
    stdin.setRawMode(false);
    stdin.pause();
  }
}

export async function storeEventsToken(opts: EventsTokenOpts): Promise<void> {
  if (!opts.tokenRef.startsWith('file:') || !SecretRefSchema.safeParse(opts.tokenRef).success)
    throw new UsageError('--token-ref must be file:/absolute/path: ttsync writes the token there (mode 0600)');
  const sourceId = opts.kind === 'offline' ? opts.eventSetId : opts.eventSourceId;
  if (!sourceId?.trim())
    throw new UsageError(opts.kind === 'offline' ? '--kind offline needs --event-set-id <offline event set id>' : '--kind events-manager needs --event-source-id <pixel code or app id>');
  if (opts.kind === 'offline' && opts.eventSourceId) throw new UsageError('--kind offline takes --event-set-id, not --event-source-id');
  if (opts.kind === 'events-manager' && opts.eventSetId) throw new UsageError('--kind events-manager takes --event-source-id, not --event-set-id (offline event sets: --kind offline)');
  if (opts.tokenFrom !== 'stdin' && !SecretRefSchema.safeParse(opts.tokenFrom).success)
    throw new UsageError('--token-from must be stdin, env:NAME or file:/path (never the token itself; the value is not shown)');

  const token = opts.tokenFrom === 'stdin' ? await readStdinToken() : await resolveSecret(opts.tokenFrom);
  if (!token) throw new UsageError('no token was given on stdin');
  if (/\s/.test(token)) throw new UsageError('the token holds whitespace: give only the token');

  const client = new TikTokClient({ accessToken: token, ...(opts.appId ? { appId: opts.appId } : {}) });
  let check;
  try {
    check = await checkEventsToken(client, {
      kind: opts.kind,
      eventSourceId: sourceId.trim(),
      eventSource: opts.eventSource,
      testEventCode: opts.testEventCode,
    });
  } catch (e) {
    if (e instanceof TikTokError)
      throw new Error(`TikTok refused the test event, so the token was not stored: ${e.message}. Check that the token belongs to ${opts.kind === 'offline' ? 'offline event set' : 'event source'} ${sourceId} and that the test event code is current`);
    throw e;
  }
  await storeSecret(opts.tokenRef, token);
  const result = {
    ok: true,
    kind: opts.kind,
    eventSource: check.eventSource,
    eventSourceId: check.eventSourceId,
    testEvent: { event: check.event, eventId: check.eventId, testEventCode: check.testEventCode, requestId: check.requestId },
    tokenRef: opts.tokenRef,
    tokenStored: true,
  };
  process.stdout.write(
    opts.json
      ? `${JSON.stringify(result)}\n`
      : `TikTok accepted test event ${check.event} (event_id ${check.eventId}, test_event_code ${check.testEventCode}) for ${check.eventSource} source ${check.eventSourceId}; look for it in Events Manager > Test events\n` +
          `token stored in ${opts.tokenRef.replace(/^file:(\/\/)?/, '')} (mode 0600)\n`,
  );
}
