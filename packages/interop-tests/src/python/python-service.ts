import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The Python SDK's virtualenv, made by `sdks/python/scripts/test.sh` (run by `pnpm test` before vitest). */
export const PYTHON = fileURLToPath(
  new URL('../../../../sdks/python/.venv/bin/python', import.meta.url),
);
const SERVICE_SCRIPT = fileURLToPath(new URL('./service.py', import.meta.url));

/** The Python frameworks the interop service runs on: WSGI (Flask + requests) or ASGI (FastAPI + httpx). */
export type PythonFramework = 'flask' | 'fastapi';

/** A running Python service process. */
export interface PythonService {
  readonly name: string;
  readonly url: string;
  /** Sends what the service's transport holds to the collector (`POST /flush`). */
  flush(): Promise<void>;
  /** SIGTERM, then waits for the exit (the service flushes on the way out). */
  close(): Promise<void>;
}

/**
 * Starts `service.py` as a real process reporting to `collectorUrl` as `name`, and resolves
 * once it printed the URL it listens on (127.0.0.1, an ephemeral port).
 */
export async function startPythonService(
  name: string,
  collectorUrl: string,
  framework: PythonFramework,
): Promise<PythonService> {
  if (!existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: run bash sdks/python/scripts/test.sh first`);
  }
  const child = spawn(PYTHON, [SERVICE_SCRIPT], {
    env: {
      PATH: process.env.PATH ?? '',
      RACEWAY_SERVICE_NAME: name,
      RACEWAY_URL: collectorUrl,
      RACEWAY_INSTANCE: `${name}-host`,
      RACEWAY_INTEROP_FRAMEWORK: framework,
      PYTHONUNBUFFERED: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await firstLineUrl(child, () => stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    name,
    url,
    async flush() {
      const response = await fetch(`${url}/flush`, { method: 'POST' });
      const text = await response.text();
      if (!response.ok || !(JSON.parse(text) as { flushed: boolean }).flushed) {
        throw new Error(`${name} flush: ${response.status} ${text}`);
      }
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

function firstLineUrl(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the Python service did not start within 20 s: ${stderr()}`));
    }, 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Python service exited (${code}) before listening: ${stderr()}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        reject(new Error(`unexpected first line from the Python service: ${line}`));
      }
    });
  });
}
