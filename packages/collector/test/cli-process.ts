import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const CLI = join(__dirname, '..', 'dist', 'cli.js');

export interface RunningCli {
  child: ChildProcess;
  url: string;
  /** The start-up line. */
  line: string;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** The environment without any RACEWAY_* variable of the developer's shell. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('RACEWAY_')),
  );
  return { ...env, ...extra };
}

/** Runs `raceway <args>` and resolves once it printed its start-up line. */
export function startCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<RunningCli> {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no start-up line within 15 s; stderr: ${err}`)),
      15_000,
    );
    child.stderr!.on('data', (chunk) => {
      err += chunk;
    });
    child.stdout!.on('data', (chunk) => {
      out += chunk;
      const match = /^raceway collector .* listening on (https?:\/\/\S+) .*$/m.exec(out);
      if (match) {
        clearTimeout(timer);
        resolve({
          child,
          url: match[1]!,
          line: match[0],
          stdout: () => out,
          stderr: () => err,
          exited,
        });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`raceway exited with ${code} before listening; stderr: ${err}`));
    });
  });
}

/** Runs `raceway <args>` to completion. */
export function runCli(args: string[], options: { cwd: string; env?: Record<string, string> }) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c) => {
    stdout += c;
  });
  child.stderr.on('data', (c) => {
    stderr += c;
  });
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
}
