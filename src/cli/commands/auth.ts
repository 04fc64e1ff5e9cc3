import { Command, InvalidArgumentError, Option } from 'commander';
import { durationFlag } from '../../config/durationFlag';
import type { ConnectOpts } from './authConnect';
import type { EventsTokenOpts } from './authEventsToken';

/*
 * `ttsync auth`: how a user connects ttsync to TikTok. `connect` runs TikTok's Marketing API
 * OAuth in the browser (digest §13) and stores the advertiser token; `events-token` stores an
 * Events API token after a test event proved it. Tokens go only into 0600 files behind a
 * `file:` reference, never to stdout, stderr or an error. The command's modules load inside
 * the actions, so `ttsync auth --help` stays instant.
 */

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

const collect = (v: string, prev: string[]) => [...prev, v];
const nonEmpty = (what: string) => (v: string) => {
  if (!v.trim()) throw new InvalidArgumentError(`${what} must not be empty`);
  return v.trim();
};

export function registerAuthCommand(program: Command, summary: string): void {
  const auth = program.command('auth').description(summary);

  auth
    .command('connect')
    .description(
      "Authorize the TikTok app in the browser (TikTok's OAuth): prints the authorization URL, receives the redirect on --redirect-uri, exchanges the code, checks the user's role on each authorized ad account and stores the token in the --token-ref file (mode 0600)",
    )
    .requiredOption('--app-id <id>', 'the TikTok app id (TikTok for Business developer portal)', nonEmpty('--app-id'))
    .requiredOption('--app-secret-ref <ref>', "where the app's secret is: env:NAME or file:/path (never the secret itself)")
    .requiredOption('--redirect-uri <uri>', 'a redirect URI registered for the app, e.g. http://127.0.0.1:8788/callback; ttsync listens on its host, port and path')
    .requiredOption('--token-ref <ref>', 'where to store the token: file:/absolute/path (written with mode 0600)')
    .addOption(new Option('--advertiser <id>', 'an ad account ttsync will use (repeatable); each must have a sufficient role').argParser(collect).default([], 'every authorized one'))
    .option('--auth-url <url>', "TikTok's authorization page (default: TIKTOK_AUTH_URL, else /portal/auth on TIKTOK_API_BASE_URL's host)")
    .addOption(new Option('--timeout <duration>', 'how long to wait for the redirect').argParser(durationFlag).default(DEFAULT_TIMEOUT_MS, '10m'))
    .option('--json', 'print the result as one JSON object on stdout (the URL and progress stay on stderr)')
    .action(async (opts: ConnectOpts) => {
      const { connect } = await import('./authConnect.js');
      await connect(opts);
    });

  auth
    .command('events-token')
    .description(
      'Store an Events API token (an Events Manager token of a pixel or app, or an offline event set\'s token) in the --token-ref file (mode 0600), after TikTok accepted a test event sent with it; the event always carries --test-event-code, so no real event is ever sent',
    )
    .addOption(new Option('--kind <kind>', 'events-manager (a pixel or app token) or offline (an offline event set token)').choices(['events-manager', 'offline']).makeOptionMandatory())
    .option('--event-source-id <id>', 'the pixel code (or app id with --event-source app) the events-manager token belongs to')
    .option('--event-set-id <id>', 'the offline event set the offline token belongs to')
    .addOption(new Option('--event-source <source>', 'for events-manager tokens: web (pixel) or app').choices(['web', 'app']).default('web'))
    .requiredOption('--test-event-code <code>', 'the test event code from Events Manager > Test events (the check event carries it)', nonEmpty('--test-event-code'))
    .requiredOption('--token-ref <ref>', 'where to store the token: file:/absolute/path (written with mode 0600)')
    .option('--token-from <source>', 'where to read the token: stdin (piped, or typed without echo), env:NAME or file:/path', 'stdin')
    .option('--app-id <id>', 'the TikTok app id, for the per-app rate limit (default: TIKTOK_APP_ID)')
    .option('--json', 'print the result as one JSON object')
    .action(async (opts: EventsTokenOpts) => {
      const { storeEventsToken } = await import('./authEventsToken.js');
      await storeEventsToken(opts);
    });
}

