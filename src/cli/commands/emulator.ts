import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_REDIRECT_URIS, parseFaultSpec, startEmulator, type Faults } from '../../emulator';
import { durationFlag } from '../../config/durationFlag';
import { parsePort } from '../../config/flags';

interface EmulatorOpts {
  port: number;
  processingDelay: number;
  matchRate: number;
  populationSeed: number;
  faults?: Faults;
  stateFile?: string;
  advertiser: string[];
  token?: string;
  appId: string;
  appSecret: string;
  qps: number;
  qpm: number;
  eventsQps: number;
  fileTtl: number;
  sparseAnswers: boolean;
  redirectUri: string[];
  role: Array<[string, string]>;
}

const share = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !(n >= 0 && n <= 1)) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
};
const positive = (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError('must be a positive number');
  return n;
};
const integer = (v: string) => {
  if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError('must be an integer');
  return Number(v);
};
const faults = (v: string) => {
  try {
    return parseFaultSpec(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};
const collect = (v: string, prev: string[]) => [...prev, v];
const collectRole = (v: string, prev: Array<[string, string]>): Array<[string, string]> => {
  const m = /^([^=\s]+)=([A-Z_]+)$/.exec(v);
  if (!m) throw new InvalidArgumentError('must be <advertiser id>=<ROLE>, e.g. 7000000000000000001=OPERATOR (ADMIN, OPERATOR or ANALYST)');
  return [...prev, [m[1]!, m[2]!]];
};

export function registerEmulatorCommand(program: Command, summary: string): void {
  program
    .command('emulator')
    .description(summary)
    .option('--port <port>', 'port on 127.0.0.1', parsePort, 8787)
    .option('--processing-delay <duration>', 'how long an audience stays is_valid=false after create/edit (e.g. 30s, 5m)', durationFlag, 10_000)
    .option('--match-rate <share>', 'share of uploaded ids that match emulated TikTok users (cover_num)', share, 0.7)
    .option('--population-seed <n>', 'seed of the emulated user population', integer, 0)
    .option('--faults <spec>', 'inject faults, e.g. throttle=0.1,error=0.05,http503=0.01,drop=0.01,latency=200ms,latencyShare=0.2,seed=7', faults)
    .option('--state-file <path>', 'load state from and save it to this file (survives restarts)')
    .option('--advertiser <id>', 'advertiser to create at start (repeatable)', collect, [])
    .option('--token <token>', 'an access token to accept for the --advertiser ids (default: env TTSYNC_EMULATOR_TOKEN)')
    .option('--app-id <id>', 'app_id accepted by oauth2/access_token', 'emulator-app')
    .option('--app-secret <secret>', 'secret of --app-id', 'emulator-secret')
    .option('--qps <n>', 'per-app QPS limit (non-events endpoints)', positive, 10)
    .option('--qpm <n>', 'per-app QPM limit (non-events endpoints)', positive, 600)
    .option('--events-qps <n>', 'per-app QPS limit of event/track', positive, 1000)
    .option('--file-ttl <duration>', 'how long an uploaded file_path stays usable', durationFlag, 86_400_000)
    .option('--redirect-uri <uri>', `a redirect URI registered for --app-id (repeatable; default ${DEFAULT_REDIRECT_URIS.join(' and ')})`, collect, [])
    .option('--role <advertiser=ROLE>', "the signed-in user's role on an ad account in the emulated Business Center (ADMIN, OPERATOR, ANALYST; repeatable); ad accounts without one are in no Business Center", collectRole, [])
    .option('--sparse-answers', 'drop or null every answer field TikTok does not always send, and add unknown fields (client robustness check)', false)
    .action(async (opts: EmulatorOpts) => {
      const log = (line: string) => process.stderr.write(`[emulator] ${line}\n`);
      const token = opts.token ?? process.env.TTSYNC_EMULATOR_TOKEN;
      const emu = await startEmulator({
        port: opts.port,
        processingDelay: opts.processingDelay,
        matchRate: opts.matchRate,
        populationSeed: opts.populationSeed,
        faults: opts.faults,
        stateFile: opts.stateFile,
        apps: { [opts.appId]: opts.appSecret },
        fileTtl: opts.fileTtl,
        sparseAnswers: opts.sparseAnswers,
        redirectUris: { [opts.appId]: opts.redirectUri.length ? opts.redirectUri : DEFAULT_REDIRECT_URIS },
        advertiserRoles: Object.fromEntries(opts.role),
        rateLimits: {
          default: { qps: opts.qps, qpm: opts.qpm },
          events: { qps: opts.eventsQps, qpm: opts.eventsQps * 600 },
          segment: { qps: 10_000, qpm: 600_000 },
        },
      });
      for (const id of opts.advertiser) emu.state.ensureAdvertiser(id);
      if (token) {
        if (!opts.advertiser.length) log('warning: --token without --advertiser: the token can reach no advertiser');
        emu.control.issueToken(opts.advertiser, { token });
        log(`accepting the given access token for advertiser(s) ${opts.advertiser.join(', ')}`);
      }
      log(`TikTok API emulator on ${emu.url}; point ttsync at TIKTOK_API_BASE_URL=${emu.apiBaseUrl}`);
      log(`inspect: ${emu.url}/_emulator/state  seed a token: POST ${emu.url}/_emulator/tokens {"advertiser_ids":["…"]}`);
      log(`OAuth: authorization page ${emu.url}/portal/auth for app ${opts.appId}, redirecting only to ${(emu.options.redirectUris[opts.appId] ?? []).join(', ')}`);
      if (opts.stateFile) log(`state file: ${opts.stateFile}`);
      if (opts.sparseAnswers) log('sparse answers: fields TikTok does not always send are dropped or null (POST /_emulator/sparse-answers {"enabled":false} to stop)');
      await new Promise<void>((done) => {
        const onSignal = (sig: NodeJS.Signals) => {
          log(`${sig}: stopping`);
          emu.close().then(done, done);
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      });
    });
}
