import type { Command } from 'commander';

/*
 * Every top-level command: its one-line summary and how to load it. The program loads only
 * the module of the command it runs (a command's modules pull in the Temporal SDK, storage
 * clients and more), so `ttsync --help` and `ttsync ids normalize` start at once. Import-free
 * but for types, so reading this table costs nothing.
 */

export interface CommandEntry {
  summary: string;
  /** The command's module, loaded only when it runs; it registers the command under this summary. */
  load(): Promise<(program: Command, summary: string) => void>;
}

export const COMMANDS = {
  dev: {
    summary: 'Run the local stack: Temporal dev server with its Web UI, and a worker. Ctrl-C stops all of it',
    load: async () => (await import('./dev.js')).registerDevCommand,
  },
  demo: {
    summary: 'Sync a synthetic audience (emails, phones, MAIDs, some invalid rows) to the TikTok emulator through the audienceSync workflow, twice (then with churn), and print what happened. Needs a running stack: ttsync dev (or ttsync dev --demo)',
    load: async () => (await import('./demo.js')).registerDemoCommand,
  },
  worker: {
    summary: "Run a worker against the Temporal cluster of the temporal CLI's profile (TEMPORAL_PROFILE) or TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE",
    load: async () => (await import('./worker.js')).registerWorkerCommand,
  },
  replay: {
    summary: 'Replay workflow histories against the current workflow code; fails on non-determinism',
    load: async () => (await import('./replay.js')).registerReplayCommand,
  },
  health: {
    summary: 'Run the healthCheck workflow on the cluster (a worker must be running) and print its result',
    load: async () => (await import('./health.js')).registerHealthCommand,
  },
  emulator: {
    summary: 'Run the TikTok Business API emulator (loopback only) for dry runs; see src/emulator/README.md',
    load: async () => (await import('./emulator.js')).registerEmulatorCommand,
  },
  auth: {
    summary: 'Connect ttsync to TikTok: the browser OAuth for the advertiser token (with a role check per ad account), and Events API tokens proved by a test event; tokens stored in 0600 files',
    load: async () => (await import('./auth.js')).registerAuthCommand,
  },
  ids: {
    summary: 'Check identifiers the way ttsync sends them to TikTok',
    load: async () => (await import('./ids.js')).registerIdsCommand,
  },
  audience: {
    summary: 'Sync a destination audience to TikTok and follow it',
    load: async () => (await import('../../audience-sync/cli.js')).registerAudienceCommand,
  },
  events: {
    summary: 'Export events to the TikTok Events API (event files or audience enters/exits) and follow them',
    load: async () => (await import('../../events-export/cli.js')).registerEventsCommand,
  },
  san: {
    summary: "Migrate MMP accounts to TikTok's SAN integration: import accounts, apply the program, record decisions and cutovers, follow each account",
    load: async () => (await import('../../san-migration/cli.js')).registerSanCommand,
  },
  links: {
    summary: "TikTok tracking links of an MMP's app: click-through and view-through URLs with TikTok's macros",
    load: async () => (await import('../../san-migration/linksCli.js')).registerLinksCommand,
  },
  schedules: {
    summary: "Temporal Schedules that keep each lifecycle's work going",
    load: async () => (await import('./schedules.js')).registerSchedulesCommand,
  },
  doctor: {
    summary: "Check the deployment and each config the way the vendors' troubleshooting lists do (Temporal, workers, token, advertiser, audience cap, conflicts, storage, schedules); read-only",
    load: async () => (await import('./doctor.js')).registerDoctorCommand,
  },
  notices: {
    summary: 'The notices outbox (alerts and other messages to people): list what waits, and deliver what a mail server or webhook missed',
    load: async () => (await import('./notices.js')).registerNoticesCommand,
  },
  rerun: {
    summary: 'Re-run a failed run after its cause was fixed (Temporal reset, or its input started again); prints what it did and the new run\'s UI link',
    load: async () => (await import('./rerun.js')).registerRerunCommand,
  },
  'codec-server': {
    summary: "Serve Temporal's remote codec (POST /encode, /decode) so the Web UI and the temporal CLI show decrypted payloads to operators; keys from TTSYNC_PAYLOAD_KEYS, bearer token, CORS for the UI",
    load: async () => (await import('./codecServer.js')).registerCodecServerCommand,
  },
  cluster: {
    summary: 'The production topology on this machine: PostgreSQL, the Temporal server on it, fake-gcs-server, the TikTok emulator and N workers (up, down, status, env)',
    load: async () => (await import('./cluster.js')).registerClusterCommand,
  },
  retention: {
    summary: "TikTok's attribution retention policy on a dataset: TikTok user-level data removed 6 months after attribution, those users reported as Organic; run, dry-run, report",
    load: async () => (await import('../../retention/cli.js')).registerRetentionCommand,
  },
  usage: {
    summary: 'TikTok Data Marketplace (3PD) usage: the monthly report of impressions, amount spent and data cost per segment, campaign and ad group, emailed to the reporting contacts',
    load: async () => (await import('../../usage-report/cli.js')).registerUsageCommand,
  },
} satisfies Record<string, CommandEntry>;

export type CommandName = keyof typeof COMMANDS;
