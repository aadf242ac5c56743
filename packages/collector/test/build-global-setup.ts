import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * The CLI and durability tests run the built `raceway` bin (dist/cli.js) as a child process,
 * as a user would. Builds it once before the run when it is missing or older than src/.
 */
export default function setup() {
  const cli = join(root, 'dist', 'cli.js');
  if (existsSync(cli) && statSync(cli).mtimeMs >= newestMtime(join(root, 'src'))) return;
  execFileSync(
    process.execPath,
    [createRequire(import.meta.url).resolve('tsup/dist/cli-default.js')],
    {
      cwd: root,
      stdio: 'pipe',
    },
  );
}
