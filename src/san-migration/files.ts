import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../config/errors';
import { AccountSchema, ProgramSchema, type Account, type Program } from './model';
import { unreadableReason } from '../config/unreadable';

/*
 * Reading the files an operator writes: accounts to import and a program to apply. Every
 * problem is reported at once, each with the file and its JSON path.
 */

export class SanFileError extends ConfigError {
  override name = 'SanFileError';
}

async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SanFileError(`${path}: ${unreadableReason(err)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new SanFileError(`${path}: not valid JSON (${(err as Error).message})`);
  }
}

const jsonPath = (path: readonly PropertyKey[]) => `$${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
const problems = (file: string, error: z.ZodError, prefix: readonly PropertyKey[] = []) => error.issues.map((i) => `${file}: ${jsonPath([...prefix, ...i.path])}: ${i.message}`);

/** `[account, …]` or `{"accounts": [account, …]}`; account ids unique. */
export async function loadAccountsFile(path: string): Promise<Account[]> {
  const doc = await readJsonFile(path);
  const list = Array.isArray(doc) ? doc : (doc as { accounts?: unknown } | null)?.accounts;
  if (!Array.isArray(list)) throw new SanFileError(`${path}: $: must be a list of accounts, or {"accounts": [...]}`);
  const prefix = Array.isArray(doc) ? [] : ['accounts'];
  const errs: string[] = [];
  const accounts: Account[] = [];
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const r = AccountSchema.safeParse(item);
    if (!r.success) errs.push(...problems(path, r.error, [...prefix, i]));
    else if (seen.has(r.data.accountId)) errs.push(`${path}: ${jsonPath([...prefix, i, 'accountId'])}: account ${r.data.accountId} appears twice`);
    else {
      seen.add(r.data.accountId);
      accounts.push(r.data);
    }
  });
  if (errs.length) throw new SanFileError(errs.join('\n'));
  return accounts;
}

export async function loadProgramFile(path: string): Promise<Program> {
  const r = ProgramSchema.safeParse(await readJsonFile(path));
  if (!r.success) throw new SanFileError(problems(path, r.error).join('\n'));
  return r.data;
}
