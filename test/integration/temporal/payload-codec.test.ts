import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { describe, expect, it } from 'vitest';
import { healthCheck } from '../../../workflows';
import { healthReleaseSignal, healthStatusQuery } from '../../../workflows/healthCheck';
import { AesGcmPayloadCodec, ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../../src/temporal/payloadCodec';
import { startCodecServer } from '../../../src/temporal/codecServer';
import { loadHistoryFile, replayAll } from '../../../src/temporal/replay';
import { workflowsPath } from '../../../src/worker';
import { testTemporal, uniqueId, withWorkers } from '../../helpers/temporal';

/*
 * Encryption at rest on a real dev server: what the server stores (the raw history, read
 * without any codec) holds ciphertext only, while clients with the key read everything
 * decoded; saved plaintext histories still replay through the codec; the codec server
 * decodes for the UI and refuses callers without its bearer token.
 */

const HISTORIES = join(__dirname, '..', '..', 'histories');
const dec = new TextDecoder();
const key = (id: string) => ({ id, key: randomBytes(32) });

/**
 * Every payload of a history with its path, wherever the event keeps it (a generic walk: no
 * list of event kinds to forget one), except search attributes, which the server must index
 * in the clear (ttsync keeps only ids and states there).
 */
function payloadsIn(value: unknown, path = '', out: Array<Payload & { path: string }> = []): Array<Payload & { path: string }> {
  if (!value || typeof value !== 'object') return out;
  if (Array.isArray(value)) {
    value.forEach((v, i) => payloadsIn(v, `${path}[${i}]`, out));
    return out;
  }
  const o = value as Record<string, unknown>;
  if (o.metadata && typeof o.metadata === 'object' && 'data' in o) out.push({ ...(o as Payload), path });
  else for (const [k, v] of Object.entries(o)) if (k !== 'searchAttributes') payloadsIn(v, `${path}.${k}`, out);
  return out;
}

const encodingOf = (p: Payload) => (p.metadata?.encoding ? dec.decode(p.metadata.encoding) : undefined);

describe('payload encryption at rest', { timeout: 120_000 }, () => {
  it('stores only ciphertext on the server: input, memo, signal, query, activity and result payloads', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const marker = `plaintext-marker-${randomBytes(6).toString('hex')}`;
    const t = testTemporal();
    const connection = await Connection.connect({ address: t.address });
    const client = new Client({ connection, namespace: t.namespace, dataConverter: { payloadCodecs: [codec] } });
    const raw = new Client({ connection, namespace: t.namespace });
    try {
      await withWorkers(
        async ({ taskQueue }) => {
          const workflowId = uniqueId('codec-health');
          const handle = await client.workflow.start(healthCheck, {
            taskQueue,
            workflowId,
            args: [{ timer: '1ms', waitForReleaseUpTo: '1m', note: marker }],
            memo: { note: marker },
          });
          // An argument the handler ignores: the signal's payload carries the marker.
          await handle.signal('healthPing', { note: marker });
          await handle.signal(healthReleaseSignal);
          const result = await handle.result();
          expect(result.releasedBySignal).toBe(true);
          expect(result.pings).toBe(2);
          expect((await handle.query(healthStatusQuery)).phase).toBe('done');
          expect((await handle.describe()).memo).toEqual({ note: marker });

          // The raw history, as the server keeps it.
          const page = await connection.workflowService.getWorkflowExecutionHistory({ namespace: t.namespace, execution: { workflowId } });
          const events = page.history?.events ?? [];
          const payloads = payloadsIn(events);
          // input, the activity's input and result, the workflow's result at least
          expect(payloads.length).toBeGreaterThanOrEqual(4);
          expect(payloads.filter((p) => encodingOf(p) !== ENCRYPTED_ENCODING).map((p) => `${p.path}: ${encodingOf(p)}`)).toEqual([]);
          for (const p of payloads) expect(dec.decode(p.metadata![KEY_ID_METADATA]!)).toBe('k1');
          const serialized = JSON.stringify(temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.create({ events }), { bytes: String }));
          expect(serialized).not.toContain(Buffer.from(marker).toString('base64').slice(0, 16));
          expect(Buffer.from(temporal.api.history.v1.History.encode({ events }).finish()).includes(marker)).toBe(false);
          // The memo is stored encrypted too: a client without the key cannot read it.
          const described = await connection.workflowService.describeWorkflowExecution({ namespace: t.namespace, execution: { workflowId } });
          const memo = described.workflowExecutionInfo?.memo?.fields?.note;
          expect(memo && encodingOf(memo)).toBe(ENCRYPTED_ENCODING);
          await expect(raw.workflow.getHandle(workflowId).result()).rejects.toThrow(/encoding/i);

          // The encrypted history replays with the key.
          const history = await client.workflow.getHandle(workflowId).fetchHistory();
          const [outcome] = await replayAll({ workflowsPath: workflowsPath(), dataConverter: { payloadCodecs: [codec] } }, [{ workflowId, history, source: 'server' }]);
          expect(outcome?.error).toBeUndefined();
          expect(outcome?.ok).toBe(true);
        },
        { payloadCodec: codec },
      );
    } finally {
      await connection.close();
    }
  });

  it('a worker with the codec still runs a start typed without it (the UI, the temporal CLI)', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const t = testTemporal();
    const connection = await Connection.connect({ address: t.address });
    const plain = new Client({ connection, namespace: t.namespace });
    const withKey = new Client({ connection, namespace: t.namespace, dataConverter: { payloadCodecs: [codec] } });
    try {
      await withWorkers(
        async ({ taskQueue }) => {
          const workflowId = uniqueId('codec-plain-start');
          await plain.workflow.start(healthCheck, { taskQueue, workflowId, args: [{ timer: '1ms', note: 'typed' }] });
          expect((await withKey.workflow.getHandle(workflowId).result()).phase).toBe('done');
        },
        { payloadCodec: codec },
      );
    } finally {
      await connection.close();
    }
  });

  it('replays every saved plaintext history with the codec configured', async () => {
    const codec = new AesGcmPayloadCodec([key('k1')]);
    const files = readdirSync(HISTORIES).filter((f) => f.endsWith('.json'));
    const outcomes = await replayAll({ workflowsPath: workflowsPath(), dataConverter: { payloadCodecs: [codec] } }, files.map((f) => loadHistoryFile(join(HISTORIES, f))));
    expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    expect(outcomes).toHaveLength(files.length);
  });

  it('codec server: decodes for a caller with the bearer token, refuses one without, answers the UI origin with CORS', async () => {
    const old = key('2026-06');
    const before = new AesGcmPayloadCodec([old]);
    const after = new AesGcmPayloadCodec([key('2026-12'), old]);
    const token = randomBytes(16).toString('hex');
    const ui = 'http://127.0.0.1:8233';
    const server = await startCodecServer({ codec: after, host: '127.0.0.1', port: 0, origins: [ui], token });
    try {
      const plain = { metadata: { encoding: new TextEncoder().encode('json/plain') }, data: new TextEncoder().encode('{"note":"hello"}') };
      const [sealed] = await before.encode([plain]);
      const body = JSON.stringify({
        payloads: [{ metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(sealed!.data!).toString('base64') }],
      });
      const post = (path: string, headers: Record<string, string>) => fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', ...headers }, body });

      const refused = await post('/decode', {});
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain('hello');
      expect((await post('/decode', { Authorization: 'Bearer wrong' })).status).toBe(401);

      // A payload sealed with the old key decodes after rotation.
      const ok = await post('/some/prefix/decode', { Authorization: `Bearer ${token}`, Origin: ui });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('access-control-allow-origin')).toBe(ui);
      const decoded = (await ok.json()) as { payloads: Array<{ metadata: Record<string, string>; data: string }> };
      expect(Buffer.from(decoded.payloads[0]!.data, 'base64').toString()).toBe('{"note":"hello"}');
      expect(Buffer.from(decoded.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('json/plain');

      // Encode seals with the newest key.
      const enc = await fetch(`${server.url}/encode`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: JSON.stringify({ payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('1').toString('base64') }] }) });
      const sealedByServer = (await enc.json()) as { payloads: Array<{ metadata: Record<string, string> }> };
      expect(Buffer.from(sealedByServer.payloads[0]!.metadata[KEY_ID_METADATA]!, 'base64').toString()).toBe('2026-12');

      // The browser's preflight from the UI's origin is answered; another origin gets no CORS grant.
      const preflight = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: ui, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace,authorization' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization/);
      const other = await post('/decode', { Authorization: `Bearer ${token}`, Origin: 'http://evil.example' });
      expect(other.headers.get('access-control-allow-origin')).toBeNull();

      // Malformed bodies get a 400 with a reason, not a crash.
      const bad = await fetch(`${server.url}/decode`, { method: 'POST', headers: { Authorization: `Bearer ${token}` }, body: '{"payloads":[{"data":"%%%"}]}' });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toMatch(/base64/);
    } finally {
      await server.close();
    }
  });
});
