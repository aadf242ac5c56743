import { describe, expect, it } from 'vitest';
import { resolveConfig } from './config.js';
import { compileIgnorePaths, compilePropagateTo, defaultPropagateTo } from './url-filters.js';

describe('defaultPropagateTo', () => {
  it.each([
    'http://localhost:3000/',
    'http://api.localhost/',
    'http://127.0.0.1:8080/',
    'http://127.9.9.9/',
    'http://[::1]:3000/',
    'http://inventory:3000/items',
    'http://inventory./items',
    'http://printer.local/',
    'http://db.internal/',
    'http://orders.shop.svc.cluster.local/',
    'http://10.1.2.3/',
    'http://172.16.0.1/',
    'http://172.31.255.255/',
    'http://192.168.1.10/',
    'http://100.64.0.1/',
    'http://169.254.169.254/',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://orders.shop.svc/',
  ])('sends headers to %s', (url) => {
    expect(defaultPropagateTo(new URL(url))).toBe(true);
  });

  it.each([
    'https://api.stripe.com/v1/charges',
    'https://example.com/',
    'http://8.8.8.8/',
    'http://172.32.0.1/',
    'http://172.15.0.1/',
    'http://[2001:db8::1]/',
    'http://localhost.evil.com/',
  ])('withholds headers from %s', (url) => {
    expect(defaultPropagateTo(new URL(url))).toBe(false);
  });
});

describe('compilePropagateTo', () => {
  it('matches hostnames, host:port, wildcards, origins and RegExps', () => {
    const match = compilePropagateTo([
      'API.Partner.example',
      'pay.example:8443',
      '*.corp.example',
      'https://exact.example',
      /^https:\/\/re\.example\/v2\//g,
    ]);
    expect(match(new URL('https://api.partner.example/x'))).toBe(true);
    expect(match(new URL('https://pay.example:8443/'))).toBe(true);
    expect(match(new URL('https://pay.example/'))).toBe(false);
    expect(match(new URL('http://a.b.corp.example/'))).toBe(true);
    expect(match(new URL('http://corp.example/'))).toBe(false);
    expect(match(new URL('https://exact.example/any'))).toBe(true);
    expect(match(new URL('http://exact.example/any'))).toBe(false);
    // The /g flag would make a second test fail without the lastIndex reset.
    expect(match(new URL('https://re.example/v2/a'))).toBe(true);
    expect(match(new URL('https://re.example/v2/a'))).toBe(true);
    expect(match(new URL('http://localhost/'))).toBe(false);
  });

  it('turns a throwing predicate into false', () => {
    const match = compilePropagateTo(() => {
      throw new Error('boom');
    });
    expect(match(new URL('http://localhost/'))).toBe(false);
  });

  it('uses the default when not configured', () => {
    expect(compilePropagateTo(undefined)(new URL('http://inventory/'))).toBe(true);
  });
});

describe('compileIgnorePaths', () => {
  it('ignores health checks by default, by whole segments', () => {
    const ignore = compileIgnorePaths(undefined);
    expect(ignore('/healthz')).toBe(true);
    expect(ignore('/health/live')).toBe(true);
    expect(ignore('/health?verbose=1')).toBe(true);
    expect(ignore('/healthcheck')).toBe(false);
    expect(ignore('/orders')).toBe(false);
  });

  it('accepts RegExps', () => {
    const ignore = compileIgnorePaths([/^\/static\//]);
    expect(ignore('/static/app.js')).toBe(true);
    expect(ignore('/healthz')).toBe(false);
  });
});

describe('RACEWAY_PROPAGATE_TO', () => {
  // Which hosts match is pinned by spec/vectors/propagate-to.json; here, how it meets the option.
  it('is replaced by the propagateTo option', () => {
    const config = resolveConfig(
      { serviceName: 'svc', propagateTo: ['api.partner.example'] },
      { RACEWAY_PROPAGATE_TO: '*' },
    );
    expect(config.propagateTo(new URL('https://api.partner.example/'))).toBe(true);
    expect(config.propagateTo(new URL('https://example.com/'))).toBe(false);
  });

  it('names the variable and the entry it refuses', () => {
    expect(() =>
      resolveConfig({ serviceName: 'svc' }, { RACEWAY_PROPAGATE_TO: 'ok.example,10.0.0.0/33' }),
    ).toThrow(/RACEWAY_PROPAGATE_TO.*10\.0\.0\.0\/33/);
  });

  it('accepts CIDR ranges and * in the option too', () => {
    const match = compilePropagateTo(['192.0.2.0/24']);
    expect(match(new URL('http://192.0.2.9/'))).toBe(true);
    expect(match(new URL('http://192.0.3.9/'))).toBe(false);
    expect(compilePropagateTo(['*'])(new URL('https://example.com/'))).toBe(true);
  });
});
