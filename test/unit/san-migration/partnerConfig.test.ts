import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openBlobStore } from '../../../src/storage';
import { BlobPartnerConfigStore, MemoryPartnerConfigStore } from '../../../src/san-migration/partnerConfig';
import { SanMigrationError } from '../../../src/san-migration/failures';
import { partnerConfigContract } from './partnerConfigContract';
import { rejectionOf } from '../../helpers/rejection';

const base = mkdtempSync(join(tmpdir(), 'ttsync-partnerconfig-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));
let n = 0;

partnerConfigContract('JSON documents in a local folder', async () => new BlobPartnerConfigStore(openBlobStore(join(base, `s${++n}`))));
partnerConfigContract('in memory', async () => new MemoryPartnerConfigStore());

describe('JSON documents in storage', () => {
  it('a document that is not an account is PartnerConfigCorrupt, naming the object', async () => {
    const dir = join(base, `s${++n}`);
    mkdirSync(join(dir, 'accounts'), { recursive: true });
    writeFileSync(join(dir, 'accounts', 'acme.json'), '{"accountId": "acme"}');
    const err = await rejectionOf(new BlobPartnerConfigStore(openBlobStore(dir)).getAccount('acme'), SanMigrationError);
    expect(err.type).toBe('PartnerConfigCorrupt');
    expect(err.message).toContain('accounts/acme.json');
  });
});
