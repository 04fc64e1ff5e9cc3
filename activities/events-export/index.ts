import type { Client } from '@temporalio/client';
import { composeActivities } from '../../src/temporal/composeActivities';
import type { BlobStore } from '../../src/storage';
import type { TikTokEnv } from '../../src/tiktok';
import { createEventsControlActivities } from './control';
import { createEventsDataActivities } from './data';
import { createEventsTikTokActivities } from './tiktok';

export interface EventsExportActivityDeps {
  eventsExport?: {
    /** Workdir of destinations without storage.workdir (default: <data dir>/work); both data and sending use it. */
    defaultWorkdir?: string;
    openStore?: (uri: string) => BlobStore;
    tiktokEnv?: Partial<TikTokEnv>;
    resolveSecret?: (ref: string) => Promise<string>;
    now?: () => Date;
  };
  /** The Temporal client schedule ticks signal with (the worker supplies one). */
  eventsControl?: { client?: Client };
}

/** Every activity of events export: the data plane, the Events API calls and the schedule tick's control. */
export function createEventsExportActivities(deps: EventsExportActivityDeps) {
  const e = deps.eventsExport ?? {};
  return composeActivities({
    'events-export/data': createEventsDataActivities({
      ...(e.defaultWorkdir ? { defaultWorkdir: e.defaultWorkdir } : {}),
      ...(e.openStore ? { openStore: e.openStore } : {}),
      ...(e.now ? { now: e.now } : {}),
    }),
    'events-export/tiktok': createEventsTikTokActivities({
      ...(e.defaultWorkdir ? { defaultWorkdir: e.defaultWorkdir } : {}),
      ...(e.openStore ? { openStore: e.openStore } : {}),
      ...(e.tiktokEnv ? { tiktokEnv: e.tiktokEnv } : {}),
      ...(e.resolveSecret ? { resolveSecret: e.resolveSecret } : {}),
    }),
    'events-export/control': createEventsControlActivities(deps.eventsControl),
  });
}

export type { EventsDataActivities } from './data';
export type { EventsTikTokActivities } from './tiktok';
export type { EventsControlActivities, ScheduledEventsExportResult } from './control';
