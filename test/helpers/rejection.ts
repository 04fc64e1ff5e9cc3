import { expect } from 'vitest';

/**
 * Awaits a promise that must reject with an instance of `Class`, and returns the error
 * typed as that class so the caller can assert on its fields. A promise that resolves
 * fails the test with what it resolved to (a bare "expected undefined to be an instance"
 * would hide that the call succeeded).
 */
export async function rejectionOf<E>(promise: Promise<unknown>, Class: abstract new (...args: never[]) => E): Promise<E> {
  const outcome = await promise.then(
    (value: unknown) => ({ resolved: true as const, value }),
    (error: unknown) => ({ resolved: false as const, error }),
  );
  if (outcome.resolved) return expect.unreachable(`expected a rejection with ${Class.name}, but the promise resolved to ${String(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(Class);
  return outcome.error as E;
}
