// Copies the contract's JSON Schemas from spec/schemas into src/schemas. The published package
// cannot reach ../../spec, so it ships these copies (inlined by the build); a test fails when
// they differ from spec/, so run this script whenever the contract changes.
import { copyFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const from = join(here, '..', '..', '..', 'spec', 'schemas');
const to = join(here, '..', 'src', 'schemas');
for (const name of readdirSync(from).filter((n) => n.endsWith('.json'))) {
  copyFileSync(join(from, name), join(to, name));
  console.log(`copied spec/schemas/${name} -> src/schemas/${name}`);
}
