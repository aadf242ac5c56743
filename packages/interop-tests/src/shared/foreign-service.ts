import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';

/**
 * A service written with another language's SDK, running as a real process. Every language's
 * interop service speaks one protocol: it prints `{"url": ...}` as its first line once it
 * listens (127.0.0.1, an ephemeral port), serves `/chain`, `/reserve` and `POST /flush`, and
 * flushes its transport on SIGTERM.
 */
export interface ForeignService {
  readonly name: string;
  readonly url: string;
  /** Sends what the service's transport holds to the collector (`POST /flush`). */
  flush(): Promise<void>;
  /** SIGTERM, then waits for the exit (the service flushes on the way out). */
  close(): Promise<void>;
}

export interface ForeignServiceCommand {
  /** The language, for error messages: `Go`, `Rust`, `Python`. */
  language: string;
  /** The executable, built by `setup` (the language's `sdks/<language>/scripts/test.sh`). */
  executable: string;
  args?: string[];
  setup: string;
  /** Environment beyond the service name, the collector URL and the instance. */
  env?: Record<string, string>;
  startTimeoutMs?: number;
}

/** Starts the service as `name`, reporting to `collectorUrl`; resolves once it listens. */
export async function startForeignService(
  command: ForeignServiceCommand,
  name: string,
  collectorUrl: string,
  env: Record<string, string> = {},
): Promise<ForeignService> {
  const { language, executable } = command;
  if (!existsSync(executable)) {
    throw new Error(`${executable} is missing: run ${command.setup} first`);
  }
  const child = spawn(executable, command.args ?? [], {
    env: {
      PATH: process.env.PATH ?? '',
      RACEWAY_SERVICE_NAME: name,
      RACEWAY_URL: collectorUrl,
      RACEWAY_INSTANCE: `${name}-host`,
      ...command.env,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await firstLineUrl(child, language, command.startTimeoutMs ?? 20_000, () => stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    url,
    async flush() {
      const response = await fetch(`${url}/flush`, { method: 'POST' });
      const text = await response.text();
      // A service whose flush can time out says so (`{"flushed": false}`).
      if (!response.ok || /"flushed"\s*:\s*false/.test(text)) {
        throw new Error(`${name} flush: ${response.status} ${text}`);
      }
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function firstLineUrl(
  child: ChildProcess,
  language: string,
  timeoutMs: number,
  stderr: () => string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`the ${language} service did not start within ${timeoutMs} ms: ${stderr()}`),
      );
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${language} service exited (${code}) before listening: ${stderr()}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        reject(new Error(`unexpected first line from the ${language} service: ${line}`));
      }
    });
  });
}
