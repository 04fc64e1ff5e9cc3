import { z } from 'zod';
import { IdentifierTypeSchema } from '../identifiers/schema';
import { InputSetSchema, RunIdSchema } from './layout';

/*
 * The small JSON objects the data plane writes next to its data: what prepare produced,
 * what each diff group found, and the audience's applied-state manifest and pointer.
 * Each is read back through its schema, so a truncated or hand-edited object is a clear
 * error instead of wrong data.
 */

const count = z.number().int().nonnegative();
const shardKey = z.string().regex(/^[0-9a-f]{2}$/);

/**
 * How a stored digest list is written: "records" (raw digests, digestRecords.ts). Absent:
 * hex lines (digestLists.ts), the only form before records, still read everywhere.
 */
export const ListFormatSchema = z.literal('records');
export type ListFormat = z.infer<typeof ListFormatSchema>;

/** One spill part of prepare: its key and the byte offset of each (shard, type) slot. */
export const SpillPartSchema = z.object({
  key: z.string(),
  ids: count,
  /** offsets[shard * types.length + t]; one more entry than slots (the total). */
  offsets: z.array(count),
  /** "records": raw digests (digestRecords.ts); absent: hex lines (parts written before records). */
  format: ListFormatSchema.optional(),
});
export type SpillPart = z.infer<typeof SpillPartSchema>;

export const PreparedRunSchema = z.object({
  schema: z.literal(1),
  runId: RunIdSchema,
  /**
   * "delta": a snapshot read against the row index of applied state `delta.baseVersion`
   * (snapshotDelta.ts): the snapshot set holds only the ids of new lines, `delta.gone` those
   * of lines gone since. Workers from before it refuse such a run (an unknown kind) rather
   * than take it for a whole snapshot.
   */
  kind: z.enum(['snapshot', 'changes', 'delta']),
  /** Identifier types of the mapping, sorted: the `t` of the spill offsets. */
  types: z.array(IdentifierTypeSchema),
  sets: z.partialRecord(InputSetSchema, z.array(SpillPartSchema)),
  /** Change batches in this run (their sets are batchSet(half, i)); absent means one. */
  batches: z.number().int().min(0).optional(),
  /** The row index this run wrote (rowIndex.ts): its meta key in the workdir. */
  rowIndex: z.object({ key: z.string(), runs: z.array(RunIdSchema).optional() }).optional(),
  /** A delta run: the applied state whose index it was read against (and that state's manifest key), and the gone lines' ids. */
  delta: z.object({ baseVersion: z.string(), manifestKey: z.string(), gone: z.array(SpillPartSchema) }).optional(),
});
export type PreparedRun = z.infer<typeof PreparedRunSchema>;

/** Where a list starts: object URI, byte offset and form (its length is count × the form's width). */
export const ListAtSchema = z.object({ uri: z.string(), start: count, format: ListFormatSchema.optional() });
export type ListAt = z.infer<typeof ListAtSchema>;

/** A list of raw digest records (digestRecords.ts) by place and count. */
export const RecordListRefSchema = z.object({ uri: z.string(), start: count, count });
export type RecordListRef = z.infer<typeof RecordListRefSchema>;

/**
 * A state list kept as the list it was last written whole (its base) and the net change since
 * (stateDelta.ts): the ids the state has that the base lacks, and the base's ids it no longer
 * has, both records. `base` counts the base list's ids; the shard's own count is the state's.
 * A churn sync then writes its change, not every list again.
 */
export const StateDeltaSchema = z.object({ base: count, adds: RecordListRefSchema.optional(), removes: RecordListRefSchema.optional() });
export type StateDelta = z.infer<typeof StateDeltaSchema>;

/**
 * 2: some state list has a delta. Workers from before deltas know only 1, so they refuse such
 * an object rather than take a base list for the whole state.
 */
const StateSchemaVersion = z.union([z.literal(1), z.literal(2)]);

/** One type of one shard after diff. Locations are absent when the list is empty. */
export const ShardTypeResultSchema = z.object({
  /** Distinct ids of the input in this shard (snapshot: desired; changes: enters). */
  input: count,
  exits: count.optional(),
  applied: count,
  adds: count,
  removes: count,
  state: count,
  addAt: ListAtSchema.optional(),
  removeAt: ListAtSchema.optional(),
  stateAt: ListAtSchema.optional(),
  /** The state is the list at `stateAt` changed by this (absent: that list is the state). */
  stateDelta: StateDeltaSchema.optional(),
  /** Digests of the state occurring more than once in the snapshot (digestCounts.ts), and where. */
  multi: count.optional(),
  multiAt: ListAtSchema.optional(),
});
export type ShardTypeResult = z.infer<typeof ShardTypeResultSchema>;

export const DiffGroupSchema = z.object({
  schema: StateSchemaVersion,
  runId: RunIdSchema,
  /** The applied-state version the diff was computed against (null: none yet). */
  baseVersion: z.string().nullable(),
  syncMode: z.enum(['mirror', 'addOnly']),
  from: z.number().int().min(0).max(255),
  to: z.number().int().min(1).max(256),
  shards: z.record(shardKey, z.partialRecord(IdentifierTypeSchema, ShardTypeResultSchema)),
  /** Every shard's multi list was computed (a run that wrote a row index). */
  rowCounts: z.literal(true).optional(),
});
export type DiffGroup = z.infer<typeof DiffGroupSchema>;

export const ManifestSchema = z.object({
  schema: StateSchemaVersion,
  destinationId: z.string(),
  version: z.string(),
  seq: z.number().int().positive(),
  runId: RunIdSchema,
  baseVersion: z.string().nullable(),
  audienceId: z.string().nullable(),
  committedAt: z.string(),
  /** Per type: total ids and the sorted list of each non-empty shard (with `delta`: its base list). */
  types: z.partialRecord(
    IdentifierTypeSchema,
    z.object({
      count,
      shards: z.record(
        shardKey,
        z.object({ uri: z.string(), start: count, count, format: ListFormatSchema.optional(), multi: RecordListRefSchema.optional(), delta: StateDeltaSchema.optional() }),
      ),
    }),
  ),
  /**
   * The row index of the snapshot behind this state (rowIndex.ts): its meta key in the
   * workdir, and the other runs whose folders hold its base and layers (rowIndexLayers.ts).
   */
  rowIndex: z.object({ key: z.string(), runs: z.array(RunIdSchema).optional() }).optional(),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/** The CURRENT object: which manifest is the applied state. Flipped last, by compare-and-swap. */
export const PointerSchema = z.object({
  schema: z.literal(1),
  version: z.string(),
  runId: RunIdSchema,
  manifestKey: z.string(),
});
export type Pointer = z.infer<typeof PointerSchema>;
