import { z } from 'zod';
import { storageUriProblem } from './uriSyntax';

/*
 * The zod form of a storage URI in a config, so every lifecycle's config says the same thing
 * about the same mistake. Pure (configs are validated inside workflows): zod and the syntax only.
 */

const FORMS = 'gs://bucket/path, file:///absolute/path or an absolute path';

const article = (word: string): string => (/^[aeiou]/i.test(word) ? 'an' : 'a');

/**
 * A storage location as src/storage opens it, absolute because a worker has no working folder
 * to resolve it against. `what` names it in the message ("workdir folder", "snapshot object");
 * `object`: a file, not a folder or a bucket.
 */
export const storageUriSchema = (what: string, opts: { object?: boolean } = {}) =>
  z.string().superRefine((s, ctx) => {
    const problem = storageUriProblem(s, opts);
    if (!problem) return;
    ctx.addIssue({
      code: 'custom',
      message:
        problem.kind === 'not_object'
          ? 'must name an object (a file), not a folder or a bucket'
          : // The scheme's own reason already lists the forms.
            problem.kind === 'form' && problem.why.includes('(use ')
            ? `must be ${article(what)} ${what} URI: ${FORMS}`
            : `must be ${article(what)} ${what} URI (${FORMS}): ${problem.why}`,
    });
  });
