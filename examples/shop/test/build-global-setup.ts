import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../../../tooling/build-if-stale.js';

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));
// Core first: the others' type declarations are built against core's.
const PACKAGES = [
  'core',
  'express',
  'koa',
  'fastify',
  'fetch',
  'axios',
  'better-sqlite3',
  'collector',
];

/** The shop's services import the @raceway packages as a user's app does, from their builds. */
export default function setup() {
  buildIfStale(PACKAGES.map((name) => `${packagesDir}${name}`));
}
