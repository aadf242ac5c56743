import { fileURLToPath } from 'node:url';
import { describeSqlRaces, type Launch } from './harness.js';

// The docs' read-modify-write between two Rust services (axum, sqlx on SQLite and PostgreSQL
// through raceway_client::db::sqlx), from the binary scripts/build-rust.sh builds in the Rust
// SDK's target directory.
const dir = fileURLToPath(new URL('../services/rust/', import.meta.url));
const binary = fileURLToPath(
  new URL('../../../sdks/rust/target/debug/sql-races-rust', import.meta.url),
);
const rust = (service: 'order' | 'inventory'): Launch => ({
  command: binary,
  args: [service],
  cwd: dir,
});

describeSqlRaces({
  title: 'Rust (sqlx: SQLite, PostgreSQL)',
  order: rust('order'),
  inventory: rust('inventory'),
});
