// What Raceway tells its user: the debug log (through a replaceable logger), the one warning
// of a first drop, refused option names with a suggestion, and the global flush/shutdown.
import { afterEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { runInContext } from '../src/context/async-context.js';
import { Tracer } from '../src/context/tracer.js';
import { RacewayConfigError } from '../src/errors.js';
import { startClientCall } from '../src/http/client-call.js';
import { flush, raceway, shutdown } from '../src/lifecycle.js';
import { Diagnostics, type RacewayLogger } from '../src/logger.js';
import { freePort, startCollector } from './helpers/collector.js';
import { recordMany, transportUnderTest } from './helpers/events.js';

interface Line {
  level: keyof RacewayLogger;
  message: string;
}

function spyLogger(): { logger: RacewayLogger; lines: Line[] } {
  const lines: Line[] = [];
  const logger: RacewayLogger = {
    debug: (message) => lines.push({ level: 'debug', message }),
    warn: (message) => lines.push({ level: 'warn', message }),
    error: (message) => lines.push({ level: 'error', message }),
  };
  return { logger, lines };
}

function configError(run: () => unknown): RacewayConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof RacewayConfigError) return error;
    throw error;
  }
  throw new Error('no RacewayConfigError thrown');
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('option names', () => {
  it.each([
    ['serverURL', 'serverUrl'],
    ['servicename', 'serviceName'],
    ['sampleRat', 'sampleRate'],
    ['maxRetry', 'maxRetries'],
  ])('refuses %s with a did-you-mean %s', (given, meant) => {
    const error = configError(() => resolveConfig({ serviceName: 's', [given]: 'x' } as never, {}));
    expect(error.code).toBe('RACEWAY_UNKNOWN_OPTION');
    expect(error.message).toContain(`did you mean "${meant}"?`);
  });

  it('lists the options when nothing is close', () => {
    const error = configError(() => resolveConfig({ serviceName: 's', colour: 1 } as never, {}));
    expect(error.code).toBe('RACEWAY_UNKNOWN_OPTION');
    expect(error.message).toMatch(/unknown option "colour"; the options are serviceName, /);
  });

  it('refuses a logger without the three methods', () => {
    const error = configError(() =>
      resolveConfig({ serviceName: 's', logger: { debug() {} } as never }, {}),
    );
    expect(error.code).toBe('RACEWAY_INVALID_LOGGER');
  });

  it('refuses a debug value that is not a boolean, in code or in RACEWAY_DEBUG', () => {
    expect(
      configError(() => resolveConfig({ serviceName: 's', debug: 'yes' as never }, {})).code,
    ).toBe('RACEWAY_INVALID_DEBUG');
    expect(
      configError(() => resolveConfig({ serviceName: 's' }, { RACEWAY_DEBUG: 'loud' })).code,
    ).toBe('RACEWAY_INVALID_DEBUG');
  });
});

describe('service name from the environment', () => {
  it('reads OTEL_SERVICE_NAME when RACEWAY_SERVICE_NAME is not set', () => {
    expect(resolveConfig({}, { OTEL_SERVICE_NAME: 'billing' }).serviceName).toBe('billing');
  });

  it('prefers RACEWAY_SERVICE_NAME, and the option over both', () => {
    const env = { OTEL_SERVICE_NAME: 'otel', RACEWAY_SERVICE_NAME: 'raceway' };
    expect(resolveConfig({}, env).serviceName).toBe('raceway');
    expect(resolveConfig({ serviceName: 'code' }, env).serviceName).toBe('code');
  });
});

describe('debug log', () => {
  it('logs the resolved configuration once, with RACEWAY_DEBUG=1, through the logger', () => {
    const { logger, lines } = spyLogger();
    const options = { serviceName: 'debug-config', instance: 'host:1', apiKey: 'secret', logger };
    const env = { RACEWAY_DEBUG: '1', RACEWAY_URL: 'http://collector.test:8080' };
    resolveConfig(options, env);
    resolveConfig(options, env);
    expect(lines).toHaveLength(1);
    expect(lines[0]?.level).toBe('debug');
    expect(lines[0]?.message).toMatch(/^config \{"serviceName":"debug-config","instance":"host:1"/);
    expect(lines[0]?.message).toContain('"endpoint":"http://collector.test:8080/v1/events"');
    expect(lines[0]?.message).toContain('"maxRetries":"unlimited"');
    // The key itself is a secret.
    expect(lines[0]?.message).toContain('"apiKey":"set"');
    expect(lines[0]?.message).not.toContain('secret');
  });

  it('logs nothing without debug', () => {
    const { logger, lines } = spyLogger();
    resolveConfig({ serviceName: 'quiet', logger }, {});
    expect(lines).toEqual([]);
  });

  it('logs the collector becoming unreachable and reachable again', async () => {
    const { logger, lines } = spyLogger();
    const port = await freePort();
    const { transport, ctx } = transportUnderTest(`http://127.0.0.1:${port}`, {
      diagnostics: new Diagnostics(logger, true),
      maxRetries: undefined,
      retryBaseMs: 20,
      retryMaxMs: 50,
    });
    cleanups.push(() => transport.shutdown({ timeoutMs: 200 }));
    recordMany(ctx, 3);
    const flushed = transport.flush();
    while (!lines.some((l) => l.message.startsWith('collector unreachable'))) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const collector = await startCollector({ port });
    cleanups.push(() => collector.close());
    await flushed;

    const messages = lines.map((l) => `${l.level} ${l.message}`);
    expect(messages).toEqual([
      expect.stringMatching(
        new RegExp(
          `^warn cannot deliver events to http://127\\.0\\.0\\.1:${port}/v1/events \\(collector unreachable: ECONNREFUSED.*\\); 3 event\\(s\\) held and retried while the queue has room\\. Check that the collector runs there and that RACEWAY_URL \\(serverUrl\\) points to it$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^debug collector unreachable at http://127\\.0\\.0\\.1:${port}/v1/events \\(collector unreachable: ECONNREFUSED.*\\): retrying with backoff, 3 events held$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^warn collector at http://127\\.0\\.0\\.1:${port}/v1/events reachable again after \\d+ failed attempt\\(s\\)$`,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^debug collector reachable again at http://127\\.0\\.0\\.1:${port}/v1/events after \\d+\\.\\d s; 0 events still held$`,
        ),
      ),
    ]);
    expect(collector.stored.size).toBe(3);
  });

  it('warns at the first failure and the first drop; with debug, logs each drop with counts', async () => {
    for (const debug of [false, true]) {
      const { logger, lines } = spyLogger();
      const { transport, ctx } = transportUnderTest('http://127.0.0.1:9', {
        diagnostics: new Diagnostics(logger, debug),
        maxQueueSize: 5,
        maxRetries: 0,
      });
      recordMany(ctx, 8); // 3 dropped: the queue is full
      await transport.shutdown({ timeoutMs: 1000 }); // 5 dropped: unreachable, no retry
      recordMany(ctx, 1);
      await transport.shutdown({ timeoutMs: 1000 }); // 1 dropped
      expect(transport.stats().dropped).toBe(9);

      // Rate-limited: the drops after the first one are counted, not logged, for a minute.
      const warnings = lines.filter((l) => l.level === 'warn');
      expect(warnings.map((l) => l.message)).toEqual([
        expect.stringMatching(
          /^1 event\(s\) for http:\/\/127\.0\.0\.1:9\/v1\/events dropped: queue full \(5 events or \d+ bytes held/,
        ),
        expect.stringMatching(/^cannot deliver events to http:\/\/127\.0\.0\.1:9\/v1\/events /),
      ]);
      const debugLines = lines.filter((l) => l.level === 'debug').map((l) => l.message);
      if (!debug) {
        expect(debugLines).toEqual([]);
      } else {
        expect(debugLines).toEqual([
          expect.stringMatching(/^dropped 1 events: queue full .*; 1 dropped in all$/),
          expect.stringMatching(/^collector unreachable at /),
          expect.stringMatching(
            /^dropped 5 events: collector unreachable: ECONNREFUSED.*; 8 dropped in all$/,
          ),
          expect.stringMatching(/^queue has room again: 3 events were dropped while it was full$/),
          expect.stringMatching(/^dropped 1 events: .*; 9 dropped in all$/),
        ]);
      }
    }
  });

  it('logs a host that gets no trace headers once', () => {
    const { logger, lines } = spyLogger();
    const tracer = new Tracer(
      { serviceName: 'debug-hosts', debug: true, logger, propagateTo: ['inventory'] },
      { transport: null, env: {} },
    );
    lines.length = 0; // the configuration line
    runInContext(tracer.startContext({}), () => {
      startClientCall({ method: 'GET', url: 'https://api.example.com/a' });
      startClientCall({ method: 'GET', url: 'https://api.example.com/b' });
      startClientCall({ method: 'GET', url: 'http://inventory/items' });
    });
    expect(lines).toEqual([
      {
        level: 'debug',
        message: expect.stringMatching(
          /^no trace headers sent to api\.example\.com: not allowed by propagateTo/,
        ),
      },
    ]);
  });

  it('ignores a logger that throws', () => {
    const diagnostics = new Diagnostics(
      {
        debug() {
          throw new Error('broken');
        },
        warn() {
          throw new Error('broken');
        },
        error() {
          throw new Error('broken');
        },
      },
      true,
    );
    expect(() => {
      diagnostics.debug('x');
      diagnostics.warn('x');
      diagnostics.error('x');
    }).not.toThrow();
  });
});

describe('natural exit', () => {
  it('does not retry a collector that refuses the connection when the process exits by itself', async () => {
    const { logger, lines } = spyLogger();
    const { transport, ctx } = transportUnderTest(`http://127.0.0.1:${await freePort()}`, {
      diagnostics: new Diagnostics(logger, false),
      maxRetries: undefined,
    });
    recordMany(ctx, 3);
    // What node emits when the event loop runs empty; Raceway's hook shuts the transport down.
    process.emit('beforeExit', 0);
    while (transport.stats().queued > 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(transport.stats()).toMatchObject({ queued: 0, sent: 0, dropped: 3, retries: 0 });
    expect(lines.map((l) => `${l.level} ${l.message}`)).toEqual([
      expect.stringMatching(
        /^warn cannot deliver events to http:.*\(collector unreachable: ECONNREFUSED/,
      ),
      expect.stringMatching(/^warn 3 event\(s\) for http:.* dropped: /),
    ]);
  });
});

describe('global flush and shutdown', () => {
  it('flush() and shutdown() reach the transports of tracers made with different options', async () => {
    const one = await startCollector();
    const two = await startCollector();
    cleanups.push(
      () => one.close(),
      () => two.close(),
    );
    const a = new Tracer(
      { serviceName: 'a', serverUrl: one.url, flushIntervalMs: 60_000 },
      { env: {} },
    );
    const b = new Tracer(
      { serviceName: 'b', serverUrl: two.url, apiKey: 'k', flushIntervalMs: 60_000 },
      { env: {} },
    );
    recordMany(a.startContext({}), 4);
    recordMany(b.startContext({}), 6);
    await flush();
    expect(one.stored.size).toBe(4);
    expect(two.stored.size).toBe(6);

    recordMany(b.startContext({}), 2);
    await raceway.shutdown();
    expect(two.stored.size).toBe(8);
    expect(b.transport?.stats().queued).toBe(0);
  });

  it('the raceway namespace carries the application API', () => {
    expect(Object.keys(raceway).sort()).toEqual(
      [
        'flush',
        'fork',
        'getTraceHeaders',
        'mergeResponseHeaders',
        'recordLockHeld',
        'shutdown',
        'trackError',
        'trackEvent',
        'trackLockAcquire',
        'trackLockRelease',
        'trackStateRead',
        'trackStateWrite',
        'withLock',
      ].sort(),
    );
    expect(raceway.shutdown).toBe(shutdown);
  });
});
