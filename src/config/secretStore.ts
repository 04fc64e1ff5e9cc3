import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { SecretError } from './secrets';
import { SecretRefSchema } from './secretRef';

/**
 * Stores a secret where a `file:` reference points, so that `resolveSecret` reads it back.
 * The file is created with mode 0600 from its first byte (a temporary file opened with that
 * mode, then renamed over the target): no moment exists at which another user could read
 * it, and a reader never sees half a token. Messages name the path, never the value.
 */
export async function storeSecret(ref: string, value: string): Promise<string> {
  if (!SecretRefSchema.safeParse(ref).success || !ref.startsWith('file:'))
    throw new SecretError('bad_reference', `${ref.startsWith('env:') ? `${ref} is an environment variable, which ttsync cannot set for other processes` : 'the reference is not file:/absolute/path'}: give --token-ref file:/absolute/path`);
  if (value === '' || /\s/.test(value)) throw new SecretError('malformed', 'the secret to store is empty or holds whitespace');
  const rest = ref.slice('file:'.length);
  const path = rest.startsWith('///') ? rest.slice(2) : rest;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx', 0o600);
    try {
      // A umask cannot add bits, but an odd filesystem default could: set the mode explicitly too.
      await fh.chmod(0o600);
      await fh.writeFile(`${value}\n`, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    // rename keeps the temporary file's mode; an existing target's looser mode is gone with it.
    await chmod(path, 0o600);
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new SecretError('unreadable', `cannot write ${path} (${code})`);
  }
  return path;
}
