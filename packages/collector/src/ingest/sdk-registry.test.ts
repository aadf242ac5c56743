import { describe, expect, it } from 'vitest';
import { SdkRegistry } from './sdk-registry.js';

const sdk = (version: string, language?: string) => ({ name: 'raceway-client', version, language });
const from = (service: string, instance: string) => ({ service, instance });

describe('SdkRegistry', () => {
  it('keeps, per service, each SDK with its instances and when it was last seen', () => {
    const registry = new SdkRegistry();
    registry.note(
      sdk('0.1.0', 'rust'),
      [from('order', 'a'), from('order', 'a'), from('order', 'b')],
      1000,
    );
    registry.note(sdk('0.1.0', 'rust'), [from('order', 'c')], 2000);
    expect(registry.of('order')).toEqual([
      {
        name: 'raceway-client',
        version: '0.1.0',
        language: 'rust',
        instances: 3,
        last_seen: new Date(2000).toISOString(),
      },
    ]);
    expect(registry.of('nobody')).toEqual([]);
  });

  it('lists the most recently seen SDK first, and lets the oldest go past 8', () => {
    const registry = new SdkRegistry();
    for (let minor = 0; minor < 10; minor++) {
      registry.note(sdk(`0.${minor}.0`), [from('api', `i${minor}`)], minor);
    }
    registry.note(sdk('0.3.0'), [from('api', 'i3')], 100); // seen again: the newest now
    const versions = registry.of('api').map((s) => s.version);
    expect(versions).toEqual([
      '0.3.0',
      '0.9.0',
      '0.8.0',
      '0.7.0',
      '0.6.0',
      '0.5.0',
      '0.4.0',
      '0.2.0',
    ]);
  });

  it('ignores a batch that names no SDK', () => {
    const registry = new SdkRegistry();
    registry.note(undefined, [from('api', 'a')]);
    expect(registry.of('api')).toEqual([]);
  });
});
