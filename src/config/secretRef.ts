import { z } from 'zod';

/**
 * Where a secret (an access token) lives, never the secret itself: `env:NAME` or
 * `file:/abs/path`. Messages never echo the value, in case someone pasted a token here.
 * Pure: configs that workflows validate carry secret references.
 */
export const SecretRefSchema = z.string().refine((s) => /^env:[A-Za-z_][A-Za-z0-9_]*$/.test(s) || /^file:(\/\/\/|\/(?!\/))[^\0]*[^/\0]$/.test(s), {
  message: 'must be a secret reference such as "env:TIKTOK_ACCESS_TOKEN" or "file:/run/secrets/tiktok_token", never the token itself',
});
export type SecretRef = z.infer<typeof SecretRefSchema>;
