import { describe, expect, it } from 'vitest';
import {
  eventMethod,
  eventPath,
  eventRoute,
  eventStatus,
  eventTarget,
  pathOf,
} from './event-fields.js';

describe('event fields', () => {
  it('keeps methods inside the schema pattern', () => {
    expect(eventMethod('get')).toBe('GET');
    expect(eventMethod('PROPFIND')).toBe('PROPFIND');
    expect(eventMethod(undefined)).toBe('GET');
    expect(eventMethod('GET /x')).toBe('OTHER');
  });

  it('takes the path out of a request target', () => {
    expect(pathOf('/users/7?expand=1#top')).toBe('/users/7');
    expect(pathOf('/a#b?c')).toBe('/a');
    expect(pathOf('')).toBe('/');
    expect(eventPath('/x'.repeat(2000))).toHaveLength(2048);
  });

  it('drops empty routes and bad statuses', () => {
    expect(eventRoute('')).toBeNull();
    expect(eventRoute('/users/:id')).toBe('/users/:id');
    expect(eventRoute('r'.repeat(600))).toHaveLength(512);
    expect(eventStatus(200)).toBe(200);
    expect(eventStatus(99)).toBeUndefined();
    expect(eventStatus(200.5)).toBeUndefined();
  });

  it('records a call target without credentials, query or fragment', () => {
    expect(eventTarget(new URL('http://u:secret@inventory:8080/items/1?token=x#f'))).toEqual({
      url: 'http://inventory:8080/items/1',
      host: 'inventory:8080',
    });
  });
});
