import { z } from 'zod';
import { ConfigError } from './errors';

/*
 * The one way ttsync reads a duration, for destination configs, workflow input, CLI flags
 * and the emulator. Pure (no Node built-ins, no commander) because workflows import it;
 * the commander flag parsers are in durationFlag.ts.
 *
 * Whole numbers with a unit, largest unit first, each unit at most once: "36h", "2d",
 * "1h30m", "45s", "500ms", "1m500ms". A bare number is refused: "1500" reads as
 * milliseconds to some people and as seconds to others, so the unit is always written.
 * Fractions are refused too ("1.5s" is "1s500ms"), so every accepted string names an
 * exact number of milliseconds.
 */

const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNIT_MS = [86_400_000, 3_600_000, 60_000, 1_000, 1] as const;

export const DURATION_EXAMPLES = '"36h", "2d", "1h30m", "45s" or "500ms"';
const GRAMMAR = `a duration such as ${DURATION_EXAMPLES} (whole numbers; units d, h, m, s, ms, largest first)`;

/** Milliseconds of a duration string; undefined if the string is not one. */
export function durationMs(text: string): number | undefined {
  if (typeof text !== 'string' || text === '') return undefined;
  const m = DURATION.exec(text);
  if (!m) return undefined;
  let total = 0;
  for (let i = 0; i < UNIT_MS.length; i++) {
    const part = m[i + 1];
    if (part !== undefined) total += Number(part) * (UNIT_MS[i] ?? 0);
  }
  // Hundreds of digits would round or overflow to Infinity: not an exact duration.
  return Number.isSafeInteger(total) ? total : undefined;
}

/** What a near miss needs (a missing unit, a fraction); undefined for other strings. */
function nearMiss(text: string): string | undefined {
  const t = text.trim();
  if (/^\d+$/.test(t)) return `${JSON.stringify(text)} has no unit: write "${t}ms" for milliseconds, or use s, m, h or d`;
  const fraction = /^\d*\.\d+(ms|s|m|h|d)$/.exec(t);
  if (fraction) return `${JSON.stringify(text)} is not a whole number of ${fraction[1]}: combine units instead, e.g. "1s500ms"`;
  return undefined;
}

/** Why `text` is not a duration, in words a user can act on; undefined if it is one. */
export function durationProblem(text: string): string | undefined {
  if (durationMs(text) !== undefined) return undefined;
  return nearMiss(String(text)) ?? `${JSON.stringify(text)} is not ${GRAMMAR}`;
}

/** Milliseconds of a duration string, or a ConfigError saying what is wrong with it. */
export function durationMsOf(text: string): number {
  const ms = durationMs(text);
  if (ms === undefined) throw new ConfigError(`invalid duration: ${durationProblem(text)}`);
  return ms;
}

const MAX_DURATION_MS = 365 * 86_400_000;

/**
 * A duration written as a string (Temporal's UI and JSON configs carry strings; a bare
 * number would leave the unit to guesswork). Kept as the string so a parsed config is
 * still valid input for the next parse (workflow input, continue-as-new). Zero and more
 * than a year are refused: every such setting is a wait or a window.
 */
export const DurationSchema = z.string().superRefine((s, ctx) => {
  const ms = durationMs(s);
  if (ms === undefined) ctx.addIssue({ code: 'custom', message: nearMiss(s) ?? `must be ${GRAMMAR}` });
  else if (ms <= 0) ctx.addIssue({ code: 'custom', message: 'must be longer than zero' });
  else if (ms > MAX_DURATION_MS) ctx.addIssue({ code: 'custom', message: 'must be at most 365d' });
});
