// The workflow bundle's entry: every workflow type, and nothing else (every function exported
// here is registered as a workflow type). Clients take message definitions from each
// lifecycle's src/<lifecycle>/messages.ts.
export { healthCheck } from './healthCheck';
export { noticesSweep } from './noticesSweep';
export { audienceSync } from './audience-sync/audienceSync';
export { audienceSyncTick } from './audience-sync/tick';
export { audienceSyncPreview } from './audience-sync/preview';
export { retention } from './retention/retention';
export { retentionTick } from './retention/tick';
export { eventsExport } from './events-export/eventsExport';
export { eventsExportTick } from './events-export/tick';
export { sanMigration } from './san-migration/sanMigration';
