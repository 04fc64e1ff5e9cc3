import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DestinationConfigError } from '../../../src/audience-sync/config';
import { DestinationConfigSetError, loadDestinationConfigFile, loadDestinationConfigs } from '../../../src/audience-sync/configFile';
import { rejectionOf } from '../../helpers/rejection';

const dir = mkdtempSync(join(tmpdir(), 'ttsync-destfile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const valid = (over: Record<string, unknown> = {}) => ({
  destinationId: 'vip',
  advertiserId: '111',
  audienceName: 'VIP buyers US',
  action: 'create',
  identifiers: { email: 'email' },
  accessToken: 'env:TIKTOK_ACCESS_TOKEN',
  sourceSegmentId: 'seg-1',
  ...over,
});

function write(name: string, content: unknown): string {
  const path = join(dir, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

describe('loading destination configs from files', () => {
  it('loads a valid file', async () => {
    expect((await loadDestinationConfigFile(write('ok.json', valid()))).destinationId).toBe('vip');
  });

  it('names the file and the JSON path of every problem', async () => {
    const path = write('bad.json', valid({ advertiserId: 'abc', identifiers: { 'e-mail': 'mail' } }));
    const err = await rejectionOf(loadDestinationConfigFile(path), DestinationConfigError);
    expect(err.message).toBe(
      `invalid destination config ${path}:\n` +
        '  $.advertiserId: advertiserId must be digits only\n' +
        '  $.identifiers["e-mail"]: Invalid option: expected one of "email"|"phone"|"maid"|"idfa"|"gaid"|"external_id"',
    );
  });

  it('reports a missing file and broken JSON readably', async () => {
    const missing = join(dir, 'missing.json');
    expect((await rejectionOf(loadDestinationConfigFile(missing), DestinationConfigError)).message).toBe(`invalid destination config ${missing}:\n  $: the file does not exist`);
    const broken = write('broken.json', '{\n  "destinationId": "vip"\n  "advertiserId": "1"\n}');
    expect((await rejectionOf(loadDestinationConfigFile(broken), DestinationConfigError)).message).toMatch(new RegExp(`^invalid destination config ${broken}:\\n {2}line 3 column 3: not valid JSON: `));
  });

  it('loads a folder of configs and checks them together', async () => {
    const folder = join(dir, 'set-ok');
    write('set-ok/a.json', valid({ destinationId: 'a' }));
    write('set-ok/b.json', valid({ destinationId: 'b', sourceSegmentId: 'seg-2' }));
    write('set-ok/notes.txt', 'ignored');
    expect((await loadDestinationConfigs(folder)).map((l) => l.config.destinationId)).toEqual(['a', 'b']);

    const clash = join(dir, 'set-clash');
    const a = write('set-clash/a.json', valid({ destinationId: 'a' }));
    const b = write('set-clash/b.json', valid({ destinationId: 'a', advertiserId: '111', audienceName: 'Another name' }));
    const c = write('set-clash/c.json', valid({ destinationId: 'c', advertiserId: '222', audienceName: 'Copy for UK' }));
    const d = write('set-clash/d.json', valid({ destinationId: 'd', retentionDays: 0 }));
    const err = await rejectionOf(loadDestinationConfigs(clash), DestinationConfigSetError);
    const messages = err.errors.map((e) => e.message);
    expect(messages).toEqual([
      `invalid destination config ${d}:\n  $.retentionDays: must be 1-365 days`,
      `invalid destination config ${b}:\n  $.destinationId: "a" is already used by ${a}`,
      `invalid destination config ${c}:\n  $.sourceSegmentId: source segment "seg-1" is already synced to advertiser 111 by destination "a"; TikTok refuses one segment in two ad accounts. Set separateCopy: true and give this copy its own audienceName`,
    ]);
    expect((await rejectionOf(loadDestinationConfigs(join(dir, 'nothing-here')), DestinationConfigSetError)).message).toContain('no such file or folder');
  });
});
