import { describe, expect, it } from 'vitest';
import {
  describeStorage,
  parseDuration,
  parseOtlpExport,
  parsePort,
  parseStorage,
  redactUrl,
} from './config.js';

describe('parseDuration', () => {
  it.each([
    ['7d', 604_800_000],
    ['12h', 43_200_000],
    ['30m', 1_800_000],
    ['45s', 45_000],
    ['500ms', 500],
    ['2w', 1_209_600_000],
    ['1.5h', 5_400_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['7', '7 days', 'd', '-1d', '0h', ''])('rejects %j with a coded error', (text) => {
    expect(() => parseDuration(text, 'retention')).toThrow(
      expect.objectContaining({ name: 'RacewayConfigError', code: 'RACEWAY_INVALID_DURATION' }),
    );
  });
});

describe('parseStorage', () => {
  it('resolves a relative SQLite path against the working directory', () => {
    expect(parseStorage('sqlite:./data/r.db', '/srv/app')).toEqual({
      kind: 'sqlite',
      path: '/srv/app/data/r.db',
    });
    expect(parseStorage('sqlite:/var/r.db', '/srv')).toEqual({ kind: 'sqlite', path: '/var/r.db' });
    expect(parseStorage('sqlite::memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
  });

  it('accepts postgres:// and postgresql:// URLs', () => {
    expect(parseStorage('postgres://u:p@db:5432/raceway')).toEqual({
      kind: 'postgres',
      url: 'postgres://u:p@db:5432/raceway',
    });
    expect(parseStorage('postgresql://db/raceway').kind).toBe('postgres');
  });

  it.each(['mysql://x', 'sqlite:', 'raceway.db', 'postgres://'])('rejects %j', (text) => {
    expect(() => parseStorage(text)).toThrow(
      expect.objectContaining({ code: 'RACEWAY_INVALID_STORAGE' }),
    );
  });

  it('never shows a password', () => {
    expect(redactUrl('postgres://user:secret@db/x')).toBe('postgres://user:***@db/x');
    expect(describeStorage({ kind: 'postgres', url: 'postgres://user:secret@db/x' })).not.toContain(
      'secret',
    );
    expect(() => parseStorage('postgres://user:secret@')).toThrow(
      expect.not.stringContaining('secret'),
    );
  });
});

describe('parsePort', () => {
  it('accepts 0..65535 only', () => {
    expect(parsePort('0')).toBe(0);
    expect(parsePort(8080)).toBe(8080);
    for (const bad of ['-1', '65536', 'http', '80.5']) {
      expect(() => parsePort(bad)).toThrow(
        expect.objectContaining({ code: 'RACEWAY_INVALID_PORT' }),
      );
    }
  });
});

describe('parseOtlpExport', () => {
  it('reads the endpoint and key=value headers (percent-decoded)', () => {
    expect(
      parseOtlpExport('http://tempo:4318/v1/traces', ['Authorization=Bearer%20abc', 'x-a = 1']),
    ).toEqual({
      endpoint: 'http://tempo:4318/v1/traces',
      headers: { authorization: 'Bearer abc', 'x-a': '1' },
    });
    expect(parseOtlpExport(undefined, [])).toBeUndefined();
  });

  it('takes the public URL that exported races link to', () => {
    expect(
      parseOtlpExport('http://tempo:4318/v1/traces', [], 'https://raceway.example.com'),
    ).toEqual({
      endpoint: 'http://tempo:4318/v1/traces',
      headers: {},
      uiUrl: 'https://raceway.example.com/',
    });
    expect(() => parseOtlpExport('http://x/v1/traces', [], 'raceway:8080')).toThrow(
      /public URL "raceway:8080" is not an http\(s\) URL/,
    );
  });

  it('refuses what is not an http(s) URL, and headers without a key', () => {
    expect(() => parseOtlpExport('tempo:4318', [])).toThrow(/not an http\(s\) URL/);
    expect(() => parseOtlpExport('http://x/v1/traces', ['=v'])).toThrow(/key=value/);
  });
});
