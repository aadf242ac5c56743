// spec/vectors/config.json, read from the repository (never a copy), each case its own test:
// how options and the environment resolve into settings, or into a coded error (spec 7).

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type RacewayOptions, resolveConfig } from './config.js';
import { RacewayConfigError } from './errors.js';

interface ConfigCase {
  id: string;
  note: string;
  input: { options: Record<string, unknown>; env: Record<string, string> };
  expected:
    | {
        settings: Record<string, unknown>;
        warnings?: Array<{ variable: string; suggestion: string }>;
      }
    | { error: string };
}

/** The spec's setting names, as this SDK spells its options. */
const OPTION_NAMES: Record<string, keyof RacewayOptions> = {
  service_name: 'serviceName',
  environment: 'environment',
  version: 'version',
  server_url: 'serverUrl',
  api_key: 'apiKey',
  disabled: 'disabled',
  debug: 'debug',
  instance: 'instance',
  sample_rate: 'sampleRate',
  batch_size: 'batchSize',
  flush_interval_ms: 'flushIntervalMs',
  max_queue_size: 'maxQueueSize',
  max_queue_bytes: 'maxQueueBytes',
  max_retries: 'maxRetries',
  request_timeout_ms: 'requestTimeoutMs',
};

const path = fileURLToPath(new URL('../../../spec/vectors/config.json', import.meta.url));
const { cases } = JSON.parse(readFileSync(path, 'utf8')) as { cases: ConfigCase[] };

/** The misspelt-variable warnings of a resolution (spec 7), the other lines ignored. */
const MISSPELT = /^(RACEWAY_\w+) is set but not read \(did you mean (RACEWAY_\w+)\?\)$/;

describe('spec/vectors/config.json', () => {
  it.each(cases.map((c) => [c.id, c] as const))('%s', (_, c) => {
    expect(run(c), c.note).toEqual(c.expected);
  });
});

function run(c: ConfigCase): ConfigCase['expected'] {
  const warnings: Array<{ variable: string; suggestion: string }> = [];
  const logger = {
    debug() {},
    warn(message: string) {
      const [, variable, suggestion] = MISSPELT.exec(message) ?? [];
      if (variable !== undefined && suggestion !== undefined)
        warnings.push({ variable, suggestion });
    },
    error() {},
  };
  const options: RacewayOptions = { logger };
  for (const [name, value] of Object.entries(c.input.options)) {
    const option = OPTION_NAMES[name];
    if (option === undefined) throw new Error(`${c.id}: no option for the setting ${name}`);
    (options as Record<string, unknown>)[option] = value;
  }
  try {
    const config = resolveConfig(options, c.input.env);
    return {
      settings: {
        service_name: config.serviceName,
        environment: config.environment,
        version: config.version,
        server_url: config.serverUrl,
        endpoint: config.endpoint.href,
        api_key: config.apiKey,
        disabled: config.disabled,
        debug: config.debug,
        instance: config.instance === `${hostname()}:${process.pid}` ? null : config.instance,
        sample_rate: config.sampleRate,
        batch_size: config.batchSize,
        flush_interval_ms: config.flushIntervalMs,
        max_queue_size: config.maxQueueSize,
        max_queue_bytes: config.maxQueueBytes,
        max_retries: Number.isFinite(config.maxRetries) ? config.maxRetries : null,
        request_timeout_ms: config.requestTimeoutMs,
      },
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  } catch (error) {
    if (error instanceof RacewayConfigError) return { error: error.code };
    throw error;
  }
}
