// The polyglot shop's payment provider, in TypeScript: Fastify, and by far the slowest service
// of the shop (the card network, 250 ms): the critical path has a clear biggest contributor
// even when a busy machine slows the other services' own work down. Each captured charge is
// recorded in the audit log with axios.
import { randomUUID } from 'node:crypto';
import { instrumentAxios } from '@raceway/axios';
import { runService, tracingOptions, work } from '@raceway/example-shop/src/runtime.mjs';
import { racewayPlugin } from '@raceway/fastify';
import axios from 'axios';
import Fastify from 'fastify';
import { serviceUrl } from '../../src/catalogue.mjs';

const audit = instrumentAxios(axios.create({ baseURL: serviceUrl('audit'), timeout: 5000 }));

const app = Fastify();
await app.register(racewayPlugin, tracingOptions('payment'));

app.get('/healthz', async () => ({ status: 'ok' }));

app.post('/charges', async (request, reply) => {
  await work(250); // the card network
  const { amountCents } = /** @type {{ amountCents?: number }} */ (request.body ?? {});
  const id = randomUUID();
  // A charge that is not on record is not captured: a failed audit call fails the charge.
  await audit.post('/records', { service: 'payment', action: 'charge_captured', subject: id });
  return reply.code(201).send({ id, amountCents, status: 'captured' });
});

await runService('payment', async (port, host) => {
  await app.listen({ port, host });
  return { server: app.server, close: () => app.close() };
});
