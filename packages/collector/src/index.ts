export { startCollector, type Collector, type CollectorOptions } from './server.js';
export { RacewayConfigError } from './errors.js';
export { parseDuration, parseStorage, type StorageLocation } from './config.js';
export { openStorage, SqliteStorage, PostgresStorage } from './storage/index.js';
export type * from './storage/types.js';
export type { StoredEvent, EventKind } from './event.js';
export type { AnalysisEngine, AnalysisOptions, TraceAnalysisResult } from './scheduler/engine.js';
export type { AnalysisStatus } from './scheduler/analysis-scheduler.js';
