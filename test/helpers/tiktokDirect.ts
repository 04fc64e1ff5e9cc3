import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import type { RunningEmulator } from '../../src/emulator';
import { emulatorControl } from '../integration/tiktok/helpers';

/** TikTok's own API, as Ads Manager or another tool would use it (not through ttsync's client). */
export async function tiktokApi<T>(emu: RunningEmulator, token: string, path: string, body: Record<string, unknown> | FormData): Promise<T> {
  const form = body instanceof FormData;
  const res = await fetch(`${emu.apiBaseUrl}/${path}`, {
    method: 'POST',
    headers: form ? { 'Access-Token': token } : { 'Access-Token': token, 'Content-Type': 'application/json' },
    body: form ? body : JSON.stringify(body),
  });
  const r = (await res.json()) as { code: number; data: T };
  expect(r.code).toBe(0);
  return r.data;
}

/** An email audience made outside ttsync, holding these SHA-256 digests, processed at once. */
export async function createAudienceDirect(emu: RunningEmulator, token: string, advertiserId: string, name: string, digests: readonly string[]): Promise<string> {
  const content = Buffer.from(digests.join('\n') + '\n');
  const form = new FormData();
  form.set('advertiser_id', advertiserId);
  form.set('calculate_type', 'EMAIL_SHA256');
  form.set('file_signature', createHash('md5').update(content).digest('hex'));
  form.set('file', new Blob([content]), 'outside.csv');
  const { file_path } = await tiktokApi<{ file_path: string }>(emu, token, 'dmp/custom_audience/file/upload/', form);
  const made = await tiktokApi<{ custom_audience_id: string }>(emu, token, 'dmp/custom_audience/create/', {
    advertiser_id: advertiserId,
    custom_audience_name: name,
    calculate_type: 'EMAIL_SHA256',
    file_paths: [file_path],
  });
  await emulatorControl(emu, 'POST', `audiences/${made.custom_audience_id}/finish-processing`);
  return made.custom_audience_id;
}
