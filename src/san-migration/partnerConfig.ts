import { ABSENT_GENERATION, isStorageError, readJsonForUpdate, StoredJsonError, type BlobStore } from '../storage';
import { AccountSchema, ProgramSchema, type Account, type Program } from './model';
import { SanMigrationError, SanMigrationFailureType } from './failures';

/*
 * The partner-config store: the MMP's accounts (apps, integrations, decisions) and the
 * current program. A port, so an MMP can put its own database behind it; the embedded
 * default keeps JSON documents in storage (local folder or GCS) and writes them by
 * compare-and-swap, so the CLI, a workflow and the MMP's own system never lose each
 * other's updates. Every adapter passes test/unit/san-migration/partnerConfigContract.ts.
 */

/** A document with the version to compare-and-swap it against. */
export interface Versioned<T> {
  value: T;
  version: string;
}

/** A compare-and-swap lost: someone wrote the document since it was read. */
export class PartnerConfigConflict extends Error {
  override name = 'PartnerConfigConflict';
}

export interface PartnerConfigStore {
  /** Where it lives, for messages (a URI, or a name the MMP's adapter chooses). */
  readonly location: string;
  getAccount(accountId: string): Promise<Versioned<Account> | null>;
  /** Writes if the stored version is still `expected` (null: must not exist); else PartnerConfigConflict. Returns the new version. */
  putAccount(account: Account, expected: string | null): Promise<string>;
  /** Every account id, sorted. */
  listAccountIds(): Promise<string[]>;
  getProgram(): Promise<Versioned<Program> | null>;
  putProgram(program: Program, expected: string | null): Promise<string>;
}

const MAX_CAS_ATTEMPTS = 10;

/**
 * Read-modify-write of one account, retried when another writer won in between. `change`
 * returns the new account, or null to leave it as it is (no write).
 */
export async function updateAccount(store: PartnerConfigStore, accountId: string, change: (current: Account) => Account | null): Promise<Account> {
  for (let attempt = 1; ; attempt++) {
    const current = await store.getAccount(accountId);
    if (!current) throw new SanMigrationError(SanMigrationFailureType.AccountNotFound, `account ${accountId} is not in the partner-config store ${store.location}: import it with ttsync san import --accounts <file>`);
    const next = change(current.value);
    if (!next) return current.value;
    try {
      await store.putAccount(AccountSchema.parse(next), current.version);
      return next;
    } catch (err) {
      if (!(err instanceof PartnerConfigConflict)) throw err;
      if (attempt >= MAX_CAS_ATTEMPTS)
        throw new SanMigrationError(SanMigrationFailureType.PartnerConfigContention, `account ${accountId} changed under every one of ${MAX_CAS_ATTEMPTS} attempts to update it in ${store.location}`);
    }
  }
}

const ACCOUNTS = 'accounts/';
const PROGRAM_KEY = 'program.json';

/** The embedded default: one JSON document per account, and one for the program, in a BlobStore. */
export class BlobPartnerConfigStore implements PartnerConfigStore {
  constructor(private readonly blobs: BlobStore) {}

  get location(): string {
    return this.blobs.uri;
  }

  async getAccount(accountId: string): Promise<Versioned<Account> | null> {
    return this.read(`${ACCOUNTS}${accountId}.json`, AccountSchema);
  }

  async putAccount(account: Account, expected: string | null): Promise<string> {
    return this.write(`${ACCOUNTS}${account.accountId}.json`, AccountSchema.parse(account), expected);
  }

  async listAccountIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const info of this.blobs.list(ACCOUNTS)) {
      const m = /^accounts\/([^/]+)\.json$/.exec(info.key);
      if (m?.[1]) ids.push(m[1]);
    }
    return ids.sort();
  }

  async getProgram(): Promise<Versioned<Program> | null> {
    return this.read(PROGRAM_KEY, ProgramSchema);
  }

  async putProgram(program: Program, expected: string | null): Promise<string> {
    return this.write(PROGRAM_KEY, ProgramSchema.parse(program), expected);
  }

  private async read<T>(key: string, schema: typeof AccountSchema | typeof ProgramSchema): Promise<Versioned<T> | null> {
    try {
      const { value, generation } = await readJsonForUpdate(this.blobs, key, schema);
      return value === null ? null : { value: value as T, version: generation };
    } catch (err) {
      if (err instanceof StoredJsonError) throw new SanMigrationError(SanMigrationFailureType.PartnerConfigCorrupt, err.message);
      throw err;
    }
  }

  private async write(key: string, value: unknown, expected: string | null): Promise<string> {
    try {
      const r = await this.blobs.writeIfGeneration(key, `${JSON.stringify(value, null, 1)}\n`, expected ?? ABSENT_GENERATION, { contentType: 'application/json' });
      return r.generation;
    } catch (err) {
      if (isStorageError(err, 'precondition_failed')) throw new PartnerConfigConflict(`${this.blobs.uriOf(key)} changed since it was read`);
      throw err;
    }
  }
}

/** In memory, for tests and for an MMP wiring its own source into a one-off script. */
export class MemoryPartnerConfigStore implements PartnerConfigStore {
  readonly location = 'memory:';
  private readonly docs = new Map<string, { json: string; version: number }>();
  private nextVersion = 1;

  async getAccount(accountId: string): Promise<Versioned<Account> | null> {
    return this.read(`a:${accountId}`, (v) => AccountSchema.parse(v));
  }
  async putAccount(account: Account, expected: string | null): Promise<string> {
    return this.write(`a:${account.accountId}`, AccountSchema.parse(account), expected);
  }
  async listAccountIds(): Promise<string[]> {
    return [...this.docs.keys()].filter((k) => k.startsWith('a:')).map((k) => k.slice(2)).sort();
  }
  async getProgram(): Promise<Versioned<Program> | null> {
    return this.read('program', (v) => ProgramSchema.parse(v));
  }
  async putProgram(program: Program, expected: string | null): Promise<string> {
    return this.write('program', ProgramSchema.parse(program), expected);
  }

  private async read<T>(key: string, parse: (v: unknown) => T): Promise<Versioned<T> | null> {
    const d = this.docs.get(key);
    return d ? { value: parse(JSON.parse(d.json)), version: String(d.version) } : null;
  }
  private async write(key: string, value: unknown, expected: string | null): Promise<string> {
    const d = this.docs.get(key);
    if ((d ? String(d.version) : null) !== expected) throw new PartnerConfigConflict(`${key} changed since it was read`);
    const version = this.nextVersion++;
    this.docs.set(key, { json: JSON.stringify(value), version });
    return String(version);
  }
}
