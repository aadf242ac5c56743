import { RacewayConfigError } from '@raceway/core';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { racewayPlugin } from './index.js';

describe('@raceway/fastify', () => {
  it('refuses bad options when registered', async () => {
    const app = Fastify();
    await expect(app.register(racewayPlugin, { serviceName: '' })).rejects.toBeInstanceOf(
      RacewayConfigError,
    );
  });

  it('serves untouched when disabled', async () => {
    const app = Fastify();
    await app.register(racewayPlugin, { disabled: true });
    app.get('/', async () => 'ok');
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['x-raceway-trace-id']).toBeUndefined();
    await app.close();
  });
});
