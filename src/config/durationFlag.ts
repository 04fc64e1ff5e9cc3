import { InvalidArgumentError } from 'commander';
import { DurationSchema, durationProblem, durationMs } from './duration';

/*
 * Commander parsers for duration flags, in the grammar of duration.ts. Apart from it
 * because workflows import duration.ts and must not pull commander in.
 */

/** A duration flag read as milliseconds (zero allowed: e.g. an emulator delay of "0ms"). */
export function durationFlag(value: string): number {
  const ms = durationMs(value);
  if (ms === undefined) throw new InvalidArgumentError(durationProblem(value) ?? 'not a duration');
  return ms;
}

/**
 * A duration flag kept as its text, for values passed on to a workflow (which reads them
 * with the same grammar); checked like a config duration, so longer than zero.
 */
export function durationTextFlag(value: string): string {
  const r = DurationSchema.safeParse(value);
  if (!r.success) throw new InvalidArgumentError(r.error.issues.map((i) => i.message).join('; '));
  return value;
}
