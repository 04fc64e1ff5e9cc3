import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { snapshotLandedSignal } from '../../../src/audience-sync/messages';
import { useAudienceHarness } from '../../helpers/audienceHarness';
import { cycleDone, waitForStatus } from '../../helpers/audienceStatus';
import { expectedDigests, person, range } from '../../helpers/syntheticPeople';

/*
 * The audience sync workflow against an emulator in sparse-answers mode: every field TikTok
 * does not always send is absent or null and every object carries an unknown field. A sync
 * must still hold exactly the expected digests. A proxy in front of the emulator can also
 * take away a field ttsync does need (is_valid), which must end the cycle as
 * UnexpectedResponse with advice, and the next cycle must carry on.
 */

const TOKEN_VAR = 'TTSYNC_TEST_SPARSE_SYNC_TOKEN';

let proxy: Server | undefined;
let proxyBaseUrl: string;
/** While set, get answers lose audience_details.is_valid. */
let dropIsValid = false;
let brokenGets = 0;
afterAll(() => new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r())));

const harness = useAudienceHarness({
  name: 'sparse',
  emulator: { processingDelay: 300, matchRate: 0.7, sparseAnswers: true },
  tokenVar: TOKEN_VAR,
  advertiserPrefix: '73',
  destinations: { label: 'sparse' },
  beforeWorkers: startProxy,
  tiktokApiBaseUrl: () => proxyBaseUrl,
});
const { issueToken, newAdvertiser, destination, start, audienceIds } = harness;

async function startProxy(): Promise<void> {
  proxy = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'access-token']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const upstream = await fetch(`${harness.emu.url}${req.url}`, { method: req.method, headers, ...(body.length ? { body } : {}) });
      let out = Buffer.from(await upstream.arrayBuffer());
      if (dropIsValid && req.url?.includes('dmp/custom_audience/get/')) {
        const answer = JSON.parse(out.toString('utf8')) as { data: { list: Array<{ audience_details: Record<string, unknown> }> } };
        for (const e of answer.data.list) delete e.audience_details.is_valid;
        out = Buffer.from(JSON.stringify(answer));
        brokenGets++;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(out);
    })().catch((err: unknown) => {
      res.writeHead(502);
      res.end(String(err));
    });
  });
  await new Promise<void>((r) => proxy!.listen(0, '127.0.0.1', r));
  proxyBaseUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}${new URL(harness.emu.apiBaseUrl).pathname}`;
}

function writeSnapshot(name: string, ids: number[]): string {
  const lines = ['email,phone', ...ids.map((i) => `${person(i).raw.email},${person(i).raw.phone}`)];
  const path = join(harness.dir, name);
  writeFileSync(path, lines.join('\n') + '\n');
  return `file://${path}`;
}

describe('audience sync against sparse TikTok answers', { timeout: 120_000 }, () => {
  it('syncs, then applies a second snapshot, with every field TikTok may omit missing or null', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const first = range(0, 1200);
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, first) } });

    const s1 = await waitForStatus(h, cycleDone(1));
    expect(s1.lastError).toBeNull();
    // cover_num is not always sent: unknown, which is not "too small to target".
    expect(s1.coverNum).toBeNull();
    expect(s1.phase).toBe('synced');
    expect(s1.isValid).toBe(true);
    expect(await audienceIds(s1.audienceId!)).toEqual(expectedDigests(first));

    const second = range(100, 1400);
    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, second) } });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastError).toBeNull();
    expect(s2.phase).toBe('synced');
    expect(s2.audienceId).toBe(s1.audienceId);
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(second));
    expect(s2.lastSync).toMatchObject({ added: 400, removed: 200 });
    await h.terminate('test done');
  });

  it('an answer without a field ttsync needs ends the cycle as UnexpectedResponse (retried a few times, with advice); the next cycle carries on', async () => {
    const advertiserId = newAdvertiser();
    await issueToken(advertiserId);
    const config = destination(advertiserId);
    const ids = range(2000, 3100);
    brokenGets = 0;
    dropIsValid = true;
    const h = await start({ config, snapshot: { uri: writeSnapshot(`${config.destinationId}-1.csv`, ids) } });
    const s1 = await waitForStatus(h, cycleDone(1));
    dropIsValid = false;
    expect(s1.phase).toBe('error');
    expect(s1.lastError?.type).toBe('UnexpectedResponse');
    expect(s1.lastError?.message).toMatch(
      /TikTok answered \/open_api\/v1\.3\/dmp\/custom_audience\/get\/ with an unexpected shape \(request_id \d{14}[0-9A-F]{10}\): data\.list\.0\.audience_details\.is_valid: missing/,
    );
    expect(s1.advice).toMatch(/^TikTok's answer to dmp\/custom_audience\/get\/ lacked a field ttsync needs .*report the request_id/);
    // The client's attempts (TIKTOK_UNEXPECTED_RESPONSE_ATTEMPTS, default 3), and no Temporal retry on top.
    expect(brokenGets).toBe(3);

    await h.signal(snapshotLandedSignal, { snapshot: { uri: writeSnapshot(`${config.destinationId}-2.csv`, ids) } });
    const s2 = await waitForStatus(h, cycleDone(2));
    expect(s2.lastError).toBeNull();
    expect(s2.advice).toBeNull();
    expect(s2.phase).toBe('synced');
    expect(s2.audienceId).toBe(s1.audienceId);
    expect(await audienceIds(s2.audienceId!)).toEqual(expectedDigests(ids));
    await h.terminate('test done');
  });
});
