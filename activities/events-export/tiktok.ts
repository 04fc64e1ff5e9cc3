import { CancelledFailure, Context, heartbeat } from '@temporalio/activity';
import { resolveSecret as defaultResolveSecret } from '../../src/config/secrets';
import { parseEventsConfig, type EventsDestinationConfigInput } from '../../src/events-export/config';
import { sendRange, type SendTotals } from '../../src/events-export/send';
import { openBlobStore, type BlobStore } from '../../src/storage';
import { TikTokClient, type TikTokEnv } from '../../src/tiktok';
import { workdirOf, type EventsDataDeps } from './data';
import { toEventsFailure } from './failure';

export interface EventsTikTokDeps {
  resolveSecret?: (ref: string) => Promise<string>;
  tiktokEnv?: Partial<TikTokEnv>;
  openStore?: (uri: string) => BlobStore;
  /** Same default workdir as the data activities. */
  defaultWorkdir?: string;
}

export interface SendEventBatchesInput {
  config: EventsDestinationConfigInput;
  runId: string;
  /** Batches [from, to) of the run. */
  from: number;
  to: number;
}

/**
 * The Events API calls on the events task queue (its own maxTaskQueueActivitiesPerSecond):
 * one activity sends a range of a run's batches, skipping those its ledger already holds.
 * The token is resolved here from the config's reference on every attempt.
 */
export function createEventsTikTokActivities(deps: EventsTikTokDeps = {}) {
  const resolve = deps.resolveSecret ?? ((ref: string) => defaultResolveSecret(ref));
  const openStore = deps.openStore ?? ((uri: string) => openBlobStore(uri));
  return {
    async sendEventBatches(input: SendEventBatchesInput): Promise<SendTotals> {
      try {
        const config = parseEventsConfig(input.config, 'events destination config');
        let retries = 0;
        const client = new TikTokClient({
          accessToken: await resolve(config.accessToken),
          ...(config.appId ? { appId: config.appId } : {}),
          ...(deps.tiktokEnv ? { env: deps.tiktokEnv } : {}),
          onRetry: () => {
            retries++;
          },
        });
        const dataDeps: EventsDataDeps = deps.defaultWorkdir ? { defaultWorkdir: deps.defaultWorkdir } : {};
        return await sendRange(
          {
            runId: input.runId,
            from: input.from,
            to: input.to,
            eventSource: config.source,
            eventSourceId: config.eventSourceId,
            ...(config.testEventCode ? { testEventCode: config.testEventCode } : {}),
            ...(config.partnerName ? { partnerName: config.partnerName } : {}),
          },
          {
            work: openStore(workdirOf(config, dataDeps)),
            track: (req) => client.trackEvents(req),
            retries: () => retries,
            now: () => new Date(),
            heartbeat: (done) => {
              heartbeat({ done });
              if (Context.current().cancellationSignal.aborted) throw new CancelledFailure('activity cancelled');
            },
          },
        );
      } catch (err) {
        throw toEventsFailure(err);
      }
    },
  };
}

export type EventsTikTokActivities = ReturnType<typeof createEventsTikTokActivities>;
