// What the long-run scripts (chaos, load, scale) share around their runner: reading a number
// flag with a message that names it, and ending with the run's report and exit code.

/** A whole number of at least `min`; the message names the flag and the value typed. */
export function wholeFlag(name: string, v: string, min: number): number {
  const x = Number(v);
  if (!Number.isInteger(x) || x < min) throw new Error(`--${name}: "${v}" is not a whole number of at least ${min}`);
  return x;
}

/** Prints the report after a blank line; exit code 1 unless the run was ok. */
export function endWithReport(result: { ok: boolean; report: readonly string[] }): void {
  console.log('');
  for (const line of result.report) console.log(line);
  process.exitCode = result.ok ? 0 : 1;
}

/** Runs the script's main; a failure prints its stack and exits 1. */
export function runScript(main: () => Promise<void>): void {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  });
}
