import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../../../tooling/build-if-stale.js';

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));
const scriptsDir = fileURLToPath(new URL('../scripts/', import.meta.url));
// Core first: the others' type declarations are built against core's.
const PACKAGES = ['core', 'express', 'fetch', 'pg', 'better-sqlite3', 'collector'];

/**
 * The Node.js services import the @raceway packages as a user's app does, from their builds;
 * the services of the other languages are built by scripts/build-<language>.sh (a virtualenv, a
 * binary: seconds when nothing changed).
 */
export default function setup() {
  buildIfStale(PACKAGES.map((name) => `${packagesDir}${name}`));
  for (const script of readdirSync(scriptsDir)
    .filter((f) => /^build-.+\.sh$/.test(f))
    .sort()) {
    execFileSync('bash', [`${scriptsDir}${script}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  }
}
