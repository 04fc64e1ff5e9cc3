import type { RerunSource } from '../temporal/rerun';
import { SearchAttributeKeys } from '../temporal/searchAttributes';
import { writerIdOf } from '../temporal/workflowIds';
import { SanMigrationWorkflowType } from './messages';

/*
 * SAN migration's part of `ttsync rerun`. The workflow fails only on what a person must fix
 * (the account or the program missing from the store, a store it cannot read or write, a
 * refused token): once fixed, a reset to the workflow task that scheduled the failed step runs
 * that step again. Safe because every step is idempotent: provisioning and cutover are
 * compare-and-swap updates that write nothing the second time, the BI mapping file is
 * rewritten with the same bytes, and notices are keyed (the outbox never sends one twice).
 * A running account workflow never parks on a failure: there is nothing to re-run.
 */
export const sanMigrationRerun: RerunSource = {
  lifecycle: 'san-migration',
  workflowTypes: Object.values(SanMigrationWorkflowType),
  resetPoints: () => ['last-good', 'start'],
  resetNote: (_type, to) =>
    to === 'last-good'
      ? 'safe for SAN migration: provisioning and cutover are idempotent compare-and-swap updates of the account, and notices are keyed (none is sent twice)'
      : 'the run starts over from its input: it reads the account and the program from the store again, and steps already done write nothing new',
  workflowIdFor: (type, input) => writerIdOf(type, input),
  // Later runs of an account carry its decisions and cutovers; an older run would undo them.
  olderRunsRerunnable: () => false,
  openRun(run) {
    const state = run.description.typedSearchAttributes.get(SearchAttributeKeys.MigrationState) ?? 'starting';
    return {
      kind: 'refuse',
      message: `${run.workflowId} is running (MigrationState ${state}): a SAN migration fails its run when a step cannot go on, so a running one has nothing to re-run; ttsync san status ${run.workflowId} shows what it waits for`,
    };
  },
};
