import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTied } from '../../src/process/spawnTied';
import { freePort } from '../../src/temporal/devServer';
import { resolveMailpit } from '../../src/temporal/toolchain';

/*
 * A real Mailpit (scripts/bootstrap builds it) on free loopback ports: its SMTP server takes
 * what the notice adapters send, and its HTTP API shows each message as received, with its
 * headers, text and attachments.
 */

export interface MailpitSummary {
  ID: string;
  MessageID: string;
  Subject: string;
  To: { Address: string }[];
}

export interface MailpitMessage {
  ID: string;
  /** Without angle brackets. */
  MessageID: string;
  Subject: string;
  Text: string;
  To: { Address: string }[];
  From: { Address: string; Name: string };
  Attachments: { PartID: string; FileName: string; ContentType: string; Size: number }[];
}

export interface Mailpit {
  smtpUrl: string;
  apiUrl: string;
  /** Every message received, newest first. */
  list(): Promise<MailpitSummary[]>;
  message(id: string): Promise<MailpitMessage>;
  /** Raw headers, name → values (Mailpit keeps the sender's spelling of names). */
  headers(id: string): Promise<Record<string, string[]>>;
  attachment(id: string, partId: string): Promise<Buffer>;
  deleteAll(): Promise<void>;
  stop(): Promise<void>;
}

export interface MailpitOptions {
  /** Only these recipients are accepted (a regular expression); others get an SMTP refusal. */
  allowedRecipients?: string;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export async function startMailpit(options: MailpitOptions = {}): Promise<Mailpit> {
  const bin = resolveMailpit();
  const dir = mkdtempSync(join(tmpdir(), 'ttsync-mailpit-'));
  for (let attempt = 1; ; attempt++) {
    const [smtpPort, httpPort] = [await freePort(), await freePort()];
    const apiUrl = `http://127.0.0.1:${httpPort}`;
    const child = spawnTied(
      bin,
      [
        '--smtp', `127.0.0.1:${smtpPort}`,
        '--listen', `127.0.0.1:${httpPort}`,
        '--database', join(dir, `mailpit-${attempt}.db`),
        '--disable-version-check',
        '--smtp-auth-accept-any',
        '--smtp-auth-allow-insecure',
        '--smtp-disable-rdns',
        '--quiet',
        ...(options.allowedRecipients ? ['--smtp-allowed-recipients', options.allowedRecipients] : []),
      ],
      { output: 'pipe' },
    );
    running.add(child);
    let stderr = '';
    const keep = (d: Buffer): void => {
      stderr = (stderr + d.toString()).slice(-2000);
    };
    child.stderr?.on('data', keep);
    child.stdout?.on('data', keep);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      running.delete(child);
    };
    const api = async <T>(path: string, init?: RequestInit): Promise<T> => {
      const res = await fetch(`${apiUrl}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
      if (!res.ok) throw new Error(`Mailpit ${init?.method ?? 'GET'} ${path}: HTTP ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${apiUrl}/api/v1/messages`, { signal: AbortSignal.timeout(1000) });
        if (res.ok) {
          return {
            smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
            apiUrl,
            list: async () => (await api<{ messages: MailpitSummary[] }>('/api/v1/messages?limit=1000')).messages,
            message: (id) => api<MailpitMessage>(`/api/v1/message/${id}`),
            headers: (id) => api<Record<string, string[]>>(`/api/v1/message/${id}/headers`),
            attachment: async (id, partId) => {
              const r = await fetch(`${apiUrl}/api/v1/message/${id}/part/${partId}`, { signal: AbortSignal.timeout(10_000) });
              if (!r.ok) throw new Error(`Mailpit part ${id}/${partId}: HTTP ${r.status}`);
              return Buffer.from(await r.arrayBuffer());
            },
            deleteAll: async () => {
              await fetch(`${apiUrl}/api/v1/messages`, { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
            },
            stop: async () => {
              await stop();
              rmSync(dir, { recursive: true, force: true });
            },
          };
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await stop();
    if (attempt >= 3) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`Mailpit (${bin}) did not start on ${apiUrl}: ${stderr.trim() || 'no output'}`);
    }
  }
}

/** A header's first value, whatever the case of its name. */
export function headerOf(headers: Record<string, string[]>, name: string): string | undefined {
  const k = Object.keys(headers).find((h) => h.toLowerCase() === name.toLowerCase());
  return k ? headers[k]?.[0] : undefined;
}
