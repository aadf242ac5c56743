import type { ResolvedConfig } from '../config.js';
import { Transport } from './transport.js';

// Shared through globalThis for the same reason as the context storage: the ESM and the CJS
// build of this package must not open two queues to the same collector.
const REGISTRY_KEY = Symbol.for('raceway.core.transports.v1');
type Holder = { [REGISTRY_KEY]?: Map<string, Transport> };

/**
 * The transport of every tracer that reports to this collector with this API key: one queue,
 * one connection and one request in flight, however many services the process runs. The first
 * tracer's batch and retry settings apply.
 */
export function sharedTransport(config: ResolvedConfig): Transport {
  const holder = globalThis as Holder;
  let registry = holder[REGISTRY_KEY];
  if (registry === undefined) {
    registry = new Map();
    holder[REGISTRY_KEY] = registry;
  }
  const key = JSON.stringify([config.endpoint.href, config.apiKey]);
  let transport = registry.get(key);
  if (transport === undefined) {
    transport = new Transport(config);
    registry.set(key, transport);
  }
  return transport;
}

/** Every transport this process created, whichever tracer or options made it. */
export function allTransports(): Transport[] {
  const registry = (globalThis as Holder)[REGISTRY_KEY];
  return registry === undefined ? [] : Array.from(registry.values());
}
