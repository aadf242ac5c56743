// A lower bound for the request overhead of any implementation of the Raceway contract, not a
// tracer: per request only the work the contract cannot do without, written as plainly as
// possible. It runs the handler in an AsyncLocalStorage context, puts X-Raceway-Trace-Id and
// X-Raceway-VC on the response, and exports two events of the contract's shape
// (request_received, response_sent, with a clock each) as gzip'd JSON batches.
//
// Everything a real SDK also does is left out: reading and validating incoming trace headers,
// random ids (ids here are a counter), the clock taken when the headers are written, routes,
// errors, aborted requests, bounded queues, retries, flush on exit. Used by
// http-overhead-app.cjs (variant `minimal`) so that one run shows how much of Raceway's
// overhead is the contract itself and how much is the implementation.
const { AsyncLocalStorage } = require('node:async_hooks');
const http = require('node:http');
const zlib = require('node:zlib');

// Batches of 200 events, as the SDK sends by default.
const GROUP = 200;

function minimalTracerMiddleware(serviceName, sinkUrl) {
  const storage = new AsyncLocalStorage();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const endpoint = `${sinkUrl}/v1/events`;
  const instance = `bench:${process.pid}`;
  let sequence = 0;
  let queue = [];

  const send = (events) => {
    zlib.gzip(Buffer.from(JSON.stringify({ events })), { level: 1 }, (error, body) => {
      if (error) return;
      const request = http.request(endpoint, {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-encoding': 'gzip',
          'content-length': body.length,
        },
      });
      request.on('response', (response) => response.resume());
      request.on('error', () => {});
      request.end(body);
    });
  };
  const hex = (n, digits) => n.toString(16).padStart(digits, '0');
  const event = (ctx, kind, counter, data) => {
    ctx.counter = counter;
    queue.push({
      id: `${hex(++sequence, 32)}`,
      trace_id: ctx.traceId,
      span_id: ctx.spanId,
      parent_span_id: null,
      service: serviceName,
      instance,
      component: ctx.component,
      ts_us: Math.floor((performance.timeOrigin + performance.now()) * 1000),
      kind,
      clock: { [ctx.component]: counter },
      data,
    });
    if (queue.length >= GROUP) {
      send(queue);
      queue = [];
    }
  };

  return function minimalTracer(req, res, next) {
    const n = ++sequence;
    const ctx = {
      traceId: hex(n, 32),
      spanId: hex(n, 16),
      component: `${serviceName}#${hex(n & 0xffffffff, 8)}`,
      counter: 0,
    };
    const startedAt = performance.now();
    event(ctx, 'request_received', 1, {
      method: req.method,
      path: req.url,
      incoming: { status: 'absent', reasons: [] },
    });
    res.setHeader('X-Raceway-Trace-Id', ctx.traceId);
    res.setHeader('X-Raceway-VC', `{"${ctx.component}":2}`);
    res.on('finish', () => {
      event(ctx, 'response_sent', 2, {
        method: req.method,
        status: res.statusCode,
        duration_ms: performance.now() - startedAt,
      });
    });
    storage.run(ctx, next);
  };
}

module.exports = { minimalTracerMiddleware };
