import { closeAlert, openAlert, readOpenAlert, type OpenAlert } from '../../src/retention/audit';
import { parseDatasetConfig, type DatasetConfigInput } from '../../src/retention/config';
import { openBlobStore } from '../../src/storage';
import { toRetentionFailure, type RetentionDataDeps } from './data';

/*
 * The alert state of a dataset between runs (days apart): the failure announced and not yet
 * cleared, kept in the dataset's audit folder. On the workflow's own queue, beside postNotice,
 * so a failure of the data workers does not keep its own alert from being recorded.
 */

export function createRetentionAlertActivities(deps: RetentionDataDeps = {}) {
  const open = deps.openStore ?? ((uri: string) => openBlobStore(uri));
  const auditOf = (c: DatasetConfigInput) => {
    const config = parseDatasetConfig(c, 'dataset config');
    return { audit: open(config.audit), datasetId: config.datasetId };
  };
  const mapped = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      throw toRetentionFailure(err);
    }
  };
  return {
    /** Records a failed run as the open alert, unless an earlier failure is still open; returns the open one. */
    async retentionOpenAlert(input: { config: DatasetConfigInput; alert: OpenAlert }): Promise<OpenAlert> {
      return mapped(async () => {
        const { audit, datasetId } = auditOf(input.config);
        return openAlert(audit, datasetId, input.alert);
      });
    },
    /** The failure announced and not yet cleared, or null. */
    async retentionOpenAlertOf(input: { config: DatasetConfigInput }): Promise<OpenAlert | null> {
      return mapped(async () => {
        const { audit, datasetId } = auditOf(input.config);
        return readOpenAlert(audit, datasetId);
      });
    },
    /** Closes the open alert of `runId` once its clearing was announced. */
    async retentionCloseAlert(input: { config: DatasetConfigInput; runId: string }): Promise<void> {
      return mapped(async () => {
        const { audit, datasetId } = auditOf(input.config);
        await closeAlert(audit, datasetId, input.runId);
      });
    },
  };
}

export type RetentionAlertActivities = ReturnType<typeof createRetentionAlertActivities>;
