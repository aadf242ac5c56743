// The polyglot shop's audit log, in TypeScript: Koa. Three services in three languages record
// what they did here, each through its own SDK's client integration: auth (Go, the SDK's
// http.RoundTripper) the tokens it checked, payment (TypeScript, axios) the charges it captured,
// inventory (Python, a requests Session) the stock it reserved. Records are appended, never
// read back and rewritten, so concurrent writers cannot lose one another's: no race to report.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { bodyParser } from '@koa/bodyparser';
import { Router } from '@koa/router';
import {
  closeHttpServer,
  listenHttp,
  runService,
  tracingOptions,
  work,
} from '@raceway/example-shop/src/runtime.mjs';
import { racewayMiddleware } from '@raceway/koa';
import Koa from 'koa';
import { SERVICES } from '../../src/catalogue.mjs';

/** The newest records, enough for a person to look at; older ones are let go. */
const KEPT = 1000;

/**
 * @typedef {object} AuditRecord
 * @property {string} id
 * @property {string} service  who did it
 * @property {string} action   what it did, e.g. `charge_captured`
 * @property {string} subject  what it did it to, e.g. a charge id or a SKU
 * @property {string} at       when the record was taken (ISO 8601)
 */

/** @type {AuditRecord[]} */
const records = [];

const app = new Koa();
app.use(racewayMiddleware(tracingOptions('audit')));
app.use(bodyParser());

const router = new Router();
router.get('/healthz', (ctx) => {
  ctx.body = { status: 'ok' };
});
router.get('/records', (ctx) => {
  ctx.body = records.slice(-100).reverse();
});
router.post('/records', async (ctx) => {
  const body = /** @type {Record<string, unknown>} */ (ctx.request.body ?? {});
  const missing = ['service', 'action', 'subject'].filter(
    (field) => typeof body[field] !== 'string' || body[field] === '',
  );
  if (missing.length > 0) {
    ctx.status = 422;
    ctx.body = {
      error: 'invalid_record',
      message: `a string is needed for: ${missing.join(', ')}`,
    };
    return;
  }
  await work(3); // an fsync's worth of durable append
  const record = {
    id: randomUUID(),
    service: String(body.service),
    action: String(body.action),
    subject: String(body.subject),
    at: new Date().toISOString(),
  };
  records.push(record);
  if (records.length > KEPT) records.splice(0, records.length - KEPT);
  ctx.status = 201;
  ctx.body = record;
});
app.use(router.routes());
app.use(router.allowedMethods());

await runService(
  'audit',
  async (port, host) => {
    const server = await listenHttp(createServer(app.callback()), port, host);
    return { server, close: closeHttpServer(server) };
  },
  SERVICES,
);
