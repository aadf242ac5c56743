import { describeSqlRaces, nodeService } from './harness.js';

// The TypeScript services: better-sqlite3 and pg, instrumented by @raceway/better-sqlite3 and
// @raceway/pg once at startup (src/db.mjs).
describeSqlRaces({
  title: 'TypeScript (better-sqlite3, pg)',
  order: nodeService('order.mjs'),
  inventory: nodeService('inventory.mjs'),
});
