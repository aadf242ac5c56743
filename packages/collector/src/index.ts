export { parseDuration, parseStorage, type StorageLocation } from './config.js';
export { RacewayConfigError } from './errors.js';
export type { EventKind, StoredEvent } from './event.js';
export type { AnalysisStatus } from './scheduler/analysis-scheduler.js';
export type { AnalysisEngine, AnalysisOptions, TraceAnalysisResult } from './scheduler/engine.js';
export { type Collector, type CollectorOptions, startCollector } from './server.js';
export { openStorage, PostgresStorage, SqliteStorage } from './storage/index.js';
export type * from './storage/types.js';
