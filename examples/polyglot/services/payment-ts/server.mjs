// The polyglot shop's payment provider, in TypeScript: Fastify, and by far the slowest service
// of the shop (the card network, 250 ms): the critical path has a clear biggest contributor
// even when a busy machine slows the other services' own work down.
import { randomUUID } from 'node:crypto';
import { runService, tracingOptions, work } from '@raceway/example-shop/src/runtime.mjs';
import { racewayPlugin } from '@raceway/fastify';
import Fastify from 'fastify';

const app = Fastify();
await app.register(racewayPlugin, tracingOptions('payment'));

app.get('/healthz', async () => ({ status: 'ok' }));

app.post('/charges', async (request, reply) => {
  await work(250); // the card network
  const { amountCents } = /** @type {{ amountCents?: number }} */ (request.body ?? {});
  return reply.code(201).send({ id: randomUUID(), amountCents, status: 'captured' });
});

await runService('payment', async (port, host) => {
  await app.listen({ port, host });
  return { server: app.server, close: () => app.close() };
});
