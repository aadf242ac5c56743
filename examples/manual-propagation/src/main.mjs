// Runs the example against a collector (`raceway serve`, or `pnpm demo` which starts one):
//   RACEWAY_URL=http://127.0.0.1:8080 node examples/manual-propagation/src/main.mjs
import { Tracer } from '@raceway/core';
import { createAccountsServer } from './accounts-service.mjs';
import { Ledger } from './ledger.mjs';
import { runTransferBatch } from './transfer-worker.mjs';

const collector = process.env.RACEWAY_URL ?? 'http://127.0.0.1:8080';
const ledger = new Ledger({ alice: 10_000, bob: 0, carol: 0 });
const server = createAccountsServer({ ledger, raceway: { serviceName: 'accounts' } });
await new Promise((resolve) =>
  server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => resolve(undefined)),
);
const address = /** @type {import('node:net').AddressInfo} */ (server.address());
const accountsUrl = `http://127.0.0.1:${address.port}`;
const tracer = Tracer.fromOptions({ serviceName: 'transfer-worker' });
const transfers = [
  { from: 'alice', to: 'bob', amount: 500 },
  { from: 'alice', to: 'carol', amount: 300 },
];

const unlocked = await runTransferBatch({ tracer, accountsUrl, transfers });
console.log(
  `without the lock: trace ${unlocked.traceId}, alice has ${ledger.balances.get('alice')} (expected 9200)`,
);
ledger.balances.set('alice', 10_000);
const locked = await runTransferBatch({ tracer, accountsUrl, transfers, locked: true });
console.log(
  `with the lock:    trace ${locked.traceId}, alice has ${ledger.balances.get('alice')} (expected 9200)`,
);

server.close();
await Promise.all([tracer.shutdown(), Tracer.fromOptions({ serviceName: 'accounts' }).shutdown()]);
console.log(
  `races: ${collector}/api/traces/${unlocked.traceId}/races (a lost update on account:alice)`,
);
console.log(
  `       ${collector}/api/traces/${locked.traceId}/races (none: the lock orders the accesses)`,
);
