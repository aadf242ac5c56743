#!/usr/bin/env node
// The one command that runs every check of the repository, in the order a failure is cheapest
// to find: build, lint, types, tests, then the published shape of every package. It ends with
// a single "N passed, N failed, N skipped" line, the sum over every language's suite, so any CI
// can read the outcome.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const reportDir = mkdtempSync(join(tmpdir(), 'raceway-test-'));
const reportFile = join(reportDir, 'vitest.json');
// Each SDK's script writes <suite>.json ({ passed, failed, skipped }) here for the last line.
const suiteReports = join(reportDir, 'suites');
const extraArgs = process.argv.slice(2);

const steps = [
  ['build', 'pnpm', ['run', 'build']],
  ['lint', 'pnpm', ['run', 'lint']],
  ['typecheck', 'pnpm', ['run', 'typecheck']],
  // Each SDK in another language owns one script that sets up its own toolchain's dependencies
  // (a virtualenv, modules, crates), runs its linters and its own test suite, and builds what the
  // cross-language tests below start as real processes.
  ...['python', 'go', 'rust']
    .filter((language) => existsSync(`sdks/${language}/scripts/test.sh`))
    .map((language) => [`${language} SDK`, 'bash', [`sdks/${language}/scripts/test.sh`]]),
  // The polyglot shop's Python, Go and Rust services, with the linters the SDKs' scripts install.
  ['polyglot shop checks', 'bash', ['examples/polyglot/scripts/check.sh']],
  [
    'tests',
    'pnpm',
    [
      'exec',
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
      ...extraArgs,
    ],
  ],
  ['collector API fuzz', 'bash', ['packages/collector/scripts/schemathesis.sh']],
  ['package checks', 'pnpm', ['run', 'check:packages']],
];

let failedStep = null;
mkdirSync(suiteReports);
const env = { ...process.env, RACEWAY_TEST_REPORTS: suiteReports };
for (const [name, command, args] of steps) {
  console.log(`\n=== ${name}: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env });
  if (result.status !== 0) {
    failedStep = name;
    if (name !== 'tests') break;
  }
}

/** @type {Array<[string, { passed: number, failed: number, skipped: number }]>} */
const suites = [];
/**
 * What a failure message's first line says. vitest 3's JSON report gives a timed-out test (or
 * hook) the stack captured where it was declared, whose first line is "Error:
 * STACK_TRACE_ERROR" rather than the timeout's own message.
 */
function failureSummary(firstLine) {
  return firstLine === 'Error: STACK_TRACE_ERROR'
    ? 'timed out (the test or one of its hooks; its timeout is in the log above)'
    : firstLine;
}

/** The failed vitest tests, named again at the end: a CI log is often read from its tail. */
const failedTests = [];
try {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  for (const file of report.testResults) {
    for (const test of file.assertionResults) {
      if (test.status !== 'failed') continue;
      const firstLine = (test.failureMessages[0] ?? '').split('\n')[0];
      failedTests.push(`${file.name} > ${test.fullName}\n    ${failureSummary(firstLine)}`);
    }
  }
  suites.push([
    'vitest',
    {
      passed: report.numPassedTests,
      failed: report.numFailedTests,
      skipped: report.numPendingTests + report.numTodoTests,
    },
  ]);
} catch {
  // No report means the test step never ran; the failed step below says why.
}
for (const file of readdirSync(suiteReports).sort()) {
  suites.push([
    basename(file, '.json'),
    JSON.parse(readFileSync(join(suiteReports, file), 'utf8')),
  ]);
}
const total = { passed: 0, failed: 0, skipped: 0 };
for (const [, counts] of suites) {
  for (const key of /** @type {const} */ (['passed', 'failed', 'skipped']))
    total[key] += counts[key];
}

if (failedStep) console.error(`\nFAILED at step: ${failedStep}`);
for (const test of failedTests) console.error(`FAILED: ${test}`);
console.log(
  `\n${suites.map(([suite, c]) => `${suite} ${c.passed}/${c.failed}/${c.skipped}`).join(', ')} (passed/failed/skipped)`,
);
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(failedStep ? 1 : 0);
