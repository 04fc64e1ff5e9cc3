import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DecisionKind, Platform, Program, ProgramInput, SanSource } from './model';

/*
 * The sanMigration workflow's contract with the world: input, status, and the updates,
 * signals and query that steer and read it, shared by the workflow, the CLI and operators
 * typing into the Temporal UI. Ids, dates, counts and sentences only: contacts' addresses
 * stay in the partner-config store and are read by the notice activity.
 */

export const SanMigrationWorkflowType = { migration: 'sanMigration' } as const;

/** The workflow's signature, for typed client calls by type name. */
export type SanMigrationWorkflow = (input: SanMigrationInput) => Promise<SanMigrationStatus>;

export interface SanMigrationInput {
  accountId: string;
  /** The program to follow; absent: the store's current program (read by an activity). */
  program?: ProgramInput;
  /** Task queue of the activities that touch storage, TikTok and notices (default ttsync-tiktok). */
  activityQueue?: string;
  /**
   * How long one activity attempt may take before Temporal tries again on another worker
   * (default 2m): a worker that died mid-notice is noticed after it.
   */
  activityTimeout?: string;
  /** Steps (reminder, provisioning, cutover…) per run before continuing as new; default 20. History stays short over months. */
  stepsPerRun?: number;
  /** What a previous run (continue-as-new) knew. */
  carried?: SanMigrationStatus;
}

/** Where an account stands; the MigrationState search attribute carries it. */
export const MIGRATION_PHASES = [
  /** Before the program's decision deadline. */
  'awaiting_decision',
  /** Enrolled; the provisioning date has not come. */
  'awaiting_provisioning',
  /** Enrolled; provisioning is due or running. */
  'provisioning',
  /** Provisioned (or self-configured): TikTok cuts each app over, ttsync follows. */
  'awaiting_cutover',
  /** Every app is on SAN. Final. */
  'completed',
  /** Opt-in program and no opt-in by the deadline: the legacy integration stays. Final. */
  'not_enrolled',
  /** Opted out: the legacy integration stays untouched. Final. */
  'opted_out',
] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

export const FINAL_PHASES: readonly MigrationPhase[] = ['completed', 'not_enrolled', 'opted_out'];

export const APP_STATES = [
  /** On the legacy integration, not looked at by provisioning yet. */
  'legacy',
  /** ttsync gave it a SAN integration mirroring the legacy one. */
  'provisioned',
  /** It already had a SAN integration (the advertiser or the MMP's system): left alone. */
  'self_configured',
  /** TikTok announced its cutover; the contacts were told. */
  'notice_sent',
  /** Attribution comes from SAN, under the SAN network name. */
  'cut_over',
  /** The account opted out (or never opted in): legacy untouched. */
  'opted_out',
  /** TikTok App ID "N/A": nothing can be provisioned until the MMP records one. */
  'needs_app_id',
] as const;
export type AppState = (typeof APP_STATES)[number];

export interface AppStatus {
  appId: string;
  platform: Platform;
  /** "N/A" when the app has none. */
  tiktokAppId: string;
  state: AppState;
  /** Who configured its SAN integration, once it has one. */
  sanSource?: SanSource;
  /** The network name reporting shows now. */
  networkName: string;
  cutover?: { at: string; announcedAt: string; shortNotice: boolean };
  cutAt?: string;
  /** The BI mapping file written at cutover (old network name → SAN). */
  mappingUri?: string;
  /** Still not cut over at the program's target completion date. */
  targetMissed: boolean;
  advice?: string;
}

/** What the workflow reads of an account from the partner-config store: no contacts, no token. */
export interface AccountSummary {
  accountId: string;
  advertiserId: string;
  apps: {
    appId: string;
    platform: Platform;
    tiktokAppId: string;
    sanSource: SanSource | null;
    active: 'legacy' | 'san';
    networkName: string;
  }[];
  decision: DecisionRecord | null;
}

export interface DecisionRecord {
  kind: DecisionKind;
  by: string;
  at: string;
  sentence: string;
  message?: string;
  programId: string;
  programRevision: string;
}

export type NoticeKind = 'reminder' | 'provisioned' | 'cutover_notice' | 'short_notice' | 'paused_campaigns' | 'cut_over' | 'target_missed' | 'needs_app_id';

export interface NoticeRecord {
  kind: NoticeKind;
  /** contacts: the advertiser's people; operators: the MMP's team. */
  route: 'contacts' | 'operators';
  /** The outbox key: the same notice is never written twice. */
  key: string;
  at: string;
  appId?: string;
}

export type AlertKind = 'short_notice' | 'paused_campaigns' | 'campaign_check_failed' | 'needs_app_id' | 'target_missed' | 'program_refused' | 'notice_failed';

export interface AlertRecord {
  kind: AlertKind;
  at: string;
  message: string;
  appId?: string;
}

export interface SanMigrationStatus {
  accountId: string;
  advertiserId: string;
  phase: MigrationPhase;
  /** Whether the account's apps are (to be) migrated under the current program and decision. */
  enrolled: boolean;
  /** The program followed (parsed: defaults filled in). */
  program: Program;
  decision: DecisionRecord | null;
  apps: AppStatus[];
  /** The next thing the workflow waits for, and when (ISO), if it waits on a date. */
  next: { step: string; at: string } | null;
  /** Reminder keys already handled (`<deadline>|<offset>`): a program update with a new deadline gets new ones. */
  remindersHandled: string[];
  /** The target date whose check ran. */
  targetCheckedFor: string | null;
  notices: NoticeRecord[];
  alerts: AlertRecord[];
  lastCampaignCheck: { at: string; campaigns: number; paused: number; pausedCampaignIds: string[] } | null;
  /** The final word on an account that ended (opted out, not enrolled, completed). */
  finalNote?: string;
}

export interface DecisionRequest {
  /** Who decided: the advertiser's email or the operator who recorded it. */
  by: string;
  /** The advertiser's message, if any (e.g. the email that carried the sentence). */
  message?: string;
}

export interface DecisionResult {
  decision: DecisionRecord;
  /** True when the decision changes nothing (already so, or what the mode does anyway). */
  noop: boolean;
}

export interface CutoverAnnouncement {
  appId: string;
  /** TikTok's cutover time (ISO with zone). */
  at: string;
}

export interface CutoverAccepted {
  appId: string;
  at: string;
  shortNotice: boolean;
  noticeHours: number;
}

export const optInUpdate = defineUpdate<DecisionResult, [DecisionRequest]>('optIn');
export const optOutUpdate = defineUpdate<DecisionResult, [DecisionRequest]>('optOut');
export const announceCutoverUpdate = defineUpdate<CutoverAccepted, [CutoverAnnouncement]>('announceCutover');
/** A new program (or revision): timers move; `ttsync san program apply` sends it with signal-with-start. */
export const programChangedSignal = defineSignal<[ProgramInput]>('programChanged');
/** Read the account from the store again (apps added, an App ID recorded), then re-plan. */
export const refreshAccountSignal = defineSignal('refreshAccount');
export const sanMigrationStatusQuery = defineQuery<SanMigrationStatus>('sanMigrationStatus');
