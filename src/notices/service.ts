import type { SecretSources } from '../config/secrets';
import { openBlobStore, splitObjectUri, type BlobStore } from '../storage';
import type { NoticeChannel } from './channel';
import { NoticeOutbox } from './outbox';
import type { NoticeServiceDeps } from './post';
import type { NoticeChannelName } from './schema';
import { noticeSettingsFromEnv, type NoticeSettings } from './settings';
import { SmtpChannel } from './smtp';
import { WebhookChannel } from './webhook';

export interface NoticeServiceOptions {
  /** Opens the outbox folder (tests: a temp dir or fake-gcs-server); default by URI. */
  openStore?: (uri: string) => BlobStore;
  /** Reads an attachment; default the store its URI names, opened with openStore. */
  readAttachment?: (uri: string) => Promise<Buffer>;
  secrets?: SecretSources;
  now?: () => Date;
  /** Replaces or wraps the adapters (tests wrap them to stop a worker mid-delivery). */
  channels?: (built: Partial<Record<NoticeChannelName, NoticeChannel>>) => Partial<Record<NoticeChannelName, NoticeChannel>>;
}

/** The outbox, adapters and default route of a deployment, from its settings (default: the worker's env). */
export function createNoticeService(settings: NoticeSettings = noticeSettingsFromEnv(), options: NoticeServiceOptions = {}): NoticeServiceDeps {
  const open = options.openStore ?? ((uri: string) => openBlobStore(uri));
  const store = open(settings.storeUri);
  const built: Partial<Record<NoticeChannelName, NoticeChannel>> = {
    webhook: new WebhookChannel({ ...(options.secrets ? { secrets: options.secrets } : {}) }),
    ...(settings.smtp ? { email: new SmtpChannel(settings.smtp, options.secrets) } : {}),
  };
  return {
    outbox: new NoticeOutbox(store),
    channels: options.channels ? options.channels(built) : built,
    defaultRoute: settings.defaultRoute,
    uiBaseUrl: settings.uiBaseUrl,
    namespace: settings.namespace,
    readAttachment:
      options.readAttachment ??
      (async (uri: string) => {
        const { location, key } = splitObjectUri(uri);
        return open(location.uri).readBuffer(key);
      }),
    now: options.now ?? (() => new Date()),
  };
}
