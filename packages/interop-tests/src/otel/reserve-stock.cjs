// The read-modify-write both services of otel-pg-race.test.ts run on one row, with pg: POST
// /reserve/:id reads the stock, waits at `?gate=URL` when given (the test answers once every
// service has read, so that both read before either writes), and writes the stock minus one.
// The gate is called with fetch, which neither service instruments: it is in no trace.

/** The Express handler of POST /reserve/:id on `pool`. */
function reserveStock(pool) {
  return async (request, response, next) => {
    try {
      const id = Number(request.params.id);
      const { rows } = await pool.query('SELECT stock FROM products WHERE id = $1', [id]);
      if (typeof request.query.gate === 'string') {
        await fetch(request.query.gate, { method: 'POST' });
      }
      const stock = rows[0].stock - 1;
      await pool.query('UPDATE products SET stock = $1 WHERE id = $2', [stock, id]);
      response.json({ stock });
    } catch (error) {
      next(error);
    }
  };
}

/** Listens on 127.0.0.1 and prints {"url"}, as the interop services do. */
function listen(app) {
  const server = app.listen(0, '127.0.0.1', () => {
    process.stdout.write(
      `${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`,
    );
  });
  return server;
}

module.exports = { reserveStock, listen };
