import type { IdentifierType } from '../identifiers/schema';
import { isSortedUniqueLines } from './digestLists';
import { isSortedUniqueRecords, recordsOfHexLines } from './digestRecords';
import { AudienceDataError, AudienceDataErrorTypes } from './failures';
import { lineWidth, recordWidth } from './listStore';

/**
 * An applied-state list as read back: sorted unique records (a list written before records,
 * as hex lines, is turned into records). Anything else was altered outside ttsync.
 */
export function appliedListRecords(bytes: Buffer, type: IdentifierType, ref: { uri: string; start: number; count: number; format?: string }, version: string): Buffer {
  let ids = bytes;
  let ok = false;
  try {
    if (ref.format !== 'records' && isSortedUniqueLines(ids, lineWidth(type))) ids = recordsOfHexLines(ids, lineWidth(type));
    ok = isSortedUniqueRecords(ids, recordWidth(type));
  } catch {
    ok = false;
  }
  if (!ok)
    throw new AudienceDataError(
      AudienceDataErrorTypes.corruptData,
      `${ref.uri}: an applied-state list of manifest ${version} at byte ${ref.start} is not ${ref.count} sorted ${type} lines; it was altered outside ttsync`,
    );
  return ids;
}
