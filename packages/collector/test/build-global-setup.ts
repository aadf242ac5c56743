import { fileURLToPath } from 'node:url';
import { buildIfStale } from '../../../tooling/build-if-stale.js';

/**
 * The CLI and durability tests run the built `raceway` bin (dist/cli.js) as a child process,
 * as a user would: build it first when it is missing or older than src/.
 */
export default function setup() {
  buildIfStale([fileURLToPath(new URL('..', import.meta.url))]);
}
