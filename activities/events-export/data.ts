import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import { parseEventsConfig, type EventsDestinationConfig, type EventsDestinationConfigInput } from '../../src/events-export/config';
import type { EventsInputObject } from '../../src/events-export/messages';
import { deleteOldRuns, prepareRun, type PreparedRun } from '../../src/events-export/prepare';
import { DEFAULT_WORKDIR } from '../../src/paths';
import { openBlob, openBlobStore, type BlobStore } from '../../src/storage';
import { toEventsFailure } from './failure';

export interface EventsDataDeps {
  /** Opens a folder-like store by URI (default: the storage adapters). */
  openStore?: (uri: string) => BlobStore;
  /** Opens one object by URI (default: the storage adapters). */
  openObject?: (uri: string) => { store: BlobStore; key: string };
  /** Workdir of destinations without storage.workdir (default: <data dir>/work). */
  defaultWorkdir?: string;
  now?: () => Date;
}

export interface PrepareEventsRunInput {
  config: EventsDestinationConfigInput;
  runId: string;
  input: EventsInputObject;
  /** Audience triggers: the previous snapshot's copy; none: this snapshot is the baseline. */
  previous?: EventsInputObject | null;
  /** When the workflow found the change (ms): the time of trigger events without a time column. */
  detectedAtMs: number;
  /** A scheduled re-export: skip the input if its MD5 is still this one. */
  unchangedMd5?: string;
}

/** The workdir URI of a destination, as its runs' URIs are built from. */
export function workdirOf(c: EventsDestinationConfig, deps: EventsDataDeps): string {
  return c.storage.workdir ?? deps.defaultWorkdir ?? DEFAULT_WORKDIR;
}

/**
 * The events data plane on the data task queue: one activity reads the input and writes the
 * run's batches, rejects and manifest to storage. Its result holds URIs and counts only.
 */
export function createEventsDataActivities(deps: EventsDataDeps = {}) {
  const openStore = deps.openStore ?? ((uri: string) => openBlobStore(uri));
  const openObject = deps.openObject ?? ((uri: string) => openBlob(uri));
  const now = deps.now ?? (() => new Date());
  return {
    async prepareEventsRun(input: PrepareEventsRunInput): Promise<PreparedRun> {
      try {
        const config = parseEventsConfig(input.config, 'events destination config');
        return await prepareRun(
          { config, runId: input.runId, input: input.input, previous: input.previous ?? null, detectedAtMs: input.detectedAtMs, ...(input.unchangedMd5 ? { unchangedMd5: input.unchangedMd5 } : {}) },
          {
            work: openStore(workdirOf(config, deps)),
            openInput: openObject,
            nowMs: () => now().getTime(),
            progress: (rows) => {
              heartbeat({ rows });
              if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('activity cancelled');
            },
          },
        );
      } catch (err) {
        throw toEventsFailure(err);
      }
    },

    /** Housekeeping after a finished run: all run folders but the newest `keep` and the baseline's go. */
    async deleteOldEventsRuns(input: { config: EventsDestinationConfigInput; keep: number; alsoKeep: string[] }): Promise<{ deleted: string[] }> {
      try {
        const config = parseEventsConfig(input.config, 'events destination config');
        return { deleted: await deleteOldRuns(openStore(workdirOf(config, deps)), config.destinationId, input.keep, input.alsoKeep) };
      } catch (err) {
        throw toEventsFailure(err);
      }
    },
  };
}

export type EventsDataActivities = ReturnType<typeof createEventsDataActivities>;
