import { fileURLToPath } from 'node:url';
import { describeSqlRaces, type Launch } from './harness.js';

// The docs' read-modify-write between two Python services (Flask, sqlite3 and psycopg wrapped by
// raceway.db.instrument), from the virtualenv scripts/build-python.sh makes.
const dir = fileURLToPath(new URL('../services/python/', import.meta.url));
const python = (service: 'order' | 'inventory'): Launch => ({
  command: `${dir}.venv/bin/python`,
  args: [`${dir}service.py`, service],
  cwd: dir,
});

describeSqlRaces({
  title: 'Python (sqlite3, psycopg)',
  order: python('order'),
  inventory: python('inventory'),
});
