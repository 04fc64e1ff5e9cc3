import type { DestinationConfigInput } from './config';
import type { AudienceSyncTiming, InputObject } from './messages';

/*
 * The dry run's contract (`ttsync audience sync --dry-run`, workflow type audienceSyncPreview,
 * id audience-sync-preview:<destinationId>): what a sync of a snapshot would add, remove and
 * reject, from the same prepare and diff activities the sync runs, with no TikTok call and no
 * commit. Types only: the workflow and its client share them, and the result holds counts and
 * URIs, never identifiers.
 */

/** Plain JSON, like the sync's input: the destination config and the snapshot to preview. */
export interface AudienceSyncPreviewInput {
  config: DestinationConfigInput;
  /** Default: the config's storage.snapshot. */
  snapshot?: InputObject;
  /** Task queues of the data activities (default ttsync-data); the preview uses no TikTok queue. */
  queues?: { data?: string; tiktok?: string };
  /** Only heartbeatTimeout matters to a preview. */
  timing?: AudienceSyncTiming;
}

/** Per identifier type, as the diff counted them (unique digests). */
export interface PreviewTypeCounts {
  /** In the snapshot. */
  input: number;
  /** In the applied state now. */
  applied: number;
  /** A sync would APPEND these. */
  added: number;
  /** A sync would REMOVE these (0 in addOnly). */
  removed: number;
  /** In the applied state after that sync. */
  after: number;
}

export interface AudienceSyncPreviewResult {
  destinationId: string;
  workflowId: string;
  syncMode: 'mirror' | 'addOnly';
  snapshot: { uri: string; createdAt: string; bytes: number };
  /**
   * Where the sync would stop before sending anything (the snapshot is older than the
   * readiness window): nothing was prepared and the counts are 0.
   */
  stop: { phase: 'stale_snapshot'; message: string; advice: string } | null;
  /** The applied state the diff ran against (version null: never synced). */
  applied: { version: string | null; audienceId: string | null; total: number };
  /** The preview's run folder (runs/<runId>/ of the workdir); only its rejects files outlive the preview. */
  runId: string | null;
  /** Snapshot rows read. */
  rows: number;
  /** Ids a sync would send in APPEND files (the create's included). */
  added: number;
  /** Ids a sync would send in REMOVE files. */
  removed: number;
  byType: Record<string, PreviewTypeCounts>;
  /** Rows and values prepare refused, by reason. */
  rejected: Record<string, number>;
  /** The rejects files (row, line, column, type, reason, detail, value); the CLI samples them. */
  rejectsUris: string[];
}

/** The preview's signature, for typed client calls by type name. */
export type AudienceSyncPreviewWorkflow = (input: AudienceSyncPreviewInput) => Promise<AudienceSyncPreviewResult>;
