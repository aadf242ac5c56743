import { RacewayConfigError } from '@raceway/core';
import { describe, expect, it, vi } from 'vitest';
import { racewayMiddleware } from './index.js';

describe('@raceway/koa', () => {
  it('refuses bad options when the middleware is made', () => {
    expect(() => racewayMiddleware({ serviceName: '' })).toThrow(RacewayConfigError);
  });

  it('passes requests straight on when disabled', async () => {
    const middleware = racewayMiddleware({ disabled: true });
    const next = vi.fn(async () => 'downstream');
    await expect(
      middleware({ req: { headers: {}, url: '/' }, res: {} } as never, next),
    ).resolves.toBe('downstream');
    expect(next).toHaveBeenCalledOnce();
  });
});
