import axios from 'axios';
import { expect, it } from 'vitest';
import { instrumentAxios, uninstrumentAxios } from './index.js';

it('instrumentAxios with options in the instance place is a coded error, not a TypeError', () => {
  let thrown: unknown;
  try {
    instrumentAxios({ propagateTo: ['inventory'] } as never);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toMatchObject({
    name: 'RacewayConfigError',
    code: 'RACEWAY_INVALID_ARGUMENTS',
    message: expect.stringContaining('got an object with propagateTo'),
  });
});

it('unknown client options are a coded error with a suggestion', () => {
  const instance = axios.create();
  expect(() => instrumentAxios(instance, { propagate_to: ['x'] } as never)).toThrow(
    expect.objectContaining({
      code: 'RACEWAY_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean "propagateTo"?'),
    }),
  );
  uninstrumentAxios(instance);
});
