import { RacewayConfigError } from '@raceway/core';
import { describe, expect, it, vi } from 'vitest';
import { racewayErrorHandler, racewayMiddleware } from './index.js';

describe('@raceway/express', () => {
  it('refuses bad options when the middleware is made', () => {
    expect(() => racewayMiddleware({ serviceName: '' })).toThrow(RacewayConfigError);
    expect(() => racewayMiddleware({ serviceName: 'api', serverUrl: 'ftp://x' })).toThrow(
      expect.objectContaining({ code: 'RACEWAY_INVALID_URL' }),
    );
  });

  it('passes requests straight on when disabled', () => {
    const middleware = racewayMiddleware({ disabled: true });
    const next = vi.fn();
    middleware({ headers: {}, url: '/' } as never, {} as never, next);
    expect(next).toHaveBeenCalledWith();
  });

  it('passes errors on unchanged, with or without a traced request', () => {
    const handler = racewayErrorHandler();
    expect(handler.length).toBe(4);
    const next = vi.fn();
    const error = new Error('x');
    handler(error, {} as never, {} as never, next);
    expect(next).toHaveBeenCalledWith(error);
  });
});
