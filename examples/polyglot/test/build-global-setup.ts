import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../../../tooling/build-if-stale.js';

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));
// Core first: the others' type declarations are built against core's.
const PACKAGES = ['core', 'express', 'fastify', 'koa', 'fetch', 'axios', 'collector'];

/**
 * The TypeScript services import the @raceway packages from their builds; the Python, Go and
 * Rust services need a virtualenv and two binaries: scripts/build.sh makes them (a few seconds
 * when nothing changed; the Rust dependency tree is shared with the Rust SDK's own build).
 */
export default function setup() {
  buildIfStale(PACKAGES.map((name) => `${packagesDir}${name}`));
  execFileSync('bash', [fileURLToPath(new URL('../scripts/build.sh', import.meta.url))], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}
