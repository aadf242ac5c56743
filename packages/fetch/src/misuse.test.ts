import { expect, it } from 'vitest';
import { instrumentFetch } from './instrument-fetch.js';
import { wrapFetch } from './wrap-fetch.js';

it('wrapFetch without a fetch function is a coded error', () => {
  expect(() => wrapFetch({ propagateTo: ['inventory'] } as never)).toThrow(
    expect.objectContaining({ code: 'RACEWAY_INVALID_ARGUMENTS' }),
  );
});

it('client options with a server option in them are a coded error with a suggestion', () => {
  expect(() => instrumentFetch({ propagateTO: ['inventory'] } as never)).toThrow(
    expect.objectContaining({
      code: 'RACEWAY_UNKNOWN_OPTION',
      message: expect.stringContaining('did you mean "propagateTo"?'),
    }),
  );
  expect(() => wrapFetch(fetch, { serviceName: 'web' } as never)).toThrow(
    expect.objectContaining({ code: 'RACEWAY_UNKNOWN_OPTION' }),
  );
  expect(() => instrumentFetch('inventory' as never)).toThrow(
    expect.objectContaining({ code: 'RACEWAY_INVALID_ARGUMENTS' }),
  );
});
