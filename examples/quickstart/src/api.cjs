// api.cjs: a CommonJS service.
const { shutdown, trackStateRead, trackStateWrite, withLock } = require('@raceway/core');
const { racewayMiddleware } = require('@raceway/express');
const { Mutex } = require('async-mutex');
const express = require('express');

const stock = new Map([['mug', 100]]); // stands for your database
const mutex = new Mutex(); // async-mutex, from npm
const app = express();
app.use(racewayMiddleware({ serviceName: 'api' }));

app.post('/stock/:sku/take', async (req, res) => {
  const resource = `stock:${req.params.sku}`;
  // Read-modify-write under the lock: withLock takes the mutex and tells Raceway, so two
  // purchases run one after the other and it is not a race.
  const left = await withLock(resource, mutex, () => {
    const count = stock.get(req.params.sku) ?? 0;
    trackStateRead(resource, { value: count });
    stock.set(req.params.sku, count - 1);
    trackStateWrite(resource, { value: count - 1 });
    return count - 1;
  });
  res.json({ sku: req.params.sku, left });
});

const server = app.listen(Number(process.env.PORT ?? 3001), '127.0.0.1');
process.on('SIGTERM', async () => {
  server.close();
  await shutdown();
  process.exit(0);
});
