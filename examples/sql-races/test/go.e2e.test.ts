import { fileURLToPath } from 'node:url';
import { describeSqlRaces, type Launch, nodeService } from './harness.js';

// The docs' read-modify-write between two Go services (net/http, database/sql opened through
// racewaysql: modernc.org/sqlite and pgx), from the binary scripts/build-go.sh makes.
const dir = fileURLToPath(new URL('../services/go/', import.meta.url));
const go = (service: 'order' | 'inventory'): Launch => ({
  command: `${dir}.build/sql-races-go`,
  args: [service],
  cwd: dir,
});

describeSqlRaces({
  title: 'Go (modernc.org/sqlite, pgx)',
  order: go('order'),
  inventory: go('inventory'),
});

// Across languages: the Go order service and the TypeScript inventory service (pg) lose an
// update of one row between them, found from the SQL of both.
describeSqlRaces({
  title: 'Go order (pgx) and TypeScript inventory (pg)',
  order: go('order'),
  inventory: nodeService('inventory.mjs'),
  databases: ['postgresql'],
});
