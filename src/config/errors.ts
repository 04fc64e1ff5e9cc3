import type { z } from 'zod';

/*
 * The errors every part shares for input a person wrote: configs, environment, flags. Pure
 * (workflows validate their input with modules that raise these).
 */

/** A config or environment value that cannot be used; the message names the key. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** A usage problem found after the command line parsed (e.g. mutually exclusive flags): the CLI exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Formats zod issues as one line per problem, naming the offending key. */
export function formatZodIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`)
    .join('; ');
}
