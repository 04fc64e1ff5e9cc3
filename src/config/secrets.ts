import { readFile, stat } from 'node:fs/promises';
import { SecretRefSchema } from './secretRef';

/**
 * Resolves secret references (`env:NAME`, `file:/path`) inside activities. Errors name the
 * reference (a variable name or a path), never the value, and the value is never cached:
 * an operator who rotates a revoked token and signals the workflow gets the new token on
 * the very next call.
 */
export class SecretError extends Error {
  override name = 'SecretError';
  constructor(
    readonly code: 'bad_reference' | 'missing' | 'empty' | 'unreadable' | 'malformed',
    message: string,
  ) {
    super(message);
  }
}

export interface SecretSources {
  env?: NodeJS.ProcessEnv;
  /** Receives the warning about a secret file others can read (default: once per file on stderr). */
  warn?: (message: string) => void;
}

const warnedFiles = new Set<string>();
const warnOnStderr = (message: string): void => {
  if (warnedFiles.has(message)) return;
  warnedFiles.add(message);
  process.stderr.write(`warning: ${message}\n`);
};

const MAX_SECRET_FILE_BYTES = 64 * 1024;

/** The path a `file:` reference names (`file:/p` and `file:///p` both mean /p). */
function filePathOf(ref: string): string {
  const rest = ref.slice('file:'.length);
  return rest.startsWith('///') ? rest.slice(2) : rest;
}

export async function resolveSecret(ref: string, sources: SecretSources = {}): Promise<string> {
  if (!SecretRefSchema.safeParse(ref).success)
    // The string may be a pasted token: say what is wrong without repeating it.
    throw new SecretError('bad_reference', 'the secret setting is not a reference such as env:TIKTOK_ACCESS_TOKEN or file:/run/secrets/tiktok_token (its value is not shown)');
  if (ref.startsWith('env:')) {
    const name = ref.slice('env:'.length);
    const value = (sources.env ?? process.env)[name];
    if (value === undefined) throw new SecretError('missing', `secret ${ref}: environment variable ${name} is not set in the worker's environment`);
    return checked(value, `secret ${ref}: environment variable ${name}`);
  }
  const path = filePathOf(ref);
  let text: string;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw new SecretError('unreadable', `secret ${ref}: ${path} is a folder, not a file`);
    if (st.mode & 0o077)
      // Still used (refusing would stop a running sync), but said: any local user could take it.
      (sources.warn ?? warnOnStderr)(
        `secret ${ref}: ${path} is readable or writable by ${st.mode & 0o070 ? 'its group' : ''}${st.mode & 0o070 && st.mode & 0o007 ? ' and ' : ''}${st.mode & 0o007 ? 'other users' : ''} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run chmod 600 ${path}`,
      );
    if (st.size > MAX_SECRET_FILE_BYTES) throw new SecretError('malformed', `secret ${ref}: ${path} is ${st.size} bytes, too large for a token (limit ${MAX_SECRET_FILE_BYTES})`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof SecretError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SecretError('missing', `secret ${ref}: file ${path} does not exist`);
    if (code === 'EACCES' || code === 'EPERM') throw new SecretError('unreadable', `secret ${ref}: file ${path} is not readable by the worker (${code})`);
    throw new SecretError('unreadable', `secret ${ref}: cannot read ${path} (${code ?? 'error'})`);
  }
  return checked(text, `secret ${ref}: file ${path}`);
}

function checked(raw: string, what: string): string {
  // Secret files usually end in a newline (echo, kubectl, docker secrets); tokens never do.
  const value = raw.trim();
  if (value === '') throw new SecretError('empty', `${what} is empty`);
  if (/\s/.test(value)) throw new SecretError('malformed', `${what} holds more than one word or line; it should hold only the token`);
  return value;
}
