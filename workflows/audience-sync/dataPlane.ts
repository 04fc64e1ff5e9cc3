import type { AudienceDataActivities, DiffShardsResult, PrepareResult } from '../../activities/audience-sync/data';
import type { DestinationConfig } from '../../src/audience-sync/config';
import type { SyncRequest } from '../../src/audience-sync/messages';
import type { PreviewTypeCounts } from '../../src/audience-sync/previewMessages';
import { shardGroups } from './plan';

/*
 * The part of a cycle the sync and its dry run (preview.ts) share: prepare the input and
 * diff it against the applied state in shard groups, with the same activities and the same
 * arguments, so the preview's counts cannot drift from the sync's. Deterministic: it only
 * schedules activities, in the order the sync always has.
 */

export type PrepareDiffActivities = Pick<AudienceDataActivities, 'prepareSnapshot' | 'prepareChangeBatch' | 'diffShards'>;

export interface DiffBase {
  /** The applied-state version loadAppliedState returned (null: none yet). */
  version: string | null;
  /** The audience is new and empty (recreated): the adds are the whole state after the run. */
  resend: boolean;
}

/** Prepare (snapshot or change batches), then diff in 4 parallel shard groups; `onPhase` is told each step as it begins. */
export async function prepareAndDiff(
  dataHeavy: PrepareDiffActivities,
  cfg: DestinationConfig,
  runId: string,
  req: SyncRequest,
  base: DiffBase,
  onPhase: (phase: 'preparing' | 'diffing') => void,
): Promise<{ prepared: PrepareResult; diffs: DiffShardsResult[] }> {
  onPhase('preparing');
  const prepared: PrepareResult =
    req.kind === 'snapshot'
      ? await dataHeavy.prepareSnapshot({ config: cfg, runId, ...(req.snapshot ? { snapshot: req.snapshot } : {}) })
      : await dataHeavy.prepareChangeBatch({
          config: cfg,
          runId,
          batches: req.batches.map((b) => ({ ...(b.enters ? { enters: b.enters } : {}), ...(b.exits ? { exits: b.exits } : {}) })),
        });
  onPhase('diffing');
  const diffs = await Promise.all(
    shardGroups(4).map(([from, to]) => dataHeavy.diffShards({ config: cfg, runId, baseVersion: base.version, from, to, ...(base.resend ? { resend: true } : {}) })),
  );
  return { prepared, diffs };
}

/**
 * What a sync of these diffs sends, from the diff's own counts (no file is built): every
 * add goes in an APPEND file; removes go in REMOVE files in mirror mode only (addOnly never
 * removes, as sendFiles does).
 */
export function diffCounts(diffs: readonly Pick<DiffShardsResult, 'totals'>[], syncMode: 'mirror' | 'addOnly'): { added: number; removed: number; byType: Record<string, PreviewTypeCounts> } {
  const byType: Record<string, PreviewTypeCounts> = {};
  for (const d of diffs)
    for (const [type, t] of Object.entries(d.totals)) {
      if (!t) continue;
      const x = (byType[type] ??= { input: 0, applied: 0, added: 0, removed: 0, after: 0 });
      x.input += t.input;
      x.applied += t.applied;
      x.added += t.adds;
      x.removed += syncMode === 'mirror' ? t.removes : 0;
      x.after += t.state;
    }
  let added = 0;
  let removed = 0;
  for (const t of Object.values(byType)) {
    added += t.added;
    removed += t.removed;
  }
  return { added, removed, byType };
}
