import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSecret } from '../../../src/config/secrets';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('file: secrets that other users can read', () => {
  it('are used, with a warning naming the file, its mode and the fix (never the value); 0600 and 0400 are silent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ttsync-secret-mode-'));
    dirs.push(dir);
    const f = join(dir, 'token');
    const token = 'tok-' + 'a'.repeat(30);
    writeFileSync(f, `${token}\n`);
    const seen: Array<[number, string[]]> = [];
    for (const mode of [0o644, 0o640, 0o604, 0o600, 0o400]) {
      chmodSync(f, mode);
      const warnings: string[] = [];
      expect(await resolveSecret(`file:${f}`, { warn: (m) => warnings.push(m) })).toBe(token);
      seen.push([mode, warnings]);
    }
    const [w644, w640, w604, w600, w400] = seen.map(([, w]) => w);
    expect(w644).toEqual([`secret file:${f}: ${f} is readable or writable by its group and other users (mode 0644); run chmod 600 ${f}`]);
    expect(w640?.[0]).toContain('by its group (mode 0640)');
    expect(w604?.[0]).toContain('by other users (mode 0604)');
    expect(w600).toEqual([]);
    expect(w400).toEqual([]);
    for (const [, w] of seen) for (const m of w) expect(m).not.toContain(token);
  });
});
