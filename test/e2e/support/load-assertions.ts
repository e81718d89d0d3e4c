// Assertions on a load run shared by the end-to-end tests: every request sent was answered once,
// with the right state and no error.
import assert from 'node:assert/strict';

import type { LoadReport } from '../../../scripts/loadgen/load-generator.ts';

export function assertNoFault(report: LoadReport, label: string): void {
  const { totals } = report;
  const detail = JSON.stringify(report.faults.slice(0, 5));
  assert.equal(totals.sent, totals.scheduled, `${label}: every scheduled request was sent`);
  assert.equal(totals.lost, 0, `${label}: no request lost ${detail}`);
  assert.equal(totals.duplicates, 0, `${label}: no request answered twice ${detail}`);
  assert.equal(totals.wrongState, 0, `${label}: every reply carries the right count ${detail}`);
  assert.equal(totals.errors, 0, `${label}: no error reply ${detail}`);
}
