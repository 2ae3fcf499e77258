// Sums vitest's JSON reports into one closing line, and names what failed or did not run.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let passed = 0;
let failed = 0;
let skipped = 0;
const problems = [];
const expected = ['unit-node20.json', 'unit-node24.json', 'integration.json'];
const seen = new Set();
for (const file of process.argv.slice(2)) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    problems.push(`${basename(file)}: no readable report`);
    continue;
  }
  seen.add(basename(file));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(`${basename(file, '.json').padEnd(14)} ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${report.numPendingTests} skipped`);
  for (const suite of report.testResults) {
    if (suite.status === 'failed' && suite.assertionResults.every((a) => a.status !== 'failed')) {
      problems.push(`${suite.name}: the file failed before its tests ran: ${(suite.message ?? '').split('\n')[0]}`);
      failed += 1;
    }
    for (const a of suite.assertionResults) if (a.status === 'failed') problems.push(`${basename(suite.name)} › ${a.fullName}`);
  }
}
for (const name of expected) if (!seen.has(name)) { problems.push(`${name}: DID NOT RUN`); failed += 1; }
// scripts/test.sh leaves <component>.not-run beside the reports when a component could not be
// installed (its first line is why); the tests needing it fail, and this says why up front.
const resultsDir = process.argv[2] ? dirname(process.argv[2]) : '.cache/results';
let notRun = [];
try {
  notRun = readdirSync(resultsDir).filter((name) => name.endsWith('.not-run'));
} catch {
  // No results directory: nothing was marked.
}
for (const name of notRun) {
  const reason = readFileSync(join(resultsDir, name), 'utf8').split('\n')[0];
  problems.push(`${basename(name, '.not-run').toUpperCase()} NOT RUN: ${reason}`);
  failed += 1;
}
if (problems.length > 0) {
  console.log('\n!! NOT PASSING:');
  for (const p of problems) console.log(`!!   ${p}`);
}
console.log(`\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
