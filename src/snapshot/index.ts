export * from './schema';
export * from './errors';
export * from './counts';
export * from './rejects';
export { SnapshotReader, type SnapshotBatch, type TypeDigests, type SnapshotReaderLimits } from './reader';
export { CsvTokenizer, detectDelimiter, type CsvRecordSink } from './csvTokenizer';
export { readRejectsSample, type RejectSample } from './rejectsSample';
