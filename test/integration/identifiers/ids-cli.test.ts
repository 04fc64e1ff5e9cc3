import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, exitOf, runCli, spawnCli, waitForOutput } from '../../helpers/cli';

// scripts/test builds dist/ before vitest; when this file runs alone after an edit, rebuild.
function newestMtime(dir: string): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return t;
}

beforeAll(() => {
  const built = join(ROOT, 'dist', 'src', 'cli', 'commands', 'ids.js');
  const sources = Math.max(newestMtime(join(ROOT, 'src', 'identifiers')), statSync(join(ROOT, 'src', 'cli', 'commands', 'ids.ts')).mtimeMs);
  if (!existsSync(built) || statSync(built).mtimeMs < sources) {
    try {
      execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
    } catch {
      // tsc still emits when another module has a type error; the checks below use what it emitted.
    }
  }
}, 180_000);

interface Line {
  input: string;
  normalized: string | null;
  hash: string | null;
  prehashed: boolean;
  error: string | null;
}

function normalize(args: string[], input: string) {
  // Own spawnSync: the output of big inputs exceeds the default 1 MiB maxBuffer.
  const p = spawnSync(process.execPath, [BIN, 'ids', 'normalize', ...args], { cwd: ROOT, input, encoding: 'utf8', maxBuffer: 64 << 20, timeout: 60_000 });
  const r = { code: p.status, stdout: p.stdout, stderr: p.stderr };
  const lines = r.stdout.split('\n');
  expect(lines.pop()).toBe('');
  return { ...r, lines, objects: lines.map((l) => JSON.parse(l) as Line) };
}

describe('ttsync ids normalize', () => {
  it('writes exactly one JSON object per input line, in the contract shape and key order', () => {
    const input = [' Jane.Doe+promo@Example.COM ', '', 'not-an-email', 'D6117306485ED0E50AFAB3AC871E98F81699151F30281527D63FF5F233656C69', 'a1a71d7132ffc45541100d58092ac49e'].join('\n') + '\n';
    const r = normalize(['--type', 'email', '--context', 'audience'], input);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.lines).toEqual([
      '{"input":" Jane.Doe+promo@Example.COM ","normalized":"jane.doe@example.com","hash":"86e0b9e56c17cc4d12387e1949b85053fbe73bc3ce5a1188713a9d300cc6133d","prehashed":false,"error":null}',
      '{"input":"","normalized":null,"hash":null,"prehashed":false,"error":null}',
      '{"input":"not-an-email","normalized":null,"hash":null,"prehashed":false,"error":"invalid_email"}',
      '{"input":"D6117306485ED0E50AFAB3AC871E98F81699151F30281527D63FF5F233656C69","normalized":null,"hash":"d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69","prehashed":true,"error":null}',
      '{"input":"a1a71d7132ffc45541100d58092ac49e","normalized":null,"hash":null,"prehashed":false,"error":"wrong_hash_kind"}',
    ]);
  });

  it('events context keeps the +suffix', () => {
    const r = normalize(['--type', 'email', '--context', 'events'], ' Jane.Doe+promo@Example.COM \n');
    expect(r.objects[0]!.hash).toBe('c3374bcfe3572e09f37602e0e179782352c5e117a4a3767824abbaa21bbdef8b');
  });

  it('keeps order over many lines, handles CRLF and a last line without newline', () => {
    const values = Array.from({ length: 20_000 }, (_, i) => (i % 7 === 0 ? `bad${i}` : i % 11 === 0 ? '' : `User${i}@Example.com`));
    const r = normalize(['--type', 'email', '--context', 'events'], values.join('\r\n'));
    expect(r.code).toBe(0);
    expect(r.objects.map((o) => o.input)).toEqual(values);
    expect(r.objects.filter((o) => o.error === 'invalid_email')).toHaveLength(values.filter((v) => v.startsWith('bad')).length);
    expect(r.objects[1]!.normalized).toBe('user1@example.com');
  });

  it('phones: --country for national numbers, digits for audience, + for events', () => {
    const input = '(213) 373-4253\n+374 93 828222\n2133734253 x\n';
    const aud = normalize(['--type', 'phone', '--context', 'audience', '--country', 'US'], input);
    expect(aud.objects.map((o) => [o.normalized, o.hash, o.error])).toEqual([
      ['12133734253', '1f81adb30e11317806be982cc82769fbf8627833a89dd87cb24d282f71828830', null],
      ['37493828222', '65b7e6dcf6f4310f8d7cbfbd78289a753062fb054d6664fb9aaac5df66a422d4', null],
      [null, null, 'invalid_phone'],
    ]);
    const evt = normalize(['--type', 'phone', '--context', 'events'], '(+1)2133734253\n2133734253\n');
    expect(evt.objects.map((o) => [o.normalized, o.hash, o.error])).toEqual([
      ['+12133734253', '9f7ec22d72092cd3c0b58726ed9c2d91b92e51a3f29837508fb2948bb22dd2fd', null],
      [null, null, 'invalid_phone'],
    ]);
    const e164 = normalize(['--type', 'phone', '--context', 'audience', '--phone-format', 'e164'], '+37493828222\n');
    expect(e164.objects[0]!.hash).toBe('241371e614f8650dfae0f111361c69de1bb4829a72b71bb8044daae8b2e7791d');
  });

  it('MAIDs with --hash md5, zeroed and invalid IDs; external_id keeps case', () => {
    const m = normalize(['--type', 'idfa', '--context', 'audience', '--hash', 'md5'], '5F3A2B18-9C4D-4E7F-B8E2-17D3A1E69B25\n00000000-0000-0000-0000-000000000000\n4242\n');
    expect(m.objects.map((o) => [o.hash, o.error])).toEqual([
      ['a1a71d7132ffc45541100d58092ac49e', null],
      [null, 'zeroed_maid'],
      [null, 'invalid_maid'],
    ]);
    const g = normalize(['--type', 'gaid', '--context', 'events'], '5f3a2b18-9c4d-4e7f-b8e2-17d3a1e69b25\n');
    expect(g.objects[0]!.hash).toBe('83dc3f5f32b9472613b0f038d36f22585a609d018af6f6067f50da318bf354bd');
    const x = normalize(['--type', 'external_id', '--context', 'events'], ' user_123 \n');
    expect(x.objects[0]).toEqual({ input: ' user_123 ', normalized: 'user_123', hash: '80fba0ae1c48e3978e43e4efc365e14e12ea0c830ba8ba5b9a2dafc7e3f2ab8b', prehashed: false, error: null });
  });

  it('too_long values are rejected', () => {
    const r = normalize(['--type', 'external_id', '--context', 'events'], `${'x'.repeat(1025)}\n`);
    expect(r.objects[0]!.error).toBe('too_long');
  });

  it('answers each line as it arrives, before the input ends (a person typing, a slow producer)', async () => {
    const child = spawnCli(['ids', 'normalize', '--type', 'email', '--context', 'audience']);
    try {
      child.stdin?.write(' Jane.Doe@Example.com \n');
      // stdin stays open: the answer must come anyway.
      const m = await waitForOutput(child, /"normalized":"jane\.doe@example\.com"/, 20_000);
      expect(m).not.toBeNull();
      expect(child.exitCode).toBeNull();
    } finally {
      child.stdin?.end();
    }
    expect(await exitOf(child)).toBe(0);
  });

  it('empty input gives empty output and exit 0', () => {
    const r = runCli(['ids', 'normalize', '--type', 'email', '--context', 'events'], { input: '' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });

  it.each([
    [['--type', 'fax', '--context', 'audience'], /--type/],
    [['--type', 'email'], /--context/],
    [['--context', 'events'], /--type/],
    [['--type', 'email', '--context', 'crm'], /--context/],
    [['--type', 'email', '--context', 'events', '--hash', 'md5'], /md5 is only for mobile advertising IDs/],
    [['--type', 'phone', '--context', 'events', '--hash', 'sha1'], /--hash/],
    [['--type', 'phone', '--context', 'events', '--country', 'USA'], /country code/],
    [['--type', 'email', '--context', 'events', '--bogus'], /unknown option '--bogus'/],
    [['--type', 'email', '--context', 'events', 'extra-arg'], /too many arguments|unknown|excess/i],
  ])('bad flags %j exit 2 with a one-line message and no output', (args, message) => {
    const r = runCli(['ids', 'normalize', ...(args as string[])], { input: 'a@x.com\n' });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });
});
