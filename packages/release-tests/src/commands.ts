import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/** The repository's root folder. */
export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** A file of this package's fixtures/. */
export const fixture = (path: string) =>
  fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));

/**
 * node-gyp compiles the SQLite driver against the running Node's own headers when they are
 * installed beside it (as `.ci/run` does), instead of downloading them.
 */
export function nodeHeadersEnv(): Record<string, string> {
  const prefix = dirname(dirname(process.execPath));
  return existsSync(join(prefix, 'include/node/node.h')) ? { npm_config_nodedir: prefix } : {};
}

/** Runs a command to completion; a failure carries its output, so the log says what broke. */
export async function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<string> {
  try {
    const { stdout } = await exec(command, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `${command} ${args.join(' ')} (in ${options.cwd}) failed:\n${stdout.slice(-4000)}\n${stderr.slice(-4000)}`,
    );
  }
}
