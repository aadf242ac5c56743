// The shop's token check: Koa.
import { createServer } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import { racewayMiddleware } from '@raceway/koa';
import Koa from 'koa';
import { DEMO_TOKEN } from '../src/catalogue.mjs';
import { closeHttpServer, listenHttp, runService, tracingOptions, work } from '../src/runtime.mjs';

const app = new Koa();
app.use(racewayMiddleware(tracingOptions('auth')));
app.use(bodyParser());

const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.post('/verify', async (ctx) => {
  await work(5); // a signature check
  if (ctx.get('authorization') !== `Bearer ${DEMO_TOKEN}`) {
    ctx.status = 401;
    ctx.body = { valid: false };
    return;
  }
  ctx.body = { valid: true, user: 'demo' };
});
app.use(router.routes());
app.use(router.allowedMethods());

await runService('auth', async (port, host) => {
  const server = await listenHttp(createServer(app.callback()), port, host);
  return { server, close: closeHttpServer(server) };
});
