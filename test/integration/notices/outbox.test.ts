import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNoticeActivities } from '../../../activities/notices';
import { NoticeFailureType, NoticeOutbox, createNoticeService, storedNoticeOf, type NoticeRequest, type NoticeServiceDeps, type NoticeSettings } from '../../../src/notices';
import { createGcsClient, openBlobStore, type BlobStore } from '../../../src/storage';
import { runCli } from '../../helpers/cli';
import { startFakeGcs, type FakeGcs } from '../../helpers/fakeGcs';
import { headerOf, startMailpit, type Mailpit } from '../../helpers/mailpit';
import { rejectionOf } from '../../helpers/rejection';
import { startWebhookReceiver, type WebhookReceiver } from '../../helpers/webhookReceiver';

/*
 * The outbox end to end: the notice activities (in Temporal's mock activity context) write
 * each notice once to storage (a local folder, and fake-gcs-server) and deliver it through
 * the real adapters to Mailpit and a loopback webhook receiver. Expected Message-IDs are
 * computed here from the documented rule.
 */

const QUIET = { logger: new DefaultLogger('ERROR') };
const messageIdOf = (key: string): string => `<${createHash('sha256').update(key).digest('hex').slice(0, 40)}@notices.ttsync>`;
const digestOf = (key: string): string => createHash('sha256').update(key).digest('hex');

let mailpit: Mailpit;
let receiver: WebhookReceiver;
let gcs: FakeGcs;
let dir: string;
const BUCKET = 'ttsync-notices-test';
beforeAll(async () => {
  [mailpit, receiver, gcs] = await Promise.all([startMailpit(), startWebhookReceiver(), startFakeGcs()]);
  await createGcsClient({ apiEndpoint: gcs.endpoint, projectId: 'test' }).createBucket(BUCKET);
  dir = mkdtempSync(join(tmpdir(), 'ttsync-notices-'));
}, 60_000);
afterAll(async () => {
  await Promise.all([mailpit?.stop(), receiver?.stop(), gcs?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Mail in Mailpit whose idempotency header is `key`: Message-ID and subject of each copy. */
async function mailFor(key: string): Promise<{ messageId: string; subject: string; text: string; to: string[] }[]> {
  const out = [];
  for (const m of await mailpit.list()) {
    const h = await mailpit.headers(m.ID);
    if (headerOf(h, 'X-Ttsync-Idempotency-Key') !== key) continue;
    const full = await mailpit.message(m.ID);
    out.push({ messageId: headerOf(h, 'Message-ID') ?? '', subject: full.Subject, text: full.Text, to: full.To.map((t) => t.Address).sort() });
  }
  return out;
}
const hooksFor = (key: string) => receiver.received.filter((r) => r.status < 300 && (r.body as { key?: string }).key === key);

const stores: { name: string; open: (name: string) => { uri: string; open: (uri: string) => BlobStore } }[] = [
  { name: 'local folder', open: (name) => ({ uri: join(dir, name), open: (uri) => openBlobStore(uri) }) },
  {
    name: 'GCS (fake-gcs-server)',
    open: (name) => ({ uri: `gs://${BUCKET}/${name}`, open: (uri) => openBlobStore(uri, { gcs: { apiEndpoint: gcs.endpoint, projectId: 'test' } }) }),
  },
];

let seq = 0;
describe.each(stores)('notices outbox on $name', ({ open }) => {
  const setup = (overrides: Partial<NoticeSettings> = {}) => {
    const { uri, open: opener } = open(`outbox-${++seq}-${Date.now()}`);
    const settings: NoticeSettings = {
      storeUri: uri,
      defaultRoute: { email: ['default@ops.example'] },
      smtp: { url: mailpit.smtpUrl, from: 'ttsync <alerts@ttsync.example>' },
      uiBaseUrl: 'http://ui.example:8233',
      namespace: 'prod-ns',
      ...overrides,
    };
    const service = createNoticeService(settings, { openStore: opener });
    const acts = createNoticeActivities({ service });
    const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({}, QUIET).run(fn, ...args);
    return { service, acts, run, store: opener(uri) };
  };
  const request = (tag: string, extra: Partial<NoticeRequest> = {}): NoticeRequest => ({
    key: `audience-sync/dest-${tag}/${seq}/1/stale_snapshot/entered`,
    subject: `[ttsync] dest-${tag}: stale_snapshot`,
    text: `Destination dest-${tag} needs a person.\n`,
    metadata: { lifecycle: 'audience_sync', subjectId: `dest-${tag}`, state: 'stale_snapshot', event: 'entered', workflowId: `audience-sync:dest-${tag}` },
    ...extra,
  });

  it('writes a notice once, delivers it by email and webhook with the same ids, and a retry sends nothing more', async () => {
    const { acts, run, store } = setup();
    const req = request('both', { route: { email: ['a@ops.example', 'b@ops.example'], webhook: { url: receiver.url } } });
    const first = await run(acts.postNotice, req);
    expect(first).toMatchObject({ key: req.key, created: true, delivered: ['email', 'webhook'], alreadyDelivered: [], unrouted: false });
    const again = await run(acts.postNotice, req);
    expect(again).toMatchObject({ created: false, delivered: [], alreadyDelivered: ['email', 'webhook'] });

    const mail = await mailFor(req.key);
    expect(mail).toHaveLength(1);
    expect(mail[0]!.messageId).toBe(messageIdOf(req.key));
    expect(mail[0]!.to).toEqual(['a@ops.example', 'b@ops.example']);
    expect(mail[0]!.subject).toBe(req.subject);
    // The UI link, from the deployment's UI base URL and namespace.
    expect(mail[0]!.text).toContain('Temporal UI: http://ui.example:8233/namespaces/prod-ns/workflows/audience-sync%3Adest-both');
    const hooks = hooksFor(req.key);
    expect(hooks).toHaveLength(1);
    expect(hooks[0]!.headers['idempotency-key']).toBe(req.key);
    expect((hooks[0]!.body as { metadata: { uiUrl: string } }).metadata.uiUrl).toBe('http://ui.example:8233/namespaces/prod-ns/workflows/audience-sync%3Adest-both');

    // One notice object and one record per channel, named by the key's digest.
    const keys: string[] = [];
    for await (const i of store.list('')) keys.push(i.key);
    const d = digestOf(req.key);
    expect(keys.sort()).toEqual([`deliveries/${d}/email.json`, `deliveries/${d}/webhook.json`, `notices/${d}.json`]);
  });

  it('a notice written by an attempt that died before delivering is delivered by the retry, once', async () => {
    const { service, acts, run } = setup();
    const req = request('crash');
    // What the first attempt did before its worker died: the write, nothing else.
    await service.outbox.put(storedNoticeOf(req, service, new Date('2026-12-03T09:00:00Z')));
    expect(await mailFor(req.key)).toHaveLength(0);
    const posted = await run(acts.postNotice, req);
    expect(posted).toMatchObject({ created: false, delivered: ['email'] });
    const mail = await mailFor(req.key);
    expect(mail).toHaveLength(1);
    // The default route: the request named none.
    expect(mail[0]).toMatchObject({ messageId: messageIdOf(req.key), to: ['default@ops.example'] });
  });

  it('the same key with other content is InvalidNotice, and the stored notice stands', async () => {
    const { acts, run, service } = setup();
    const req = request('conflict');
    await run(acts.postNotice, req);
    const err = await rejectionOf(run(acts.postNotice, { ...req, subject: 'something else' }), ApplicationFailure);
    expect(err.type).toBe(NoticeFailureType.InvalidNotice);
    expect(err.nonRetryable).toBe(true);
    expect((await service.outbox.get(req.key))?.subject).toBe(req.subject);
    const bad = await rejectionOf(run(acts.postNotice, { ...req, key: 'has spaces' }), ApplicationFailure);
    expect(bad.type).toBe(NoticeFailureType.InvalidNotice);
    expect(bad.message).toContain('key');
  });

  it('a worker without SMTP keeps the notice undelivered (NoticeUndeliverable); the sweeper delivers it once SMTP is configured', async () => {
    const { uri, open: opener } = open(`outbox-sweep-${++seq}`);
    const base: NoticeSettings = { storeUri: uri, defaultRoute: null, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: 'default' };
    const noSmtp = createNoticeActivities({ service: createNoticeService(base, { openStore: opener }) });
    const run = <A extends unknown[], R>(fn: (...a: A) => Promise<R>, ...args: A): Promise<R> => new MockActivityEnvironment({}, QUIET).run(fn, ...args);
    const req = request('sweep', { route: { email: ['x@ops.example'], webhook: { url: receiver.url } } });
    const err = await rejectionOf(run(noSmtp.postNotice, req), ApplicationFailure);
    expect(err.type).toBe(NoticeFailureType.NoticeUndeliverable);
    expect(err.message).toContain('TTSYNC_SMTP_URL');
    // The webhook went out; the email did not.
    expect(hooksFor(req.key)).toHaveLength(1);
    expect(await mailFor(req.key)).toHaveLength(0);
    const unrouted = await run(noSmtp.postNotice, request('nowhere'));
    expect(unrouted).toMatchObject({ unrouted: true, delivered: [] });

    const withSmtp = createNoticeActivities({ service: createNoticeService({ ...base, smtp: { url: mailpit.smtpUrl, from: 'ttsync <a@ttsync.example>' } }, { openStore: opener }) });
    const swept = await run(withSmtp.deliverPendingNotices);
    expect(swept).toMatchObject({ notices: 2, delivered: [req.key], failed: [] });
    expect(await mailFor(req.key)).toHaveLength(1);
    expect(hooksFor(req.key)).toHaveLength(1);
    expect(await run(withSmtp.deliverPendingNotices)).toMatchObject({ notices: 2, delivered: [], failed: [] });
  });

  it('attachments are read from storage at delivery; a missing one keeps the notice pending (NoticeUndeliverable)', async () => {
    const { acts, run, store } = setup();
    await store.write('reports/2026-11.csv', 'month,events\n2026-11,42\n');
    const req = request('attach', { attachments: [{ uri: store.uriOf('reports/2026-11.csv'), contentType: 'text/csv' }] });
    await run(acts.postNotice, req);
    const [m] = (await mailpit.list()).filter((x) => x.Subject === req.subject);
    const full = await mailpit.message(m!.ID);
    expect(full.Attachments.map((a) => a.FileName)).toEqual(['2026-11.csv']);
    expect((await mailpit.attachment(m!.ID, full.Attachments[0]!.PartID)).toString()).toBe('month,events\n2026-11,42\n');
    // The stored notice names the URI, never the bytes.
    const outbox = new NoticeOutbox(store);
    expect(JSON.stringify(await outbox.get(req.key))).not.toContain('2026-11,42');

    const missing = request('attach-missing', { attachments: [{ uri: store.uriOf('reports/none.csv') }] });
    const err = await rejectionOf(run(acts.postNotice, missing), ApplicationFailure);
    expect(err.type).toBe(NoticeFailureType.NoticeUndeliverable);
    expect(await outbox.undeliveredChannels((await outbox.get(missing.key))!)).toEqual(['email']);
  });

  it('two writers of one key at once: one creates it, both deliver nothing twice', async () => {
    const { service } = setup({ smtp: null, defaultRoute: null });
    const deps: NoticeServiceDeps = service;
    const req = request('race');
    const results = await Promise.all([0, 1, 2].map((i) => deps.outbox.put(storedNoticeOf(req, deps, new Date(Date.UTC(2026, 11, 3, 9, 0, i))))));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    // All three see the winner's notice, createdAt included.
    expect(new Set(results.map((r) => r.notice.createdAt)).size).toBe(1);
  });
});

describe('ttsync notices (the sweeper from the command line, with the worker env)', () => {
  it('lists the notices still to deliver, delivers them, and refuses settings that cannot work', async () => {
    const storeUri = join(dir, `cli-outbox-${Date.now()}`);
    // A worker without SMTP left an email notice undelivered.
    const noSmtp = createNoticeService({ storeUri, defaultRoute: { email: ['ops@ops.example'] }, smtp: null, uiBaseUrl: 'http://127.0.0.1:8233', namespace: 'default' });
    const req: NoticeRequest = {
      key: `audience-sync/cli-dest/${Date.now()}/1-error/entered`,
      subject: '[ttsync] audience cli-dest: error entered',
      text: 'Destination cli-dest needs a person.\n',
      metadata: { lifecycle: 'audience_sync', subjectId: 'cli-dest', state: 'error', event: 'entered' },
    };
    await noSmtp.outbox.put(storedNoticeOf(req, noSmtp, new Date()));
    const env = { TTSYNC_NOTICES: storeUri, TTSYNC_NOTICE_EMAIL: 'ops@ops.example', TTSYNC_SMTP_URL: mailpit.smtpUrl, TTSYNC_SMTP_FROM: 'ttsync <a@ttsync.example>' };

    const listed = runCli(['notices', 'list', '--pending', '--json'], { env });
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { key: req.key, subject: req.subject, createdAt: expect.any(String), channels: ['email'], pending: ['email'] },
    ]);
    const delivered = runCli(['notices', 'deliver'], { env });
    expect(delivered.code).toBe(0);
    expect(delivered.stdout).toContain(`delivered ${req.key}`);
    expect(delivered.stdout).toContain('1 notice(s)');
    expect(await mailFor(req.key)).toEqual([expect.objectContaining({ messageId: messageIdOf(req.key), to: ['ops@ops.example'] })]);
    expect(runCli(['notices', 'list', '--pending', '--json'], { env }).stdout).toBe('');
    expect(runCli(['notices', 'deliver'], { env }).stdout).not.toContain('delivered audience-sync');

    // A password pasted where a secret reference belongs is refused (exit 2), never echoed.
    const bad = runCli(['notices', 'deliver'], { env: { ...env, TTSYNC_SMTP_PASSWORD: 'hunter2hunter2' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('TTSYNC_SMTP_PASSWORD must be a secret reference');
    expect(bad.stderr).not.toContain('hunter2');
  });
});
