import { z } from 'zod';
import { ColumnMappingSchema, NormalizationOptionsSchema } from '../identifiers/schema';

export const SnapshotFormatSchema = z.enum(['csv', 'ndjson']);
export type SnapshotFormat = z.infer<typeof SnapshotFormatSchema>;

/** CSV field delimiter; absent means "detect it from the header row". */
export const CsvDelimiterSchema = z.enum([',', ';', '\t']);
export type CsvDelimiter = z.infer<typeof CsvDelimiterSchema>;

/** How to read one snapshot object: its format, its column mapping and the identifier rules. */
export const SnapshotReadOptionsSchema = z.object({
  format: SnapshotFormatSchema,
  delimiter: CsvDelimiterSchema.optional(),
  mapping: ColumnMappingSchema,
  normalization: NormalizationOptionsSchema,
});
export type SnapshotReadOptions = z.input<typeof SnapshotReadOptionsSchema>;

/**
 * Where a reader stopped, at a record boundary: a crashed activity heartbeats this and
 * resumes by reading the object from `byteOffset` (a ranged read). Holds no row data;
 * `header` is the CSV column names, which are configuration, not personal data.
 */
export const SnapshotPositionSchema = z.object({
  byteOffset: z.number().int().nonnegative(),
  /** Data records read so far (the header and blank lines are not records). */
  rows: z.number().int().nonnegative(),
  /** 1-based physical line the next record starts on. */
  line: z.number().int().positive(),
  header: z.array(z.string()).optional(),
  delimiter: CsvDelimiterSchema.optional(),
});
export type SnapshotPosition = z.infer<typeof SnapshotPositionSchema>;
