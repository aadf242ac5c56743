// Creates the products table (if missing) and sets product <id> to <stock> units:
//   DATABASE=sqlite:shop.db node scripts/seed.mjs [id] [stock]
// Run outside any request: nothing is traced.
import { openDb } from '../src/db.mjs';
import { SCHEMA } from '../src/stock.mjs';

const db = openDb(process.env.DATABASE ?? 'sqlite:shop.db');
const id = Number(process.argv[2] ?? 1);
const stock = Number(process.argv[3] ?? 10);
await db.query(SCHEMA);
await db.query('DELETE FROM products WHERE id = $1', [id]);
await db.query('INSERT INTO products (id, stock) VALUES ($1, $2)', [id, stock]);
console.log(`product ${id}: stock ${stock}`);
await db.close();
