import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * For test suites that run packages the way users do, from their builds (child processes of
 * the `raceway` bin, example services importing `@raceway/*`): builds each package, in the
 * order given, whose dist/ is missing or older than its src/. Used as a vitest globalSetup.
 */
export function buildIfStale(packageDirs: readonly string[]): void {
  for (const dir of packageDirs) {
    const built = join(dir, 'dist', 'index.js');
    // A package with a web UI (the collector's ui/) builds it too.
    const sources = ['src', 'ui'].map((d) => join(dir, d)).filter((d) => existsSync(d));
    const newest = Math.max(...sources.map(newestMtime));
    if (existsSync(built) && statSync(built).mtimeMs >= newest) continue;
    try {
      execFileSync('pnpm', ['run', 'build'], { cwd: dir, stdio: 'pipe' });
    } catch (error) {
      const { stderr, stdout } = error as { stderr?: Buffer; stdout?: Buffer };
      const output = `${stdout ?? ''}${stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
      throw new Error(`building ${dir} before the tests failed:\n${output}`);
    }
  }
}
