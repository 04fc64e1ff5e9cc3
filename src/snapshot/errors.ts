/**
 * A snapshot that cannot be read at all (not text, not its declared format, a header
 * without the mapped columns). Names the file and line; never quotes file content,
 * because that content is personal data and error messages end up in logs and
 * workflow histories.
 */
export class SnapshotFormatError extends Error {
  override name = 'SnapshotFormatError';
  constructor(
    readonly source: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${source}: line ${line}: ${problem}`);
  }
}
