// The shop's API gateway: Fastify, calling auth, order and inventory with axios.
import { instrumentAxios } from '@raceway/axios';
import { racewayPlugin } from '@raceway/fastify';
import axios from 'axios';
import Fastify from 'fastify';
import { serviceUrl } from '../src/catalogue.mjs';
import { runService, tracingOptions, work } from '../src/runtime.mjs';

const auth = serviceUrl('auth');
const order = serviceUrl('order');
const inventory = serviceUrl('inventory');
const http = instrumentAxios(axios.create({ timeout: 10_000 }));

const app = Fastify();
await app.register(racewayPlugin, tracingOptions('api'));

app.get('/healthz', async () => ({ status: 'ok' }));

// Every other route needs a valid token: auth says whom it belongs to.
app.addHook('preHandler', async (request, reply) => {
  if (request.url === '/healthz') return;
  const answer = await http.post(
    `${auth}/verify`,
    {},
    { headers: { authorization: request.headers.authorization ?? '' }, validateStatus: null },
  );
  if (answer.status !== 200) {
    reply.code(401).send({ error: 'unauthorized' });
    return reply;
  }
});

app.get('/products', async () => {
  const { data } = await http.get(`${inventory}/items`);
  return data;
});

app.get('/products/:sku', async (request, reply) => {
  const { sku } = /** @type {{ sku: string }} */ (request.params);
  const answer = await http.get(`${inventory}/items/${encodeURIComponent(sku)}`, {
    validateStatus: null,
  });
  return reply.code(answer.status).send(answer.data);
});

app.post('/checkout', async (request, reply) => {
  const { sku = 'mug', quantity = 1 } = /** @type {{ sku?: string, quantity?: number }} */ (
    request.body ?? {}
  );
  const mode =
    /** @type {{ mode?: string }} */ (request.query).mode ?? request.headers['x-checkout-mode'];
  const placeOrder = () => http.post(`${order}/orders`, { sku, quantity });
  const reserve = () => http.post(`${inventory}/reservations`, { sku, quantity });
  await work(2);
  // The bug this shop exists to show: order and inventory both read-modify-write the stock
  // row, and calling them at the same time lets one decrement overwrite the other. Calling
  // them one after the other (mode=sequential) orders the two updates.
  const [placed, reserved] =
    mode === 'sequential'
      ? [await placeOrder(), await reserve()]
      : await Promise.all([placeOrder(), reserve()]);
  return reply
    .code(201)
    .send({ order: placed.data, reservation: reserved.data, mode: mode ?? 'concurrent' });
});

app.setErrorHandler((error, _request, reply) => {
  const failure = /** @type {Error & { response?: { status?: number } }} */ (error);
  const status = failure.response?.status === 409 ? 409 : 502;
  reply.code(status).send({ error: 'checkout_failed', message: failure.message });
});

await runService('api', async (port, host) => {
  await app.listen({ port, host });
  return { server: app.server, close: () => app.close() };
});
