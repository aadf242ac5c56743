import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** How to start one service: what a test hands to {@link startProcess}. */
export interface Launch {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
}

/** A free TCP port on 127.0.0.1 (the OS picks it; the probe closes before it is used). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/** Resolves once something answers HTTP on 127.0.0.1:port (any status); fails after ~30 s. */
export async function waitForPort(port: number, child?: ChildProcess): Promise<void> {
  for (let attempt = 0; attempt < 600; attempt++) {
    if (child && child.exitCode !== null) {
      throw new Error(`the service for port ${port} exited with code ${child.exitCode}`);
    }
    try {
      await fetch(`http://127.0.0.1:${port}/`);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`nothing listens on port ${port}`);
}

/** Starts a service as a real process, its output on the test's, with `env` over the test's own. */
export function startProcess(launch: Launch, env: Record<string, string> = {}): ChildProcess {
  return spawn(launch.command, launch.args, {
    cwd: launch.cwd,
    env: { ...process.env, ...launch.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
}

/** SIGTERM, then the exit code (services flush their events on SIGTERM and exit 0). */
export async function stopProcess(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  return exited;
}
