export { type EventBatch, SDK_INFO, type SdkInfo } from './batch.js';
export {
  type ShutdownOptions,
  Transport,
  type TransportOptions,
  type TransportStats,
} from './transport.js';
