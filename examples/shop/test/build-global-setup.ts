import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packagesDir = fileURLToPath(new URL('../../../packages/', import.meta.url));
// Core first: the others' type declarations are built against core's.
const PACKAGES = ['core', 'express', 'koa', 'fastify', 'fetch', 'axios', 'collector'];

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The shop's services import the @raceway packages as a user's app does, from their builds.
 * Builds each package whose dist/ is missing or older than its src/ before the run.
 */
export default function setup() {
  for (const name of PACKAGES) {
    const dir = join(packagesDir, name);
    const built = join(dir, 'dist', 'index.js');
    if (existsSync(built) && statSync(built).mtimeMs >= newestMtime(join(dir, 'src'))) continue;
    try {
      execFileSync('pnpm', ['run', 'build'], { cwd: dir, stdio: 'pipe' });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: Buffer; stdout?: Buffer };
      const output = `${stdout ?? ''}${stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`building @raceway/${name} for the shop's services failed:\n${output}`);
    }
  }
}
