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

/** One problem of a config a person wrote: where (a JSON path such as `$.input.keyColumn`) and what. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** JSON.parse of a person's text; a syntax error becomes the problem at its line and column. */
export function parseJsonText(text: string): { ok: true; value: unknown } | { ok: false; problem: ConfigProblem } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    let where = '$';
    if (pos) {
      const before = text.slice(0, Number(pos[1]));
      where = `line ${before.split('\n').length} column ${before.length - before.lastIndexOf('\n')}`;
    }
    return { ok: false, problem: { path: where, message: `not valid JSON: ${msg.replace(/ in JSON at position \d+.*$/, '')}` } };
  }
}

/** `$.a.b[0]["odd key"]`: the JSON path of a zod issue, as editors and jq print it. */
export function jsonPathOf(path: readonly PropertyKey[]): string {
  let out = '$';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg)) out += `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/**
 * One problem per zod issue, with its JSON path; an unknown key is named as such, and a union
 * that failed reports the branch that got furthest (the shape the person meant).
 */
export function zodProblems(error: z.ZodError): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  const depth = (issues: z.core.$ZodIssue[]): number =>
    Math.max(0, ...issues.map((i) => (i.code === 'invalid_type' && i.path.length === 0 ? -1 : i.path.length + 1)));
  const visit = (issue: z.core.$ZodIssue, base: readonly PropertyKey[]): void => {
    const path = [...base, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length && issue.message === 'Invalid input') {
      const best = [...issue.errors].sort((a, b) => depth(b) - depth(a))[0] ?? [];
      for (const sub of best) visit(sub, path);
      return;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: jsonPathOf([...path, key]), message: 'is not a known setting (check the spelling)' });
      return;
    }
    out.push({ path: jsonPathOf(path), message: issue.message });
  };
  for (const issue of error.issues) visit(issue, []);
  return out;
}
