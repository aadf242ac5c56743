import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SERVER_URL,
  type RacewayOptions,
  resolveConfig,
  TRANSPORT_DEFAULTS,
} from './config.js';
import { RacewayConfigError } from './errors.js';

function codeOf(options: RacewayOptions, env: Record<string, string> = {}): string {
  try {
    resolveConfig(options, env);
  } catch (error) {
    expect(error).toBeInstanceOf(RacewayConfigError);
    expect((error as Error).message).toContain((error as RacewayConfigError).code);
    return (error as RacewayConfigError).code;
  }
  throw new Error('expected a RacewayConfigError');
}

describe('resolveConfig', () => {
  it('applies the defaults', () => {
    const config = resolveConfig({ serviceName: 'shop' }, {});
    expect(config).toMatchObject({
      serviceName: 'shop',
      serverUrl: DEFAULT_SERVER_URL,
      apiKey: null,
      disabled: false,
      ...TRANSPORT_DEFAULTS,
    });
    expect(config.endpoint.href).toBe('http://127.0.0.1:8080/v1/events');
    expect(config.instance).toMatch(new RegExp(`:${process.pid}$`));
  });

  it('reads the environment when the options leave something out', () => {
    const config = resolveConfig(
      {},
      {
        RACEWAY_SERVICE_NAME: ' inventory ',
        RACEWAY_URL: 'https://collector.internal:9000',
        RACEWAY_API_KEY: 'k3y',
        RACEWAY_INSTANCE: 'pod-7',
        RACEWAY_DISABLED: 'false',
      },
    );
    expect(config).toMatchObject({
      serviceName: 'inventory',
      serverUrl: 'https://collector.internal:9000',
      apiKey: 'k3y',
      instance: 'pod-7',
      disabled: false,
    });
  });

  it('lets options win over the environment', () => {
    const config = resolveConfig(
      { serviceName: 'a', serverUrl: 'http://x:1', apiKey: 'opt', disabled: false },
      {
        RACEWAY_SERVICE_NAME: 'b',
        RACEWAY_URL: 'http://y:2',
        RACEWAY_API_KEY: 'env',
        RACEWAY_DISABLED: '1',
      },
    );
    expect(config).toMatchObject({
      serviceName: 'a',
      serverUrl: 'http://x:1',
      apiKey: 'opt',
      disabled: false,
    });
  });

  it('keeps a base path of the collector URL', () => {
    expect(
      resolveConfig({ serviceName: 's', serverUrl: 'https://h/raceway/' }, {}).endpoint.href,
    ).toBe('https://h/raceway/v1/events');
    expect(resolveConfig({ serviceName: 's', serverUrl: 'https://h/raceway' }, {}).serverUrl).toBe(
      'https://h/raceway',
    );
  });

  it.each(['1', 'true', 'YES', 'on'])('treats RACEWAY_DISABLED=%s as disabled', (value) => {
    expect(resolveConfig({ serviceName: 's' }, { RACEWAY_DISABLED: value }).disabled).toBe(true);
  });

  it('does not require a service name when disabled', () => {
    expect(resolveConfig({}, { RACEWAY_DISABLED: '1' }).disabled).toBe(true);
  });

  it('treats an empty API key as none', () => {
    expect(resolveConfig({ serviceName: 's', apiKey: '' }, {}).apiKey).toBeNull();
    expect(resolveConfig({ serviceName: 's' }, { RACEWAY_API_KEY: '' }).apiKey).toBeNull();
  });

  it.each<[string, RacewayOptions, Record<string, string>]>([
    ['RACEWAY_INVALID_OPTIONS', null as unknown as RacewayOptions, {}],
    ['RACEWAY_MISSING_SERVICE_NAME', {}, {}],
    ['RACEWAY_MISSING_SERVICE_NAME', {}, { RACEWAY_SERVICE_NAME: '  ' }],
    ['RACEWAY_INVALID_SERVICE_NAME', { serviceName: '' }, {}],
    ['RACEWAY_INVALID_SERVICE_NAME', { serviceName: 'x'.repeat(129) }, {}],
    ['RACEWAY_INVALID_SERVICE_NAME', { serviceName: 'a\nb' }, {}],
    ['RACEWAY_INVALID_SERVICE_NAME', { serviceName: 42 as unknown as string }, {}],
    ['RACEWAY_INVALID_URL', { serviceName: 's', serverUrl: 'not a url' }, {}],
    ['RACEWAY_INVALID_URL', { serviceName: 's', serverUrl: 'ftp://h' }, {}],
    ['RACEWAY_INVALID_URL', { serviceName: 's', serverUrl: 'http://u:p@h' }, {}],
    ['RACEWAY_INVALID_URL', { serviceName: 's', serverUrl: 'http://h/?a=1' }, {}],
    ['RACEWAY_INVALID_URL', { serviceName: 's' }, { RACEWAY_URL: 'nope' }],
    ['RACEWAY_INVALID_API_KEY', { serviceName: 's', apiKey: 'has space' }, {}],
    ['RACEWAY_INVALID_API_KEY', { serviceName: 's', apiKey: 'x\r\nInjected: 1' }, {}],
    ['RACEWAY_INVALID_DISABLED', { serviceName: 's', disabled: 'yes' as unknown as boolean }, {}],
    ['RACEWAY_INVALID_DISABLED', { serviceName: 's' }, { RACEWAY_DISABLED: 'maybe' }],
    ['RACEWAY_INVALID_INSTANCE', { serviceName: 's', instance: '' }, {}],
    ['RACEWAY_INVALID_BATCH_SIZE', { serviceName: 's', batchSize: 0 }, {}],
    ['RACEWAY_INVALID_BATCH_SIZE', { serviceName: 's', batchSize: 5001 }, {}],
    ['RACEWAY_INVALID_BATCH_SIZE', { serviceName: 's', batchSize: 1.5 }, {}],
    ['RACEWAY_INVALID_FLUSH_INTERVAL', { serviceName: 's', flushIntervalMs: 0 }, {}],
    ['RACEWAY_INVALID_FLUSH_INTERVAL', { serviceName: 's', flushIntervalMs: 2 ** 31 }, {}],
    ['RACEWAY_INVALID_MAX_QUEUE_SIZE', { serviceName: 's', maxQueueSize: -1 }, {}],
    ['RACEWAY_INVALID_MAX_RETRIES', { serviceName: 's', maxRetries: Number.NaN }, {}],
    [
      'RACEWAY_INVALID_REQUEST_TIMEOUT',
      { serviceName: 's', requestTimeoutMs: '5' as unknown as number },
      {},
    ],
    [
      'RACEWAY_INVALID_PROPAGATE_TO',
      { serviceName: 's', propagateTo: 'all' as unknown as string[] },
      {},
    ],
    ['RACEWAY_INVALID_PROPAGATE_TO', { serviceName: 's', propagateTo: [''] }, {}],
    [
      'RACEWAY_INVALID_PROPAGATE_TO',
      { serviceName: 's', propagateTo: [42 as unknown as string] },
      {},
    ],
    ['RACEWAY_INVALID_IGNORE_PATHS', { serviceName: 's', ignorePaths: ['healthz'] }, {}],
  ])('refuses with %s', (code, options, env) => {
    expect(codeOf(options, env)).toBe(code);
  });

  it('never echoes a refused API key', () => {
    try {
      resolveConfig({ serviceName: 's', apiKey: 'secret value' }, {});
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).not.toContain('secret');
    }
  });

  it('compiles propagateTo and ignorePaths', () => {
    const config = resolveConfig(
      { serviceName: 's', propagateTo: ['api.partner.example'], ignorePaths: ['/metrics'] },
      {},
    );
    expect(config.propagateTo(new URL('https://api.partner.example/x'))).toBe(true);
    expect(config.propagateTo(new URL('http://inventory/x'))).toBe(false);
    expect(config.ignorePath('/metrics?x=1')).toBe(true);
    expect(config.ignorePath('/healthz')).toBe(false);
  });
});

describe('database query settings (spec 4.3)', () => {
  it('capture queries, not values, with the default digest key', () => {
    const config = resolveConfig({ serviceName: 'shop' }, {});
    expect(config).toMatchObject({
      captureQueries: true,
      captureValues: false,
      digestKey: 'raceway-digest-v1',
    });
  });

  it('reads RACEWAY_DB_CAPTURE, RACEWAY_DB_CAPTURE_VALUES and RACEWAY_DIGEST_KEY', () => {
    const config = resolveConfig(
      { serviceName: 'shop' },
      {
        RACEWAY_DB_CAPTURE: ' off ',
        RACEWAY_DB_CAPTURE_VALUES: 'YES',
        RACEWAY_DIGEST_KEY: ' shared-key ',
      },
    );
    expect(config).toMatchObject({
      captureQueries: false,
      captureValues: true,
      digestKey: 'shared-key',
    });
    // Blank variables are unset.
    expect(
      resolveConfig(
        { serviceName: 'shop' },
        { RACEWAY_DB_CAPTURE: ' ', RACEWAY_DB_CAPTURE_VALUES: '', RACEWAY_DIGEST_KEY: '  ' },
      ),
    ).toMatchObject({ captureQueries: true, captureValues: false, digestKey: 'raceway-digest-v1' });
  });

  it('lets options win over the environment', () => {
    const config = resolveConfig(
      { serviceName: 'shop', captureQueries: true, captureValues: false, digestKey: 'code' },
      { RACEWAY_DB_CAPTURE: '0', RACEWAY_DB_CAPTURE_VALUES: '1', RACEWAY_DIGEST_KEY: 'env' },
    );
    expect(config).toMatchObject({ captureQueries: true, captureValues: false, digestKey: 'code' });
  });

  it('refuses what it cannot use, without echoing a key', () => {
    expect(codeOf({ serviceName: 'a' }, { RACEWAY_DB_CAPTURE: 'maybe' })).toBe(
      'RACEWAY_INVALID_DB_CAPTURE',
    );
    expect(codeOf({ serviceName: 'a' }, { RACEWAY_DB_CAPTURE_VALUES: '2' })).toBe(
      'RACEWAY_INVALID_DB_CAPTURE_VALUES',
    );
    expect(codeOf({ serviceName: 'a', captureQueries: 'yes' as never })).toBe(
      'RACEWAY_INVALID_DB_CAPTURE',
    );
    expect(codeOf({ serviceName: 'a', digestKey: ' ' })).toBe('RACEWAY_INVALID_DIGEST_KEY');
    expect(codeOf({ serviceName: 'a', digestKey: 42 as never })).toBe('RACEWAY_INVALID_DIGEST_KEY');
  });
});
