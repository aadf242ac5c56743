import { getOrCreate } from '../analysis/collections.js';

/** An SDK as a batch names itself (spec/schemas/batch.schema.json, `sdk`). */
export interface SdkIdentity {
  name: string;
  version: string;
  language?: string;
}

/** One SDK a service's batches came from. */
export interface ServiceSdk {
  name: string;
  version: string;
  language: string | null;
  /** Distinct instances of the service that sent batches with this SDK (at most 1,000 counted). */
  instances: number;
  /** The last batch with this SDK. */
  last_seen: string;
}

/** A registry as JSON: by service, its SDKs with the instances seen and the last sighting. */
export type SdkRegistryJSON = Array<{
  service: string;
  sdks: Array<{
    name: string;
    version: string;
    language: string | null;
    instances: string[];
    lastSeenMs: number;
  }>;
}>;

interface Entry {
  identity: { name: string; version: string; language: string | null };
  instances: Set<string>;
  lastSeenMs: number;
}

/** Services kept; past it, the service not heard from for the longest is let go. */
const MAX_SERVICES = 4096;
/** SDKs kept per service (a rollout has two or three); past it, the oldest is let go. */
const MAX_SDKS_PER_SERVICE = 8;
const MAX_INSTANCES_COUNTED = 1000;

/**
 * Which SDK, at which version and in which language, each service's batches come from: a
 * system's languages at a glance, and an SDK upgrade's progress across a service's instances.
 * Learnt from the batches a collector receives (events do not carry it); collectors sharing a
 * database keep theirs in storage as JSON ({@link toJSON}) and answer from all of them merged
 * ({@link merge}). Bounded in services, SDKs per service and instances counted.
 *
 * @example
 * registry.note({ name: 'raceway-sdk', version: '0.1.0', language: 'python' }, events);
 * registry.of('inventory'); // [{ name: 'raceway-sdk', version: '0.1.0', language: 'python', instances: 1, last_seen: '…' }]
 */
export class SdkRegistry {
  /** By service, then by SDK key; both maps in least recently seen first order. */
  private readonly services = new Map<string, Map<string, Entry>>();

  /** Notes the SDK of a batch for the services (and instances) of its stored events. */
  note(
    sdk: SdkIdentity | undefined,
    events: ReadonlyArray<{ service: string; instance?: string | null }>,
    nowMs = Date.now(),
  ): void {
    if (sdk === undefined) return;
    this.changed = true;
    const identity = { name: sdk.name, version: sdk.version, language: sdk.language ?? null };
    const key = JSON.stringify([identity.name, identity.version, identity.language]);
    // A batch is one service's, or a few: grouped first, so that a 5,000-event batch costs a
    // pass over its events and a few map updates.
    const instancesOf = new Map<string, Set<string>>();
    for (const { service, instance } of events) {
      const instances = getOrCreate(instancesOf, service, () => new Set<string>());
      if (instance) instances.add(instance);
    }
    for (const [service, instances] of instancesOf) {
      const sdks = this.touch(this.services, service, () => new Map<string, Entry>());
      const entry = this.touch(sdks, key, () => ({
        identity,
        instances: new Set(),
        lastSeenMs: 0,
      }));
      entry.lastSeenMs = nowMs;
      for (const instance of instances) {
        if (entry.instances.size >= MAX_INSTANCES_COUNTED) break;
        entry.instances.add(instance);
      }
      evictOldest(sdks, MAX_SDKS_PER_SERVICE);
    }
    evictOldest(this.services, MAX_SERVICES);
  }

  /** Whether {@link note} changed anything since the last {@link takeChanged}. */
  private changed = false;

  /** True once after the registry changed (then false until it changes again). */
  takeChanged(): boolean {
    const changed = this.changed;
    this.changed = false;
    return changed;
  }

  /** Everything the registry holds, for storage (see {@link merge}). */
  toJSON(): SdkRegistryJSON {
    return [...this.services].map(([service, sdks]) => ({
      service,
      sdks: [...sdks.values()].map((entry) => ({
        ...entry.identity,
        instances: [...entry.instances],
        lastSeenMs: entry.lastSeenMs,
      })),
    }));
  }

  /** Adds another registry's content (its {@link toJSON}): instances united, latest sighting kept. */
  merge(json: SdkRegistryJSON): this {
    for (const { service, sdks } of json) {
      for (const sdk of sdks) {
        const identity = { name: sdk.name, version: sdk.version, language: sdk.language };
        const key = JSON.stringify([identity.name, identity.version, identity.language]);
        const entries = getOrCreate(this.services, service, () => new Map<string, Entry>());
        const entry = getOrCreate(entries, key, () => ({
          identity,
          instances: new Set<string>(),
          lastSeenMs: 0,
        }));
        entry.lastSeenMs = Math.max(entry.lastSeenMs, sdk.lastSeenMs);
        for (const instance of sdk.instances) {
          if (entry.instances.size >= MAX_INSTANCES_COUNTED) break;
          entry.instances.add(instance);
        }
      }
    }
    // Most recently seen last, as note() keeps them.
    for (const [service, entries] of this.services) {
      this.services.set(
        service,
        new Map([...entries].sort(([, a], [, b]) => a.lastSeenMs - b.lastSeenMs)),
      );
    }
    return this;
  }

  /** The SDKs a service's batches came from, the most recently seen first. */
  of(service: string): ServiceSdk[] {
    const sdks = this.services.get(service);
    if (sdks === undefined) return [];
    return [...sdks.values()].reverse().map((entry) => ({
      ...entry.identity,
      instances: entry.instances.size,
      last_seen: new Date(entry.lastSeenMs).toISOString(),
    }));
  }

  /** The value of `key`, moved to the most recently seen end of the map (created if new). */
  private touch<V>(map: Map<string, V>, key: string, create: () => V): V {
    const value = getOrCreate(map, key, create);
    map.delete(key);
    map.set(key, value);
    return value;
  }
}

function evictOldest<V>(map: Map<string, V>, max: number): void {
  for (const key of map.keys()) {
    if (map.size <= max) return;
    map.delete(key);
  }
}
