import { ABSENT_GENERATION, isStorageError, parseStoredJson, readJsonObject, type BlobStore } from '../storage';
import { noticeDigest } from './ids';
import { DeliveryRecordSchema, StoredNoticeSchema, channelsOf, type DeliveryRecord, type NoticeChannelName, type StoredNotice } from './schema';

/*
 * The outbox: every notice written once, under its idempotency key, before any channel sees
 * it; a delivery record per channel written after that channel accepted it. A crash between
 * the two leaves a notice without its record, which the retried activity (or the sweeper)
 * delivers: nothing is lost. The notice itself is never rewritten.
 *
 * Layout, in the deployment's notices folder (TTSYNC_NOTICES, local or gs://):
 *   notices/<sha256 of key>.json                  the notice (StoredNoticeSchema)
 *   deliveries/<sha256 of key>/<channel>.json     one per channel that delivered it
 */

export const NOTICES_PREFIX = 'notices/';
export const DELIVERIES_PREFIX = 'deliveries/';

/** A key already names a stored notice with other content: a producer bug (keys must be derived from the content's subject). */
export class NoticeKeyConflictError extends Error {
  override name = 'NoticeKeyConflictError';
}

const noticeObject = (key: string): string => `${NOTICES_PREFIX}${noticeDigest(key)}.json`;
const deliveryObject = (key: string, channel: NoticeChannelName): string => `${DELIVERIES_PREFIX}${noticeDigest(key)}/${channel}.json`;

/** What distinguishes one notice from another: everything but when it was written. */
const sameContent = (a: StoredNotice, b: StoredNotice): boolean => {
  const strip = ({ createdAt: _c, ...rest }: StoredNotice) => JSON.stringify(rest);
  return strip(a) === strip(b);
};

export class NoticeOutbox {
  constructor(readonly store: BlobStore) {}

  get uri(): string {
    return this.store.uri;
  }

  /** The URI of a notice's object, for logs and messages. */
  uriOf(key: string): string {
    return this.store.uriOf(noticeObject(key));
  }

  /**
   * Writes the notice if its key is new (compare-and-swap on absence: of two writers, one
   * wins) and returns the stored one: the first writer's, whose createdAt stands. The same
   * key with other content is a NoticeKeyConflictError; the stored notice is kept.
   */
  async put(notice: StoredNotice): Promise<{ notice: StoredNotice; created: boolean }> {
    const key = noticeObject(notice.key);
    try {
      await this.store.writeIfGeneration(key, JSON.stringify(notice, null, 1), ABSENT_GENERATION, { contentType: 'application/json' });
      return { notice, created: true };
    } catch (err) {
      if (!isStorageError(err, 'precondition_failed')) throw err;
    }
    const stored = await this.get(notice.key);
    if (!stored) throw new Error(`notice ${notice.key}: ${this.store.uriOf(key)} was written by another writer and is gone again`);
    if (!sameContent(stored, notice))
      throw new NoticeKeyConflictError(
        `notice key "${notice.key}" already names another notice in ${this.store.uriOf(key)} (subject "${stored.subject}"); a key must be derived from what the notice is about, so the same key always means the same notice`,
      );
    return { notice: stored, created: false };
  }

  /** The stored notice, or null when the key was never written. */
  async get(key: string): Promise<StoredNotice | null> {
    try {
      return await readJsonObject(this.store, noticeObject(key), StoredNoticeSchema);
    } catch (err) {
      if (isStorageError(err, 'not_found')) return null;
      throw err;
    }
  }

  /** The channels that delivered the notice, with their records. */
  async deliveries(key: string): Promise<Map<NoticeChannelName, DeliveryRecord>> {
    const out = new Map<NoticeChannelName, DeliveryRecord>();
    for await (const info of this.store.list(`${DELIVERIES_PREFIX}${noticeDigest(key)}/`)) {
      const record = parseStoredJson(await this.store.readBuffer(info.key), DeliveryRecordSchema, this.store.uriOf(info.key));
      out.set(record.channel, record);
    }
    return out;
  }

  /** Records a channel's delivery. A plain write: a second record of the same delivery says the same thing. */
  async recordDelivery(record: DeliveryRecord): Promise<void> {
    await this.store.write(deliveryObject(record.key, record.channel), JSON.stringify(record, null, 1), { contentType: 'application/json', md5: false });
  }

  /** The channels of the notice's route that have not delivered it yet. */
  async undeliveredChannels(notice: StoredNotice): Promise<NoticeChannelName[]> {
    const done = await this.deliveries(notice.key);
    return channelsOf(notice.route).filter((c) => !done.has(c));
  }

  /** Every stored notice, oldest object name first (names are digests: the order is arbitrary but stable). */
  async *all(): AsyncIterable<StoredNotice> {
    for await (const info of this.store.list(NOTICES_PREFIX)) {
      if (!info.key.endsWith('.json')) continue;
      yield parseStoredJson(await this.store.readBuffer(info.key), StoredNoticeSchema, this.store.uriOf(info.key));
    }
  }
}
