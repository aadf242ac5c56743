import { RacewayConfigError } from '@raceway/core';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { instrumentAxios, uninstrumentAxios } from './index.js';

/** axios keeps ejected interceptors as null slots. */
const active = (handlers: unknown[]) => handlers.filter((h) => h !== null).length;

describe('@raceway/axios', () => {
  it('adds its interceptors once per instance, and removes them', () => {
    const instance = axios.create();
    const interceptors = instance.interceptors as unknown as {
      request: { handlers: unknown[] };
      response: { handlers: unknown[] };
    };
    expect(instrumentAxios(instance)).toBe(instance);
    instrumentAxios(instance);
    expect(active(interceptors.request.handlers)).toBe(1);
    expect(active(interceptors.response.handlers)).toBe(1);
    uninstrumentAxios(instance);
    expect(active(interceptors.request.handlers)).toBe(0);
    expect(active(interceptors.response.handlers)).toBe(0);
  });

  it('refuses a bad propagateTo when installed', () => {
    expect(() => instrumentAxios(axios.create(), { propagateTo: [''] })).toThrow(
      RacewayConfigError,
    );
  });
});
