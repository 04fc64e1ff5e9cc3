// Every workflow type and its message definitions. Clients import definitions from here.
export * from './healthCheck';
export * from './audience-sync/audienceSync';
export * from './audience-sync/tick';
