import { describe, expect, it } from 'vitest';
import {
  assignServiceColors,
  serviceColor,
  serviceDisplayHue,
  serviceHue,
} from '../../ui/src/service-colors.js';

// Service colours: names that hash to neighbouring hues still get colours far apart.

const hueDistance = (a: number, b: number) => Math.min(Math.abs(a - b), 360 - Math.abs(a - b));

describe('service colours', () => {
  it('keeps api and frontend apart although their names hash 8° apart', () => {
    expect(hueDistance(serviceHue('api'), serviceHue('frontend'))).toBeLessThan(10);
    const colors = assignServiceColors(['frontend', 'api']);
    expect(colors.get('api')).not.toBe(colors.get('frontend'));
    expect(
      hueDistance(serviceDisplayHue('api'), serviceDisplayHue('frontend')),
    ).toBeGreaterThanOrEqual(30);
    // Every view of the page shows a service in the colour it was given.
    expect(serviceColor('api')).toBe(colors.get('api'));
  });

  it('gives twelve services twelve hues at least 30° apart', () => {
    const names = Array.from({ length: 10 }, (_, i) => `service-${i}`);
    const hues = [...assignServiceColors(names).keys(), 'api', 'frontend'].map(serviceDisplayHue);
    expect(new Set(hues).size).toBe(12);
    for (const a of hues) {
      for (const b of hues) if (a !== b) expect(hueDistance(a, b)).toBeGreaterThanOrEqual(30);
    }
  });
});
