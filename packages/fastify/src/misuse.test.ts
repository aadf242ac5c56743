import Fastify from 'fastify';
import { expect, it } from 'vitest';
import { racewayPlugin } from './index.js';

it('racewayPlugin called like a factory is a coded error at once', () => {
  expect(() =>
    (racewayPlugin as unknown as (options: object) => void)({ serviceName: 'api' }),
  ).toThrow(expect.objectContaining({ code: 'RACEWAY_INVALID_ARGUMENTS' }));
});

it('a misspelt option makes register reject with the coded error', async () => {
  const app = Fastify();
  await expect(
    app.register(racewayPlugin, { serviceName: 'api', serverURL: 'http://x' } as never),
  ).rejects.toMatchObject({
    code: 'RACEWAY_UNKNOWN_OPTION',
    message: expect.stringContaining('did you mean "serverUrl"?'),
  });
  await app.close();
});

it("takes Fastify's own register options alongside Raceway's", async () => {
  const app = Fastify();
  await app.register(racewayPlugin, { serviceName: 'api', disabled: true, prefix: '/x' } as never);
  await app.ready();
  await app.close();
});
