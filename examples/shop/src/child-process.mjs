import { spawn } from 'node:child_process';

/**
 * @typedef {object} Child
 * @property {import('node:child_process').ChildProcess} process
 * @property {string} name
 * @property {() => string} output   what it printed so far (stdout and stderr, last 64 KiB)
 * @property {Promise<number | null>} exited  its exit code (null when killed by a signal)
 * @property {(timeoutMs?: number) => Promise<number | null>} stop  SIGTERM, then SIGKILL after timeoutMs
 */

const MAX_OUTPUT = 64 * 1024;
/** @type {Set<Child>} */
const running = new Set();
let exitHookInstalled = false;

/**
 * Starts `node <script> <args>` (or `<command> <script> <args>`, `<command> <args>` without a
 * script: a service in another language) and resolves once a line of its stdout matches `ready`, with the
 * match; rejects with what it printed when it exits first or after `timeoutMs`.
 *
 * Children get their own process group, so that Ctrl-C in a terminal reaches only the parent,
 * which stops them in order (the shop before the collector, so the last events still arrive).
 * A child still running when the parent exits is sent SIGTERM.
 *
 * @param {object} options
 * @param {string} options.name
 * @param {string} [options.command]  default: this Node.js
 * @param {string} [options.script]
 * @param {string[]} [options.args]
 * @param {NodeJS.ProcessEnv} options.env
 * @param {string} [options.cwd]
 * @param {RegExp} options.ready
 * @param {number} [options.timeoutMs]
 * @returns {Promise<{ child: Child, match: RegExpExecArray }>}
 */
export function startChild({
  name,
  command = process.execPath,
  script,
  args = [],
  env,
  cwd,
  ready,
  timeoutMs = 15_000,
}) {
  installExitHook();
  const proc = spawn(command, script === undefined ? args : [script, ...args], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  /** @param {Buffer} chunk */
  const append = (chunk) => {
    output = (output + chunk.toString('utf8')).slice(-MAX_OUTPUT);
  };
  proc.stdout?.on('data', append);
  proc.stderr?.on('data', append);
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => {
    // 'close' rather than 'exit': by then everything it printed has been read.
    proc.once('close', (code) => resolve(code));
    proc.once('error', () => resolve(-1));
  });

  /** @type {Child} */
  const child = {
    process: proc,
    name,
    output: () => output,
    exited,
    async stop(stopTimeoutMs = 5000) {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), stopTimeoutMs);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      return exited;
    },
  };
  running.add(child);
  void exited.then(() => running.delete(child));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void child.stop();
      reject(new Error(`${name} did not start within ${timeoutMs} ms. It printed:\n${output}`));
    }, timeoutMs);
    let partial = '';
    /** @param {Buffer} chunk */
    const onData = (chunk) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        const match = ready.exec(line);
        if (match) {
          clearTimeout(timer);
          proc.stdout?.off('data', onData);
          resolve({ child, match });
          return;
        }
      }
    };
    proc.stdout?.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(
        new Error(`${name} exited (code ${code}) before it was ready. It printed:\n${output}`),
      );
    });
  });
}

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) {
      try {
        child.process.kill('SIGTERM');
      } catch {
        // Already gone.
      }
    }
  });
}
