import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The Rust interop service (`sdks/rust/examples/interop_service.rs`), built by `sdks/rust/scripts/test.sh` (run by `pnpm test` before vitest). */
export const RUST_SERVICE_BINARY = fileURLToPath(
  new URL('../../../../sdks/rust/target/debug/examples/interop_service', import.meta.url),
);

/** A running Rust service process. */
export interface RustService {
  readonly name: string;
  readonly url: string;
  /** Sends what the service's transport holds to the collector (`POST /flush`). */
  flush(): Promise<void>;
  /** SIGTERM, then waits for the exit (the service flushes on the way out). */
  close(): Promise<void>;
}

/**
 * Starts the Rust service as a real process reporting to `collectorUrl` as `name`, and resolves
 * once it printed the URL it listens on (127.0.0.1, an ephemeral port).
 */
export async function startRustService(name: string, collectorUrl: string): Promise<RustService> {
  if (!existsSync(RUST_SERVICE_BINARY)) {
    throw new Error(`${RUST_SERVICE_BINARY} is missing: run bash sdks/rust/scripts/test.sh first`);
  }
  const child = spawn(RUST_SERVICE_BINARY, [], {
    env: {
      PATH: process.env.PATH ?? '',
      RACEWAY_SERVICE_NAME: name,
      RACEWAY_URL: collectorUrl,
      RACEWAY_INSTANCE: `${name}-host`,
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
      if (!response.ok)
        throw new Error(`${name} flush: ${response.status} ${await response.text()}`);
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
      reject(new Error(`the Rust service did not start within 10 s: ${stderr()}`));
    }, 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the Rust service exited (${code}) before listening: ${stderr()}`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve((JSON.parse(line) as { url: string }).url);
      } catch {
        reject(new Error(`unexpected first line from the Rust service: ${line}`));
      }
    });
  });
}
